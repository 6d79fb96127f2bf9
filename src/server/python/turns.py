"""Whose turn it is among the request cores of one worker (`threads` > 1): leader/follower over one epoll.

Why: two cores each waiting on the listeners made a connection arriving while one core served a request wake the
other, which then waited for the GIL the first held — a wake-up and a GIL hand-off per connection, for nothing when
requests are short. And a core that accepted several connections before their requests arrived owned them all: a
request that blocked in the app held the others while the worker's other core idled.

Now one epoll per worker (`Shared.ep`) holds the listeners (EPOLLEXCLUSIVE across workers) and every connection (one-
shot: exactly one core reads it; core.py arms it again after), and only the leader polls it, one event at a time (an
event polled with one whose request blocks would wait behind it). A follower sleeps on its `Watch`: a one-shot
watch of that epoll (work waiting) and the sweep tick; it takes the turn when the leader has been in one request
TAKEOVER_S (blocked in the app, or descheduled). The old leader finishes its request and follows.

    leader ──(in one request TAKEOVER_S, seen by a follower)──► follower     (after that request)
    follower ──(took the turn)──► leader

Under load a follower looks at the leader at most every LOOK_S (the watch is disarmed between looks); an idle worker
wakes no follower but for the sweep tick.

That serves one request at a time per worker until one runs TAKEOVER_S, which costs an app whose requests wait a few
milliseconds each (a database, a backend) half its throughput: with `time.sleep(0.002)` per request, 538 requests/s
against 974 for cores that each poll (load 8). So the worker measures how long its requests wait off the CPU (wall
time minus the thread's CPU time over WAIT_S, a moving average of the share of requests: `note`); past EAGER every
core polls the epoll (`Shared.eager`), and below LAZY they take turns again. Only one request in SAMPLE_MASK + 1 is
timed: the thread's CPU time is a system call (clock_gettime(CLOCK_THREAD_CPUTIME_ID), no vDSO; 2.8 µs a call
in a loop on the bench machine, a VM), and a share is estimated as well from a sample.

    turns ──(share of requests that waited > EAGER)──► eager ──(< LAZY)──► turns
"""
import select
import struct
import time

EPOLLIN = select.EPOLLIN
ONESHOT = select.EPOLLONESHOT
BUSY_SINCE = struct.Struct('<d')   # the first field of a core's scoreboard entry: when its request began, 0.0 idle
TAKEOVER_S = 0.005    # a follower takes the turn from a leader that has been in one request this long
WAIT_S = 0.0005       # a request off the CPU this long waited (on a database, a backend; or was descheduled)
EAGER = 0.5           # the share of requests that waited that makes the cores poll together ...
LAZY = 0.25           # ... until it falls below this
SAMPLE_MASK = 7       # requests whose number & SAMPLE_MASK is 0 are timed for `note` (one in 8)
LOOK_S = 0.02         # a follower that found the leader making progress looks again after this long (at most about
                      # 50 wake-ups a second under load: each costs a GIL hand-off)


class Shared:
    """What the cores of one worker share: the epoll over its listeners and connections, the connections, and whose
    turn it is to poll (a core index)."""

    def __init__(self):
        self.ep = select.epoll()
        self.conns = {}
        self.leader = 0
        self.waiting = 0.0          # a moving average of the share of requests that waited (WAIT_S)
        self.eager = False          # True: requests wait, so every core polls (none waits for a turn)


def note(shared, wall, cpu):
    """One request (one in SAMPLE_MASK + 1) took `wall` seconds, `cpu` of them on the CPU: the cores poll together
    while most requests wait (on a database, a backend: concurrency pays) and take turns while they compute (it costs
    GIL hand-offs). A share, not a mean of the time: on a busy machine one request in a few is descheduled for
    milliseconds."""
    x = shared.waiting = shared.waiting * 0.875 + (0.125 if wall - cpu > WAIT_S else 0.0)
    if shared.eager:
        if x < LAZY:
            shared.eager = False
    elif x > EAGER:
        shared.eager = True


class Watch:
    """A follower's wait: an epoll over the worker's epoll (one-shot) and the wake pipe."""

    def __init__(self, core):
        self.core = core
        self.ep = select.epoll()
        self.ep.register(core.ep.fileno(), EPOLLIN | ONESHOT)
        self.ep.register(core.w.wake_r, EPOLLIN)
        self.look_at = 0.0          # the next look at the leader (monotonic); 0.0: the watch is armed
        self.seen = 0.0             # the start of the leader's request at the last look

    def close(self):
        self.ep.close()

    def arm(self):
        """Watches the worker's epoll again."""
        self.look_at = 0.0
        try:
            self.ep.modify(self.core.ep.fileno(), EPOLLIN | ONESHOT)
        except OSError:
            pass

    def follow(self, timeout):
        """Waits until the watch fires (the worker's epoll has work), the next look is due or `timeout` (the sweep
        tick, a log flush) -> the events seen. Takes the turn when the leader has been in one request TAKEOVER_S;
        otherwise looks again when that could be true (the request it saw last) or LOOK_S later (the leader moved
        on), or watches again (the leader is idle)."""
        core = self.core
        w = core.w
        if core.shared.eager:
            return ()
        if self.look_at:
            timeout = max(0.0, min(timeout, self.look_at - time.monotonic()))
        try:
            events = self.ep.poll(timeout)
        except InterruptedError:
            return ()
        fired = False
        for fd, ev in events:
            if fd == w.wake_r:
                if not core.stopping:
                    core.begin_stop()
                try:
                    self.ep.unregister(fd)
                except (OSError, ValueError):
                    pass
            else:
                fired = True
        now = time.monotonic()
        shared = core.shared
        if shared.eager:
            return events
        since = BUSY_SINCE.unpack_from(core.mm, w.cores[shared.leader].core_off)[0]
        busy = time.time() - since if since else -1.0
        if busy >= TAKEOVER_S:
            shared.leader = core.idx
            self.look_at = 0.0
            return events
        if not fired and not (self.look_at and now >= self.look_at):
            return events                       # the sweep tick, a log flush: the watch stays as it is
        if busy >= 0 and (fired or since == self.seen):
            self.look_at = now + TAKEOVER_S - busy      # the leader's request: look again when it would be stuck
        elif fired or busy >= 0:
            self.look_at = now + LOOK_S                 # the leader took the work, or is on a new request
        else:
            self.arm()                                  # the leader is idle: watch for work again
        self.seen = since
        return events
