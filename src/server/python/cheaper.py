"""Adaptive workers, uWSGI's cheaper subsystem: how many of the `processes` worker ids run, decided once a second.

Owns: the ids a (re)start spawns (`cheaper-initial`), the algorithms (`cheaper-algo`), each a small class whose
`decide(sample)` answers as uWSGI's does (N > 0: spawn up to N cheaped ids, -1: cheap one worker, 0: nothing), and
acting on the answer: a spawn takes the lowest cheaped ids; a cheap retires, gracefully (SIGHUP: in-flight requests
finish), the idle worker spawned longest ago. A worker id is *cheaped* when it is at most `processes`, has no primary
worker and no respawn is due (pool.py); stats show it with status "cheap" (stats.py).

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
from . import log
from . import worker_states as states
from .phase import RUNNING

CHECK_S = 1.0       # uWSGI's master_interval: the algorithms count checks, so one a second


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


class Options:
    """The cheaper options of one config with uWSGI's defaults."""

    def __init__(self, cfg):
        self.processes = cfg['processes']
        self.cheaper = cfg.get('cheaper') or 0
        self.algo = cfg.get('cheaper-algo') or 'spare'
        self.step = max(1, cfg.get('cheaper-step') or 1)
        self.overload = max(1, cfg.get('cheaper-overload') or 3)
        self.idle = max(1, cfg.get('cheaper-idle') or 10)
        initial = cfg.get('cheaper-initial') or self.cheaper
        self.initial = min(max(initial, self.cheaper), self.processes)
        self.busyness_max = cfg.get('cheaper-busyness-max') or 50
        self.busyness_min = cfg.get('cheaper-busyness-min') or 25
        self.multiplier = max(1, cfg.get('cheaper-busyness-multiplier') or 10)
        self.backlog_alert = cfg.get('cheaper-busyness-backlog-alert') or 33
        self.backlog_step = max(1, cfg.get('cheaper-busyness-backlog-step') or 1)


def problem(cfg):
    """Why this config's cheaper options cannot run (uWSGI refuses them at start too), or None."""
    o = Options(cfg)
    if not o.cheaper:
        return None
    if o.cheaper >= o.processes:
        return 'invalid cheaper value: must be lower than processes'
    if o.algo not in ALGOS:
        return 'unable to find requested cheaper algorithm "%s" (kaiser has %s)' % (o.algo, ', '.join(sorted(ALGOS)))
    return None


class Cheaper:
    def __init__(self, master):
        self.master = master
        self.options = None      # Options, when cheaper is on
        self.algo = None
        self.next_at = None
        self.fifo_delta = 0      # the master FIFO's + and - not acted on yet (uWSGI's cheaper_fifo_delta)

    def fifo(self, delta):
        """`+` / `-` on the master FIFO: one worker more or less at the next check (with cheaper only, as uWSGI)."""
        if self.options is not None:
            self.fifo_delta += delta

    def configure(self, cfg, now):
        o = Options(cfg)
        if not o.cheaper or problem(cfg):
            self.options = self.algo = self.next_at = None
            return
        self.options = o
        self.algo = ALGOS[o.algo](o)
        self.next_at = now + CHECK_S
        log.log('cheaper mode: %d to %d workers, algorithm %s, %d at first' % (o.cheaper, o.processes, o.algo,
                                                                             o.initial))

    def initial_ids(self, cfg):
        """The worker ids a start spawns: all of them, or the first `cheaper-initial` with cheaper."""
        o = Options(cfg)
        n = o.initial if o.cheaper and not problem(cfg) else o.processes
        return list(range(1, n + 1))

    def reload_ids(self, cfg):
        """The ids a reload starts: the ids running now (a reload keeps the capacity the load asked for), at least the
        first `cheaper-initial`, at most `processes`."""
        running = set(self.master.pool.slots)
        ids = set(self.initial_ids(cfg)) | {wid for wid in running if wid <= cfg['processes']}
        return sorted(ids)

    def deadlines(self):
        return [self.next_at] if self.next_at is not None else []

    # ── the check ───────────────────────────────────────────────────────────────────────────────
    def tick(self, now):
        if self.next_at is None or now < self.next_at:
            return
        self.next_at = now + CHECK_S
        master = self.master
        if master.phase != RUNNING or master.reloader.in_progress() or master.cheap_mode.is_cheap():
            return
        if self.fifo_delta:
            n, self.fifo_delta = self.fifo_delta, 0
        else:
            n = self.algo.decide(self.sample())
        if n > 0:
            self.spawn(n)
        else:
            for _ in range(-n):
                self.cheap_one()

    def sample(self):
        pool = self.master.pool
        active = busy = running = 0
        for wp in self.active_workers():
            active += 1
            if wp.busy():
                busy += 1
            running += wp.counters()[3]
        backlog = sum(l.queue()[0] for l in self.master.listeners)
        return Sample(active, busy, len(self.cheaped_ids()), backlog, running + _retired_running(pool))

    def active_workers(self):
        return [w for w in self.master.pool.slots.values() if w.state in (states.LOADING, states.READY)]

    def cheaped_ids(self):
        pool = self.master.pool
        return [wid for wid in range(1, self.master.cfg['processes'] + 1)
                if wid not in pool.slots and wid not in pool.respawn_at]

    def spawn(self, n):
        master = self.master
        for wid in self.cheaped_ids()[:n]:
            master.pool.spawn(wid, master.gen)

    def cheap_one(self):
        active = self.active_workers()
        idle = [w for w in active if w.state == states.READY and not w.busy()]
        if not idle or len(active) <= 1:
            return          # the last worker stays (no worker at all is cheap mode's, with its socket watch)
        totals = self.master.pool.totals_of
        oldest = min(idle, key=lambda w: (totals(w.id).last_spawn, w.id))
        log.log('cheaper: worker %d (pid: %s) is not needed now' % (oldest.id, oldest.pid))
        self.master.pool.retire(oldest, 'cheaper')


def _retired_running(pool):
    """Running time of the workers ids that are buried: kept per id in pool.totals, so the busyness sum does not drop
    when a worker is cheaped or recycled."""
    return sum(t.running for t in pool.totals.values())
