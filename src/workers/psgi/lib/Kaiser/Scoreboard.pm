# This worker's slot of the master's scoreboard (docs/runtime-protocol.md §3, "Scoreboard"). Perl cannot map the
# memfd, so the slot is kept in a string and written whole at each request start and end, with pwrite(2) through
# `syscall` (one system call; its number is Linux x86-64's, checked by reading the slot back at start, as syscall.ph
# would cost ~3 MB per worker), else with a seek and a write on a descriptor of our own: the memfd reopened through
# /proc/self/fd, because the inherited one shares its file offset with the master and the other exec'd workers and a
# seek+write on it would race with theirs.
package Kaiser::Scoreboard;
use strict;

my $SYS_PWRITE;   # set once a probe write has been read back

sub new {
    my ($class, $fd, $offset, $threads) = @_;
    my $self = bless {offset => $offset, threads => $threads, requests => 0, exceptions => 0, tx => 0, running => 0,
                      accepting => 0, core_requests => 0, read_errors => 0, write_errors => 0, start => 0}, $class;
    if (defined $fd && length $fd) {
        open($self->{fh}, '+<', "/proc/self/fd/$fd") or open($self->{fh}, '+<&=', $fd) or delete $self->{fh};
        binmode($self->{fh}) if $self->{fh};
        $self->{fileno} = fileno($self->{fh}) if $self->{fh};
    }
    return $self;
}

sub flush {
    my $self = shift;
    my $fh = $self->{fh} or return;
    my $avg = $self->{requests} ? int($self->{running} / $self->{requests}) : 0;
    my $slot = pack('Q< Q< Q< Q< Q< L< x20 d< Q< L< L< x8', $self->{requests}, $self->{exceptions}, $self->{tx},
                    $self->{running}, $avg, $self->{accepting}, $self->{start}, $self->{core_requests},
                    $self->{read_errors}, $self->{write_errors});
    if (defined $SYS_PWRITE) {
        return if syscall($SYS_PWRITE, $self->{fileno}, $slot, length($slot), $self->{offset}) == length($slot);
        $SYS_PWRITE = undef;   # refused (seccomp, another ABI): fall back to seek + write
    }
    sysseek($fh, $self->{offset}, 0) and syswrite($fh, $slot) or delete $self->{fh};
}

# Zeroes the slot, finding out on the way whether pwrite(2) is syscall 18 here (x86-64): a pattern written with it
# must read back through the descriptor; anything else (another ABI, seccomp) keeps the seek+write path.
sub reset {
    my $self = shift;
    my $fh = $self->{fh} or return;
    my $probe = 'kaiser-probe' x 8;
    my $n = eval { syscall(18, $self->{fileno}, $probe, length($probe), $self->{offset}) } // -1;
    if ($n == length $probe) {
        my $back = '';
        sysseek($fh, $self->{offset}, 0) and sysread($fh, $back, length $probe);
        $SYS_PWRITE = 18 if $back eq $probe;
    }
    $self->flush;
}
sub set_accepting { $_[0]{accepting} = $_[1] ? 1 : 0; $_[0]->flush }
sub count_exception { $_[0]{exceptions}++; $_[0]->flush }
sub read_error { $_[0]{read_errors}++ }

# A request starts: its start time is what the master checks for harakiri.
sub begin {
    my ($self, $t) = @_;
    $self->{start} = $t;
    $self->{requests}++;       # counted as it starts, like the Python workers: stats read after a response see it
    $self->{core_requests}++;
    $self->flush;
}

sub end {
    my ($self, $us, $tx, $exception, $write_error) = @_;
    $self->{start} = 0;
    $self->{running} += $us;
    $self->{tx} += $tx;
    $self->{exceptions}++ if $exception;
    $self->{write_errors}++ if $write_error;
    $self->flush;
}

1;
