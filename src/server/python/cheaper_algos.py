"""The cheaper algorithms (`cheaper-algo`), each a small class whose `decide(sample)` answers as uWSGI's does (N > 0:
spawn up to N cheaped ids, -1: cheap one worker, 0: nothing). cheaper.py owns acting on the answer; this module is
imported only when a config turns cheaper on.

The algorithms, as uWSGI 2.0 has them (core/master_utils.c, plugins/cheaper_busyness):
  spare     all active workers busy for `cheaper-overload` checks in a row: spawn `cheaper-step`; with none busy but
            more than one idle, every `cheaper-overload` checks: cheap one, down to `cheaper`
  spare2    fewer idle workers than `cheaper`: spawn min(cheaper - idle, cheaper-step); more idle than `cheaper` for
            `cheaper-idle` checks: cheap one
  backlog   listen queue (TCP_INFO tcpi_unacked of the listening sockets, Linux) above `cheaper-overload`: spawn
            `cheaper-step`; below it: cheap one, down to `cheaper`
  manual    nothing by itself: the master FIFO's `+` and `-` add or stop one worker (they also override the others)
  busyness  an approximation of uWSGI's plugin: every `cheaper-overload` checks, the share of that period the active
            workers spent in requests (their scoreboard running time); above `cheaper-busyness-max` %: spawn
            `cheaper-step`; below `cheaper-busyness-min` % for `cheaper-busyness-multiplier` periods: cheap one; a
            listen queue above `cheaper-busyness-backlog-alert` spawns `cheaper-busyness-backlog-step` at once
"""
from .cheaper import CHECK_S


class Sample:
    """What one check sees: active (running, not cheaped) workers, how many of them are busy, cheaped ids, the
    listen queue, and the running time (µs) the active workers have accumulated (busyness)."""

    __slots__ = ('active', 'busy', 'cheaped', 'backlog', 'running_us')

    def __init__(self, active, busy, cheaped, backlog=0, running_us=0):
        self.active = active
        self.busy = busy
        self.cheaped = cheaped
        self.backlog = backlog
        self.running_us = running_us


class Algorithm:
    """One `cheaper-algo` over the cheaper Options `o`: `decide(sample)` once a check, answering N > 0 (spawn up to
    N cheaped ids), -1 (cheap one worker) or 0. The counters a subclass keeps between checks are class attributes
    holding their start value, which each instance overwrites as it counts."""

    def __init__(self, o):
        self.o = o

    def decide(self, s):
        raise NotImplementedError


class Spare(Algorithm):
    overload_count = 0      # all-busy checks, less one for each check with a free worker
    idle_count = 0          # checks with no overload and more than one spare worker since the last overload

    def decide(self, s):
        o = self.o
        if s.active > s.busy:          # a free worker: no overload (uWSGI stops at the first free one)
            if self.overload_count > 0:
                self.overload_count -= 1
        else:
            self.overload_count += 1
            self.idle_count = 0
        if self.overload_count >= o.overload:
            self.overload_count = 0
            return min(s.cheaped, o.step)
        if self.overload_count == 0:
            if s.active > s.busy and s.active - s.busy == 1:
                return 0                # stable: exactly one spare worker
            self.idle_count += 1
            if s.active > o.cheaper and self.idle_count % o.overload == 0:
                return -1
        return 0


class Spare2(Algorithm):
    idle_count = 0          # checks in a row with more idle workers than cheaper

    def decide(self, s):
        o = self.o
        idle = s.active - s.busy
        if idle < o.cheaper:
            self.idle_count = 0
            return min(o.cheaper - idle, s.cheaped, o.step)
        if idle == o.cheaper:
            self.idle_count = 0
            return 0
        self.idle_count += 1
        if self.idle_count < o.idle:
            return 0
        self.idle_count = 0
        return -1


class Backlog(Algorithm):
    def decide(self, s):
        o = self.o
        if s.backlog > o.overload:
            return min(s.cheaped, o.step)
        if s.backlog < o.overload and s.active > o.cheaper:
            return -1
        return 0


class Busyness(Algorithm):
    checks = 0              # checks into the current period
    low_periods = 0         # periods in a row below cheaper-busyness-min
    last_running_us = None  # the workers' running time at the start of the period (None: no period yet)

    def decide(self, s):
        o = self.o
        if s.backlog > o.backlog_alert and s.cheaped:
            self.low_periods = 0
            return min(s.cheaped, o.backlog_step)
        self.checks += 1
        if self.last_running_us is None or s.running_us < self.last_running_us:
            self.last_running_us = s.running_us      # first period, or a worker left: start over
            self.checks = 0
            return 0
        if self.checks < o.overload:
            return 0
        period_us = self.checks * CHECK_S * 1e6
        busy_pct = 100.0 * (s.running_us - self.last_running_us) / (period_us * max(1, s.active))
        self.checks = 0
        self.last_running_us = s.running_us
        if busy_pct > o.busyness_max:
            self.low_periods = 0
            return min(s.cheaped, o.step)
        if busy_pct < o.busyness_min and s.active > o.cheaper:
            self.low_periods += 1
            if self.low_periods >= o.multiplier:
                self.low_periods = 0
                return -1
        else:
            self.low_periods = 0
        return 0


class Manual(Algorithm):
    def decide(self, s):
        return 0                        # the master FIFO's + and - act instead


ALGOS = {'spare': Spare, 'spare2': Spare2, 'backlog': Backlog, 'busyness': Busyness, 'manual': Manual}
