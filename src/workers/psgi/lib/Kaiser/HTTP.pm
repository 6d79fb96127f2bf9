# Request parsing for kaiser's PSGI worker: HTTP/1.x heads and bodies (Content-Length and chunked) and uwsgi packets,
# read from a connection's buffer without blocking. A parser returns undef until the whole request (head and body)
# is buffered, a hash {reject => 'STATUS'} for a request to refuse (400, 431), or the request: {env, body,
# keepalive, proto, vars, head_bytes}. The PSGI env is built here, from a per-listener template.
package Kaiser::HTTP;
use strict;

my %TEMPLATE_CACHE;
my %HKEY;   # header name → env key, cached

sub template {
    my ($l) = @_;
    return $TEMPLATE_CACHE{$l->{fd}} //= {
        SCRIPT_NAME => '', QUERY_STRING => '', SERVER_NAME => $l->{server_name}, SERVER_PORT => $l->{server_port},
        'psgi.version' => [1, 1], 'psgi.url_scheme' => 'http', 'psgi.errors' => \*STDERR,
        'psgi.multithread' => 0, 'psgi.run_once' => 0, 'psgi.nonblocking' => 0, 'psgi.streaming' => 1,
        'psgix.input.buffered' => 1, 'psgix.harakiri' => 1, 'psgix.cleanup' => 1,
    };
}

sub header_key {
    my $name = shift;
    return $HKEY{$name} //= do {
        (my $k = uc $name) =~ tr/-/_/;
        ($k eq 'CONTENT_TYPE' || $k eq 'CONTENT_LENGTH') ? $k : "HTTP_$k";
    };
}

sub unescape {
    my $s = shift;
    $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/eg;
    return $s;
}

sub parse_http {
    my ($c, $bufsize) = @_;
    my $req = $c->{pending};
    unless ($req) {
        $c->{buf} =~ s/\A(?:\r\n)+// if substr($c->{buf}, 0, 2) eq "\r\n";
        my $end = index($c->{buf}, "\r\n\r\n");
        if ($end < 0) {
            return length($c->{buf}) > $bufsize ? {reject => '431 Request Header Fields Too Large'} : undef;
        }
        return {reject => '431 Request Header Fields Too Large'} if $end > $bufsize;
        my $head = substr($c->{buf}, 0, $end);
        my @lines = split /\r\n/, $head;
        my ($method, $uri, $proto) = (shift(@lines) // '') =~ m{^([A-Za-z-]+) (\S+) (HTTP/1\.[0-9])$}
            or return {reject => '400 Bad Request'};
        my %env = %{template($c->{l})};
        my $vars = 0;
        for my $line (@lines) {
            my $i = index($line, ':');
            return {reject => '400 Bad Request'} if $i <= 0 || substr($line, $i - 1, 1) =~ /\s/;
            my $key = $HKEY{substr($line, 0, $i)} // header_key(substr($line, 0, $i));
            my $val = substr($line, $i + 1);
            $val =~ s/^[ \t]+|[ \t]+$//g;
            if (exists $env{$key} && $key =~ /^HTTP_/) {
                $env{$key} .= ($key eq 'HTTP_COOKIE' ? '; ' : ', ') . $val;
            } else {
                $env{$key} = $val;
            }
            $vars++;
        }
        my $path = $uri;
        if (substr($path, 0, 1) ne '/') {
            if ($path =~ m{^https?://[^/]*(/.*)?$}) { $path = $1 // '/' }
            elsif ($path ne '*') { return {reject => '400 Bad Request'} }
        }
        my $q = index($path, '?');
        if ($q >= 0) {
            $env{QUERY_STRING} = substr($path, $q + 1);
            $path = substr($path, 0, $q);
        }
        $env{PATH_INFO} = index($path, '%') >= 0 ? unescape($path) : $path;
        $env{REQUEST_METHOD} = $method;
        $env{REQUEST_URI} = $uri;
        $env{SERVER_PROTOCOL} = $proto;
        $env{REMOTE_ADDR} = $c->{remote};
        $env{REMOTE_PORT} = $c->{rport};
        my $conn = lc($env{HTTP_CONNECTION} // '');
        my $keep = $proto eq 'HTTP/1.1' ? index($conn, 'close') < 0 : index($conn, 'keep-alive') >= 0;
        $req = {env => \%env, proto => $proto, keepalive => $keep, vars => $vars, head_bytes => $end + 4, pos => $end + 4};
        if (defined(my $te = $env{HTTP_TRANSFER_ENCODING})) {
            return {reject => '400 Bad Request'} if lc($te) ne 'chunked' || defined $env{CONTENT_LENGTH};
            $req->{chunked} = 1;
            $req->{body} = '';
        } elsif (defined(my $cl = $env{CONTENT_LENGTH})) {
            return {reject => '400 Bad Request'} unless $cl =~ /^\s*(\d+)\s*$/;
            $req->{length} = $1 + 0;
        } else {
            $req->{length} = 0;
        }
        $c->{pending} = $req;
        if (($req->{chunked} || $req->{length}) && lc($env{HTTP_EXPECT} // '') eq '100-continue'
            && length($c->{buf}) <= $req->{pos}) {
            Kaiser::Response::write_all($c->{fh}, "HTTP/1.1 100 Continue\r\n\r\n", 4);
        }
    }
    if ($req->{chunked}) {
        # decode as far as the buffer goes; resume next time from pos
        while (1) {
            my $le = index($c->{buf}, "\r\n", $req->{pos});
            return undef if $le < 0;
            my ($hex) = substr($c->{buf}, $req->{pos}, $le - $req->{pos}) =~ /^\s*([0-9A-Fa-f]+)/
                or do { delete $c->{pending}; return {reject => '400 Bad Request'} };
            my $size = hex $hex;
            if ($size == 0) {
                # trailers (if any) end with an empty line
                my $after = $le + 2;
                return undef if length($c->{buf}) < $after + 2;
                my $stop;
                if (substr($c->{buf}, $after, 2) eq "\r\n") { $stop = $after + 2 }
                else {
                    my $t = index($c->{buf}, "\r\n\r\n", $after);
                    return undef if $t < 0;
                    $stop = $t + 4;
                }
                substr($c->{buf}, 0, $stop, '');
                last;
            }
            return undef if length($c->{buf}) < $le + 2 + $size + 2;
            $req->{body} .= substr($c->{buf}, $le + 2, $size);
            $req->{pos} = $le + 2 + $size + 2;
        }
        $req->{env}{CONTENT_LENGTH} = length $req->{body};
        delete $req->{env}{HTTP_TRANSFER_ENCODING};
    } else {
        return undef if length($c->{buf}) < $req->{pos} + $req->{length};
        $req->{body} = $req->{length} ? substr($c->{buf}, $req->{pos}, $req->{length}) : '';
        substr($c->{buf}, 0, $req->{pos} + $req->{length}, '');
    }
    delete $c->{pending};
    return $req;
}

# uwsgi packet: u8 modifier1, u16le size, u8 modifier2, then u16le-prefixed key/value pairs; the body follows.
sub parse_uwsgi {
    my ($c, $bufsize) = @_;
    my $req = $c->{pending};
    unless ($req) {
        return undef if length($c->{buf}) < 4;
        my ($m1, $size, $m2) = unpack('C v C', $c->{buf});
        return {reject => 'uwsgi packet too large'} if $size > $bufsize;
        return undef if length($c->{buf}) < 4 + $size;
        my %env = %{template($c->{l})};
        my $pos = 4;
        my $end = 4 + $size;
        my $vars = 0;
        while ($pos < $end) {
            my $kl = unpack('v', substr($c->{buf}, $pos, 2));
            my $k = substr($c->{buf}, $pos + 2, $kl);
            $pos += 2 + $kl;
            my $vl = unpack('v', substr($c->{buf}, $pos, 2));
            $env{$k} = substr($c->{buf}, $pos + 2, $vl);
            $pos += 2 + $vl;
            $vars++;
            return {reject => 'invalid uwsgi packet'} if $pos > $end;
        }
        $env{REMOTE_ADDR} //= $c->{remote};
        $env{REQUEST_METHOD} //= 'GET';
        $env{SERVER_PROTOCOL} //= 'HTTP/1.0';
        unless (defined $env{PATH_INFO}) {
            my ($p) = split /\?/, ($env{REQUEST_URI} // '/'), 2;
            $env{PATH_INFO} = unescape($p);
        }
        $env{REQUEST_URI} //= $env{PATH_INFO} . (length $env{QUERY_STRING} ? "?$env{QUERY_STRING}" : '');
        delete @env{qw(HTTP_CONTENT_TYPE HTTP_CONTENT_LENGTH)};
        my $len = ($env{CONTENT_LENGTH} // '') =~ /^(\d+)$/ ? $1 : 0;
        $req = {env => \%env, proto => $env{SERVER_PROTOCOL}, keepalive => 0, vars => $vars, head_bytes => $end,
                pos => $end, length => $len, uwsgi => 1};
        $c->{pending} = $req;
    }
    return undef if length($c->{buf}) < $req->{pos} + $req->{length};
    $req->{body} = $req->{length} ? substr($c->{buf}, $req->{pos}, $req->{length}) : '';
    substr($c->{buf}, 0, $req->{pos} + $req->{length}, '');
    delete $c->{pending};
    return $req;
}

1;
