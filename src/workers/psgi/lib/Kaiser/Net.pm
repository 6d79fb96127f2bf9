# Socket chores with Perl builtins only (fcntl, setsockopt, unpack), so the worker needs neither Socket nor IO::Handle
# (each ~1 MB of private memory per worker). The constants are Linux's, the same on x86-64 and arm64.
package Kaiser::Net;
use strict;

use constant {F_GETFL => 3, F_SETFL => 4, O_NONBLOCK => 04000, IPPROTO_TCP => 6, TCP_NODELAY => 1,
              AF_UNIX => 1, AF_INET => 2, AF_INET6 => 10};

sub nonblocking {
    my $fh = shift;
    my $flags = fcntl($fh, F_GETFL, 0) or return;
    fcntl($fh, F_SETFL, $flags | O_NONBLOCK);
}

sub nodelay { setsockopt($_[0], IPPROTO_TCP, TCP_NODELAY, 1) }

# A packed sockaddr (getsockname, accept) → (family: 'inet' | 'inet6' | 'unix', address, port).
sub sockaddr {
    my $sa = shift;
    return ('unix', '', '') unless defined $sa && length($sa) >= 2;
    my $family = unpack('S', $sa);
    if ($family == AF_INET) {
        return ('inet', join('.', unpack('C4', substr($sa, 4, 4))), unpack('n', substr($sa, 2, 2)));
    }
    if ($family == AF_INET6) {
        my $port = unpack('n', substr($sa, 2, 2));
        my $raw = substr($sa, 8, 16);
        return ('inet6', join('.', unpack('C4', substr($raw, 12, 4))), $port) if substr($raw, 0, 12) eq "\0" x 10 . "\xff\xff";
        my $text = join(':', map { sprintf('%x', $_) } unpack('n8', $raw));
        $text =~ s/(?:^|:)(?:0:){2,}/::/;   # the first run of zero groups, as inet_ntop would
        return ('inet6', $text, $port);
    }
    my $path = substr($sa, 2);
    $path =~ s/\0.*//s;
    return ('unix', $path, '');
}

1;
