# This worker's slot of the master's scoreboard (docs/runtime-protocol.md §3, "Scoreboard"). Perl cannot map the
# memfd, so the slot is kept in a string and written whole at each request start and end, with pwrite(2) through
# `syscall` where syscall.ph knows it (one system call), else with a seek and a write on a descriptor of our own: the
# memfd reopened through /proc/self/fd, because the inherited one shares its file offset with the master and the
# other exec'd workers and a seek+write on it would race with theirs.
package Kaiser::Scoreboard;
use strict;
use warnings;

my $SYS_PWRITE = eval { require 'syscall.ph'; &SYS_pwrite64() };

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

sub reset { $_[0]->flush }
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
