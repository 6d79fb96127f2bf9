# Running the PSGI app for one request and writing its response: array bodies, filehandle and getline bodies,
# streaming (delayed) responses with a writer, 500 for an app that dies or returns garbage, HEAD, framing
# (Content-Length when the length is known, chunked for HTTP/1.1 streams, close otherwise), psgix.cleanup
# handlers, psgix.harakiri.commit, the scoreboard and the request log line. Writes block the worker (up to
# socket-timeout per stalled write), as the response of the one request being served is all there is to do.
package Kaiser::Response;
use strict;
use Time::HiRes ();

# The reason phrases: the table the Rack worker reads too (../shared/http-reasons.txt beside the workers).
my %REASON = _read_reasons((__FILE__ =~ s{[^/]+\z}{}r) . '../../../shared/http-reasons.txt');

sub _read_reasons {
    my $file = shift;
    open(my $fh, '<', $file) or die "cannot read the HTTP reason phrases from $file: $!\n";
    my %reason = map { /^(\d{3}) (.+?)\s*$/ ? ($1 => $2) : () } <$fh>;
    close $fh;
    die "no HTTP reason phrases in $file\n" unless %reason;
    return %reason;
}

sub reason { $REASON{$_[0]} // 'Unknown' }

my $NOTHING = '';
open(our $EMPTY, '<', \$NOTHING) or die "cannot open an in-memory handle: $!";

# Writes all of $data, waiting for the socket (at most $timeout s per stall). Dies 'client gone' on failure.
sub write_all {
    my ($fh, $data, $timeout) = @_;
    my $off = 0;
    my $len = length $data;
    while ($off < $len) {
        my $n = syswrite($fh, $data, $len - $off, $off);
        if (defined $n) { $off += $n; next }
        die "client gone: $!\n" unless $!{EAGAIN} || $!{EINTR};
        my $win = '';
        vec($win, fileno($fh), 1) = 1;
        die "client gone: write timeout\n" unless select(undef, my $wout = $win, undef, $timeout) > 0;
    }
}

sub reject {
    my ($c, $status, $timeout) = @_;
    return if $status !~ /^\d/;   # uwsgi garbage: just close
    my $body = substr($status, 4);
    eval { write_all($c->{fh}, "HTTP/1.1 $status\r\nContent-Type: text/plain\r\nContent-Length: " . length($body)
                                . "\r\nConnection: close\r\n\r\n$body", $timeout) };
}

# Serves one request; returns true to keep the connection.
sub serve {
    my ($ctx, $app, $c, $req) = @_;
    my $env = $req->{env};
    my $body = $req->{body};
    my $in;
    if (length $body) { open($in, '<', \$body) }
    else { $in = $EMPTY; seek($in, 0, 0) }   # most requests have no body: one shared handle at EOF
    $env->{'psgi.input'} = $in;
    $env->{'psgi.multiprocess'} = $ctx->{multiprocess};
    $env->{'psgix.cleanup.handlers'} = [];
    $env->{'psgix.logger'} = \&_logger;
    my $t0 = Time::HiRes::time();
    $ctx->{sb}->begin($t0);
    my $r = {c => $c, ctx => $ctx, env => $env, proto => $req->{proto}, keep => $req->{keepalive}, http => !$req->{uwsgi},
             head_only => $env->{REQUEST_METHOD} eq 'HEAD', body_bytes => 0, resp_head_bytes => 0, headers => 0,
             status => 0, exception => 0, write_error => 0, vars => $req->{vars}, head_bytes => $req->{head_bytes}};
    my $res = eval { $app->($env) };
    if (my $err = $@) {
        _fail($r, $err);
    } elsif (ref $res eq 'ARRAY') {
        _respond($r, $res);
    } elsif (ref $res eq 'CODE') {
        my $ok = eval {
            $res->(sub {
                my $resp = shift;
                die "the responder needs [status, headers] or [status, headers, body]\n" unless ref $resp eq 'ARRAY' && @$resp >= 2;
                return _respond($r, $resp) if @$resp >= 3;
                return _start_stream($r, $resp);
            });
            1;
        };
        _fail($r, $@) unless $ok;
        _finish_stream($r) if $r->{streaming} && !$r->{closed};
    } else {
        _fail($r, 'the app returned ' . (defined $res ? (ref $res || "'$res'") : 'undef') . ", not an array ref or a code ref\n");
    }
    for my $h (@{$env->{'psgix.cleanup.handlers'}}) {
        eval { $h->($env); 1 } or _log_exception($r, "psgix.cleanup handler: $@");
    }
    my $t1 = Time::HiRes::time();
    $r->{msecs} = int(($t1 - $t0) * 1000);
    $r->{start} = $t0;
    $ctx->{sb}->end(int(($t1 - $t0) * 1e6), $r->{body_bytes} + $r->{resp_head_bytes}, $r->{exception}, $r->{write_error});
    $ctx->{log}->($r);
    if ($env->{'psgix.harakiri.commit'}) { $r->{keep} = 0; $ctx->{harakiri} = 1 }
    return $r->{keep} && !$r->{write_error} && !$r->{broken};
}

sub _logger {
    my $msg = shift;
    print STDERR "[psgi] $msg->{level}: $msg->{message}\n";
}

sub _log_exception {
    my ($r, $err) = @_;
    $r->{exception} = 1;
    $err =~ s/\s+\z//;
    print STDERR "[psgi] exception in $r->{env}{REQUEST_METHOD} $r->{env}{REQUEST_URI} (pid: $$): $err\n";
}

sub _fail {
    my ($r, $err) = @_;
    $err = "$err" if ref $err;
    _log_exception($r, $err);
    if ($r->{sent}) { $r->{broken} = 1; return }   # half a response went out: only closing tells the client
    $r->{keep} = 0;
    _respond($r, [500, ['Content-Type' => 'text/plain'], ['Internal Server Error']]);
}

# The head: status line, app headers, framing. $length = body length when known, else undef.
sub _head {
    my ($r, $status, $headers, $length) = @_;
    my $has_len = 0;
    my $head = "$r->{proto} $status " . reason($status) . "\r\n";
    my $n = 0;
    for (my $i = 0; $i < @$headers; $i += 2) {
        my ($k, $v) = ($headers->[$i], $headers->[$i + 1] // '');
        my $lk = lc $k;
        if ($lk eq 'content-length' || $lk eq 'transfer-encoding') { $has_len = 1 }
        elsif ($lk eq 'connection' && lc($v) eq 'close') { $r->{keep} = 0 }
        $v =~ s/[\r\n]+/ /g;   # no header splitting through a value
        $head .= "$k: $v\r\n";
        $n++;
    }
    $r->{headers} = $n;
    $r->{status} = $status;
    $r->{no_body} = 1 if $status < 200 || $status == 204 || $status == 304 || $r->{head_only};
    if ($r->{http}) {
        if (!$has_len && !($status < 200 || $status == 204 || $status == 304)) {
            if (defined $length) { $head .= "Content-Length: $length\r\n" }
            elsif ($r->{proto} eq 'HTTP/1.1' && !$r->{head_only}) { $head .= "Transfer-Encoding: chunked\r\n"; $r->{chunked} = 1 }
            elsif (!$r->{head_only}) { $r->{keep} = 0 }
        }
        if (!$r->{keep}) { $head .= "Connection: close\r\n" if $r->{proto} eq 'HTTP/1.1' }
        elsif ($r->{proto} eq 'HTTP/1.0') { $head .= "Connection: keep-alive\r\n" }
    }
    $head .= "\r\n";
    $r->{resp_head_bytes} = length $head;
    $r->{sent} = 1;
    return $head;
}

sub _write {
    my ($r, $data) = @_;
    return if $r->{write_error};
    eval { write_all($r->{c}{fh}, $data, $r->{ctx}{timeout}); 1 } or do { $r->{write_error} = 1; $r->{keep} = 0 };
}

sub _respond {
    my ($r, $res) = @_;
    my ($status, $headers, $body) = @$res;
    unless (defined $status && $status =~ /^\d{3}$/ && ref $headers eq 'ARRAY') {
        return _fail($r, "invalid PSGI response: status " . ($status // 'undef') . ", headers " . (ref $headers || 'not an array ref') . "\n");
    }
    if (ref $body eq 'ARRAY') {
        my $data = join '', map { defined $_ ? $_ : '' } @$body;
        utf8::downgrade($data, 1) or return _fail($r, "the response body has wide characters: encode it to bytes\n");
        my $head = _head($r, $status, $headers, length $data);
        if ($r->{no_body}) { _write($r, $head) }
        else { $r->{body_bytes} = length $data; _write($r, $head . $data) }
        return;
    }
    if (defined $body && (ref $body eq 'GLOB' || (ref $body && UNIVERSAL::can($body, 'getline')))) {
        my $length;
        if (ref $body eq 'GLOB' || UNIVERSAL::can($body, 'fileno')) {
            my $fd = eval { fileno($body) };
            if (defined $fd && $fd >= 0 && -f $body) {
                my $pos = eval { tell($body) } // 0;
                $length = (-s $body) - ($pos > 0 ? $pos : 0);
            }
        }
        my $head = _head($r, $status, $headers, $length);
        _write($r, $head);
        my $ok = eval {
            local $/ = \65536;
            while (defined(my $chunk = ref $body eq 'GLOB' ? readline($body) : $body->getline)) {
                next unless length $chunk;
                last if $r->{no_body} || $r->{write_error};
                $r->{body_bytes} += length $chunk;
                _write($r, $r->{chunked} ? sprintf("%x\r\n%s\r\n", length $chunk, $chunk) : $chunk);
            }
            1;
        };
        my $err = $@;
        eval { ref $body eq 'GLOB' ? close($body) : $body->close };
        if (!$ok) { _log_exception($r, $err); $r->{broken} = 1; return }
        _write($r, "0\r\n\r\n") if $r->{chunked};
        return;
    }
    return _fail($r, "invalid PSGI response body: " . (ref $body || (defined $body ? "'$body'" : 'undef')) . "\n");
}

package Kaiser::Response::Writer;

sub write {
    my ($self, $data) = @_;
    my $r = $self->{r};
    die "write() after close()\n" if $r->{closed};
    return unless defined $data && length $data;
    utf8::downgrade($data, 1) or die "wide characters in write(): encode them to bytes\n";
    return if $r->{no_body};
    $r->{body_bytes} += length $data;
    Kaiser::Response::_write($r, $r->{chunked} ? sprintf("%x\r\n%s\r\n", length $data, $data) : $data);
}

sub close {
    my $self = shift;
    Kaiser::Response::_finish_stream($self->{r});
}

sub poll_cb {
    my ($self, $cb) = @_;
    $cb->($self);
}

package Kaiser::Response;

sub _start_stream {
    my ($r, $resp) = @_;
    my ($status, $headers) = @$resp;
    unless (defined $status && $status =~ /^\d{3}$/ && ref $headers eq 'ARRAY') {
        die "invalid PSGI response: status " . ($status // 'undef') . "\n";
    }
    _write($r, _head($r, $status, $headers, undef));
    $r->{streaming} = 1;
    return bless {r => $r}, 'Kaiser::Response::Writer';
}

sub _finish_stream {
    my $r = shift;
    return if $r->{closed};
    $r->{closed} = 1;
    _write($r, "0\r\n\r\n") if $r->{chunked};
}

1;
