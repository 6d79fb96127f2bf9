# A small JSON decoder for KAISER_CONFIG (objects, arrays, strings with escapes, numbers, true/false/null). The worker
# loads no CPAN-style modules it can do without: each one costs every worker process its memory (JSON::PP alone
# adds ~2 MB of private memory per process).
package Kaiser::JSON;
use strict;

sub decode {
    my ($text) = @_;
    my $pos = 0;
    my $v = _value(\$text, \$pos);
    _ws(\$text, \$pos);
    die "trailing characters at $pos\n" if $pos < length $text;
    return $v;
}

sub _ws { my ($t, $p) = @_; pos($$t) = $$p; $$t =~ /\G[ \t\r\n]*/gc; $$p = pos($$t) }

sub _value {
    my ($t, $p) = @_;
    _ws($t, $p);
    pos($$t) = $$p;
    if ($$t =~ /\G\{/gc) {
        $$p = pos($$t);
        my %h;
        _ws($t, $p);
        if (substr($$t, $$p, 1) eq '}') { $$p++; return \%h }
        while (1) {
            _ws($t, $p);
            die "expected a string key at $$p\n" unless substr($$t, $$p, 1) eq '"';
            my $k = _string($t, $p);
            _ws($t, $p);
            die "expected : at $$p\n" unless substr($$t, $$p++, 1) eq ':';
            $h{$k} = _value($t, $p);
            _ws($t, $p);
            my $c = substr($$t, $$p++, 1);
            return \%h if $c eq '}';
            die "expected , or } at $$p\n" unless $c eq ',';
        }
    }
    if ($$t =~ /\G\[/gc) {
        $$p = pos($$t);
        my @a;
        _ws($t, $p);
        if (substr($$t, $$p, 1) eq ']') { $$p++; return \@a }
        while (1) {
            push @a, _value($t, $p);
            _ws($t, $p);
            my $c = substr($$t, $$p++, 1);
            return \@a if $c eq ']';
            die "expected , or ] at $$p\n" unless $c eq ',';
        }
    }
    return _string($t, $p) if substr($$t, $$p, 1) eq '"';
    if ($$t =~ /\G(true|false|null)/gc) { $$p = pos($$t); return $1 eq 'true' ? 1 : $1 eq 'false' ? 0 : undef }
    if ($$t =~ /\G(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/gc) { $$p = pos($$t); return $1 + 0 }
    die "unexpected character at $$p\n";
}

my %ESC = ('"' => '"', '\\' => '\\', '/' => '/', b => "\b", f => "\f", n => "\n", r => "\r", t => "\t");

sub _string {
    my ($t, $p) = @_;
    pos($$t) = $$p + 1;
    my $out = '';
    while (1) {
        if ($$t =~ /\G([^"\\]+)/gc) { $out .= $1; next }
        if ($$t =~ /\G"/gc) { $$p = pos($$t); return $out }
        if ($$t =~ /\G\\u([0-9a-fA-F]{4})/gc) {
            my $cp = hex $1;
            if ($cp >= 0xD800 && $cp < 0xDC00 && $$t =~ /\G\\u([0-9a-fA-F]{4})/gc) { $cp = 0x10000 + ($cp - 0xD800) * 0x400 + (hex($1) - 0xDC00) }
            my $c = chr($cp);
            utf8::encode($c);   # the text is bytes (UTF-8 from the environment): add the escape's bytes
            $out .= $c;
            next;
        }
        if ($$t =~ /\G\\(.)/gc) { $out .= $ESC{$1} // die "bad escape \\$1\n"; next }
        die "unterminated string\n";
    }
}

sub encode_string {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    $s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord $1)/ge;
    return qq("$s");
}

1;
