#!/usr/bin/perl
# kaiser's PSGI worker: `perl dist/workers/psgi/worker.pl`, exec'd by the Python master with the worker contract
# of docs/runtime-protocol.md §3 (KAISER_LISTEN_FDS, KAISER_STATUS_FD, KAISER_LIFE_FD, KAISER_SCOREBOARD_FD/OFFSET,
# KAISER_CONFIG). Plain Perl with Time::HiRes alone: every module loaded here costs each worker process its private
# memory (POSIX, JSON::PP, Socket, IO::Poll and syscall.ph together ~5 MB), so sockets, poll and JSON are done with
# builtins (accept, getsockname, setsockopt, 4-arg select, fcntl) and Kaiser::JSON. Plack is not needed.
#
# One process, one event loop (select(2)) over the inherited listening sockets, the client connections and the life
# pipe. A request is read without blocking (head and whole body, so a slow client never holds the worker), then the
# app runs inline and the response is written. Keep-alive and pipelining on HTTP/1.x; the uwsgi protocol (nginx
# uwsgi_pass) answers raw HTTP and closes, as uWSGI does. Perl has no threads worth the name here: one request at a
# time per worker, on scoreboard core 0.
#
# Sequence: parse the contract → chdir, env → load the app (`do FILE`, must return a code ref) → {"act":"loaded"}
# → accept → scoreboard accepting=1 → {"act":"accepting"}. Any failure before that is load-failed + exit 22.
# Signals: SIGHUP graceful (stop accepting, take what is queued, finish, close idle keep-alive connections after
# 0.5 s, exit 0); SIGTERM/SIGINT exit 0 at once; life-pipe EOF: exit 1 at once. max-requests: retire by itself.
#
# As a zygote (KAISER_ZYGOTE=1, docs/runtime-protocol.md §3, src/server/python/zygote.py): the same load, then
# {"act":"loaded"} and a loop that forks a worker for each `spawn ID SLOT OFFSET` line on KAISER_CONTROL_FD and
# reports each reaped worker ({"act":"exited"}); a forked worker says {"act":"spawned"} and serves as above. Every
# message then carries the sender's pid (zygote and workers share one status pipe). Control EOF or life EOF: exit.
use strict;
use Time::HiRes ();
BEGIN { my $d = __FILE__; $d =~ s{/[^/]*$}{}; unshift @INC, "$d/lib" }
use Kaiser::JSON ();
use Kaiser::Net ();
use Kaiser::HTTP ();
use Kaiser::Scoreboard ();
use Kaiser::Response ();

use constant STOP_GRACE => 0.5;

my $WORKER_ID = $ENV{KAISER_WORKER_ID} || 1;
my $SB_OFFSET = $ENV{KAISER_SCOREBOARD_OFFSET} || 0;
my $ZYGOTE = ($ENV{KAISER_ZYGOTE} // '') eq '1';
my $status_fh;
my $LOG_BUF = '';

sub logline { my $l = shift; $l .= "\n" unless $l =~ /\n\z/; syswrite(STDERR, $l) }
sub send_status {
    my $msg = shift;
    return unless $status_fh;
    $msg = {%$msg, pid => $$} if $ZYGOTE;
    syswrite($status_fh, '{' . join(',', map { Kaiser::JSON::encode_string($_) . ':' . Kaiser::JSON::encode_string($msg->{$_}) } sort keys %$msg) . "}\n");
}
sub load_failed {
    my $err = shift;
    logline($err);
    send_status({act => 'load-failed', error => $err});
    exit 22;
}
sub flush_log { if (length $LOG_BUF) { syswrite(STDERR, $LOG_BUF); $LOG_BUF = '' } }

# ── the contract ─────────────────────────────────────────────────────────────────────────────────────────────────
if (defined $ENV{KAISER_STATUS_FD} && length $ENV{KAISER_STATUS_FD}) {
    open($status_fh, '>&=', $ENV{KAISER_STATUS_FD}) or die "KAISER_STATUS_FD $ENV{KAISER_STATUS_FD}: $!\n";
}
my $cfg = eval { length($ENV{KAISER_CONFIG} // '') ? Kaiser::JSON::decode($ENV{KAISER_CONFIG}) : {} };
load_failed("KAISER_CONFIG is not valid JSON: $@") unless ref $cfg eq 'HASH';
my $life_fd = $ENV{KAISER_LIFE_FD};

my @listeners;
for my $item (split /,/, $ENV{KAISER_LISTEN_FDS} // '') {
    next unless length $item;
    my ($fd, $proto) = split /:/, $item, 2;
    $proto ||= 'http';
    load_failed("KAISER_LISTEN_FDS: unsupported protocol $proto on fd $fd") unless $proto eq 'http' || $proto eq 'uwsgi';
    open(my $fh, '+<&=', $fd) or load_failed("KAISER_LISTEN_FDS: fd $fd is not open ($!)");
    load_failed("KAISER_LISTEN_FDS: fd $fd is not a socket") unless -S $fh;
    Kaiser::Net::nonblocking($fh);
    my ($family, $sname, $sport) = Kaiser::Net::sockaddr(getsockname($fh));
    push @listeners, {fh => $fh, fd => $fd, uwsgi => $proto eq 'uwsgi', server_name => $sname, server_port => "$sport",
                      tcp => $family ne 'unix'};
}
load_failed('no listening socket: KAISER_LISTEN_FDS is empty') unless @listeners;

# ── load the app ─────────────────────────────────────────────────────────────────────────────────────────────────
if ($cfg->{chdir}) { chdir $cfg->{chdir} or load_failed("chdir($cfg->{chdir}): $!") }
if (ref $cfg->{env} eq 'HASH') { $ENV{$_} = $cfg->{env}{$_} // '' for keys %{$cfg->{env}} }
my $psgi = $cfg->{psgi} or load_failed('no psgi given: nothing to load');
my $began = time;
my $app = do {
    my $file = $psgi =~ m{^/} ? $psgi : "./$psgi";   # `do` searches @INC for a bare relative name
    load_failed("unable to find PSGI file $psgi: no such file") unless -f $file;
    local $0 = $file;
    my $got = do {
        package main;
        no strict;
        do $file;
    };
    load_failed("unable to load PSGI file $psgi: $@") if $@;
    load_failed("unable to load PSGI file $psgi: $!") if !defined $got && $!;
    $got;
};
unless (ref $app eq 'CODE' || (ref $app && eval { \&$app })) {
    load_failed("unable to load PSGI file $psgi: it must return a code ref (the PSGI app), not " . (defined $app ? (ref $app || "'$app'") : 'undef'));
}
logline(sprintf("PSGI app 0 (%s) loaded in %d seconds at %s (interpreter 1)", $psgi, time - $began, $app));
send_status({act => 'loaded'});
fork_workers() if $ZYGOTE;   # returns in each forked worker

# The zygote's loop: forks a worker per `spawn ID SLOT OFFSET` line and returns in it; reports reaped workers.
sub fork_workers {
    my $ctl_fd = $ENV{KAISER_CONTROL_FD};
    open(my $ctl, '<&=', $ctl_fd) or load_failed("KAISER_CONTROL_FD $ctl_fd: $!");
    pipe(my $chld_r, my $chld_w) or load_failed("pipe: $!");
    Kaiser::Net::nonblocking($_) for $chld_r, $chld_w;
    my $life_z;
    if (defined $life_fd && length $life_fd) { open($life_z, '<&=', $life_fd) or undef $life_z }
    local $SIG{CHLD} = sub { syswrite($chld_w, 'c') };
    $SIG{HUP} = $SIG{TERM} = $SIG{INT} = sub { exit 0 };
    my $pending = '';
    while (1) {
        my $rin = '';
        vec($rin, fileno($_), 1) = 1 for grep { defined } $ctl, $chld_r, $life_z;
        # Woken once a second even with nothing to read: Perl runs a %SIG handler between ops (deferred signals), so
        # a SIGCHLD that comes after the last op and before select() enters the kernel writes to the self-pipe only
        # once select returns; without a timeout that worker's exit goes unreported until the next control line (the
        # likely cause of a CI run under load where the master waited past 20 s for a max-requests worker's exit).
        # Every wake reaps.
        my $n = select(my $rout = $rin, undef, undef, 1);
        sysread($chld_r, my $junk, 4096) if $n > 0 && vec($rout, fileno($chld_r), 1);
        while ((my $pid = waitpid(-1, 1)) > 0) {   # 1: WNOHANG (POSIX.pm is not loaded, see above)
            send_status({act => 'exited', worker => $pid, status => $?});
        }
        next if $n <= 0;
        exit 1 if $life_z && vec($rout, fileno($life_z), 1);
        next unless vec($rout, fileno($ctl), 1);
        my $got = sysread($ctl, my $data, 4096);
        next if !defined $got && ($!{EAGAIN} || $!{EINTR});
        exit 0 unless $got;   # the generation is over (or the master gone)
        $pending .= $data;
        while ($pending =~ s/\A([^\n]*)\n//) {
            my ($cmd, $id, $slot, $offset) = split ' ', $1;
            next unless ($cmd // '') eq 'spawn';
            my $pid = fork;
            next if $pid;
            load_failed("fork: $!") unless defined $pid;
            # the worker: the zygote's pipes and handlers are not its own
            $SIG{CHLD} = 'DEFAULT';
            close($_) for $ctl, $chld_r, $chld_w;
            ($WORKER_ID, $SB_OFFSET) = ($id, $offset);
            send_status({act => 'spawned', slot => $slot});
            return;
        }
    }
}

my $sb = Kaiser::Scoreboard->new($ENV{KAISER_SCOREBOARD_FD}, $SB_OFFSET, $cfg->{threads} || 1);
$sb->reset;

# ── serving ──────────────────────────────────────────────────────────────────────────────────────────────────────
my %conns;               # fd → connection
my $stopping = 0;        # graceful stop under way
my $stop_time = 0;
my $hup = 0;
my $requests = 0;
my $loyal = 0;
my $max_requests = $cfg->{'max-requests'} || 0;
my $timeout = $cfg->{'socket-timeout'} || 4;
my $bufsize = $cfg->{'buffer-size'} || 4096;
my $logging = !$cfg->{'disable-logging'};
my $multiprocess = ($cfg->{processes} || 1) > 1 ? 1 : 0;
my $ctx = {sb => $sb, timeout => $timeout, log => \&request_log, multiprocess => $multiprocess, pid => $$,
           exception => \&app_exception};

$SIG{HUP} = sub { $hup = 1 };
$SIG{TERM} = $SIG{INT} = sub { flush_log(); exit 0 };
$SIG{PIPE} = 'IGNORE';

$sb->set_accepting(1);
send_status({act => 'accepting'});

sub app_exception {
    my ($req, $err) = @_;
    $sb->count_exception;
    logline("[psgi] exception in $req->{env}{REQUEST_METHOD} $req->{env}{REQUEST_URI} (pid: $$): $err");
}

sub request_log {
    my ($r) = @_;
    return unless $logging;
    my $when = scalar localtime($r->{start});   # uWSGI's %a %b %e %H:%M:%S %Y
    $LOG_BUF .= sprintf("[pid: %d|app: 0|req: %d/%d] %s () {%d vars in %d bytes} [%s] %s %s => generated %d bytes in %d msecs (%s %d) %d headers in %d bytes (1 switches on core 0)\n",
        $$, $requests, $requests, $r->{env}{REMOTE_ADDR} // '', $r->{vars}, $r->{head_bytes}, $when, $r->{env}{REQUEST_METHOD},
        $r->{env}{REQUEST_URI}, $r->{body_bytes}, $r->{msecs}, $r->{env}{SERVER_PROTOCOL}, $r->{status}, $r->{headers}, $r->{resp_head_bytes});
    flush_log() if length $LOG_BUF > 65536;
}

sub accept_one {
    my $l = shift;
    my $fh;
    my $peer = accept($fh, $l->{fh}) or return 0;
    Kaiser::Net::nonblocking($fh);
    my ($raddr, $rport) = ('', '');
    if ($l->{tcp}) {
        Kaiser::Net::nodelay($fh);
        (undef, $raddr, $rport) = Kaiser::Net::sockaddr($peer);
    }
    my $c = {fh => $fh, fd => fileno($fh), buf => '', l => $l, remote => $raddr, rport => "$rport", last => now()};
    $conns{$c->{fd}} = $c;
    return 1;
}

sub now { Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC()) }   # monotonic, fractional seconds

sub close_conn {
    my $c = shift;
    delete $conns{$c->{fd}};
    close($c->{fh});
}

sub begin_stop {
    return if $stopping;
    $stopping = 1;
    $stop_time = now();
    $sb->set_accepting(0);
    # an EPOLLEXCLUSIVE-style wakeup may have gone to us alone: take what is queued before we stop listening
    for my $l (@listeners) {
        for (1 .. 1024) { last unless accept_one($l) }
    }
    close($_->{fh}) for @listeners;
    @listeners = ();
}

sub retire_max_requests {
    logline("worker $WORKER_ID (pid: $$): reached max-requests ($max_requests), recycling");
    send_status({act => 'retiring', reason => 'max-requests'});
    begin_stop();
}

# One readable connection: read what is there, serve every complete request in the buffer.
sub on_readable {
    my $c = shift;
    my $n = sysread($c->{fh}, my $data, 65536);
    if (!defined $n) {
        return if $!{EAGAIN} || $!{EINTR};
        $sb->read_error;
        return close_conn($c);
    }
    return close_conn($c) if $n == 0;
    $c->{buf} .= $data;
    $c->{last} = now();
    while (length $c->{buf}) {
        my $req = $c->{l}{uwsgi} ? Kaiser::HTTP::parse_uwsgi($c, $bufsize) : Kaiser::HTTP::parse_http($c, $bufsize);
        return unless $req;                       # incomplete: wait for more bytes
        if ($req->{reject}) {
            Kaiser::Response::reject($c, $req->{reject}, $timeout);
            logline("worker $WORKER_ID (pid: $$): rejected request from " . ($c->{remote} || 'unix') . " ($req->{reject})");
            return close_conn($c);
        }
        $req->{keepalive} = 0 if $stopping;
        if ($max_requests && $requests + 1 >= $max_requests && !$stopping) {
            retire_max_requests();
            $req->{keepalive} = 0;
        }
        $requests++;
        my $keep = Kaiser::Response::serve($ctx, $app, $c, $req);
        if (!$loyal) { $loyal = 1; send_status({act => 'first-request'}) }
        if ($ctx->{harakiri} && !$stopping) {
            # psgix.harakiri.commit: the app asked for this worker to go once the response is out
            send_status({act => 'retiring', reason => 'psgix.harakiri.commit'});
            begin_stop();
        }
        $c->{last} = now();
        return close_conn($c) unless $keep;
        return unless exists $conns{$c->{fd}};
    }
}

my $life;
if (defined $life_fd && length $life_fd) { open($life, '<&=', $life_fd) or undef $life }

my $next_sweep = now() + 1;
while (1) {
    if ($hup) { $hup = 0; logline("gracefully stopping worker $WORKER_ID (pid: $$)"); begin_stop() }
    my $rin = '';
    vec($rin, $_->{fd}, 1) = 1 for @listeners;
    vec($rin, $_, 1) = 1 for keys %conns;
    vec($rin, $life_fd, 1) = 1 if $life;
    my $wait = length($LOG_BUF) || $stopping ? 0.1 : 1.0;
    my $n = select(my $rout = $rin, undef, undef, $wait);
    if ($n > 0) {
        for my $fd (keys %conns) { on_readable($conns{$fd}) if vec($rout, $fd, 1) && $conns{$fd} }
        if ($life && vec($rout, $life_fd, 1)) {
            flush_log();
            logline('UAAAAAAH my master disconnected: i will kill myself !!!');
            exit 1;
        }
        unless ($stopping) {
            for my $l (@listeners) { accept_one($l) if vec($rout, $l->{fd}, 1) }
        }
    }
    flush_log() if length $LOG_BUF && ($n <= 0 || length $LOG_BUF > 3072);
    my $t = now();
    if ($stopping || $t >= $next_sweep) {
        $next_sweep = $t + 1;
        for my $c (values %conns) {
            my $idle = $t - ($stopping && $c->{last} < $stop_time ? $stop_time : $c->{last});
            close_conn($c) if ($stopping && !length $c->{buf} && $idle >= STOP_GRACE) || $idle >= $timeout;
        }
        if ($stopping && !%conns) {
            flush_log();
            logline("worker $WORKER_ID (pid: $$) finished its requests, goodbye");
            exit 0;
        }
    }
}
