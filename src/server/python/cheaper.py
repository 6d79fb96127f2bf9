"""Adaptive workers, uWSGI's cheaper subsystem: how many of the `processes` worker ids run, decided once a second.

Owns: the ids a (re)start spawns (`cheaper-initial`), the check once a second that asks the `cheaper-algo`
(cheaper_algos.py: N > 0: spawn up to N cheaped ids, -1: cheap one worker, 0: nothing), and acting on the answer:
a spawn takes the lowest cheaped ids; a cheap retires, gracefully (SIGHUP: in-flight requests finish), the idle
worker spawned longest ago. A worker id is *cheaped* when it is at most `processes`, has no primary
worker and no respawn is due (pool.py); stats show it with status "cheap" (stats.py).

The algorithms live in cheaper_algos.py, imported only by a config that turns cheaper on (issue 17: importing them
cost a master ~20 kB of private memory, which counts whole in a 1-worker vassal).
"""
from . import log
from . import worker_states as states
from .phase import RUNNING

CHECK_S = 1.0       # uWSGI's master_interval: the algorithms count checks, so one a second


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
    from .cheaper_algos import ALGOS
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
        from .cheaper_algos import ALGOS
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
        from .cheaper_algos import Sample
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
