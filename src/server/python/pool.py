"""The master's workers: who they are, which one holds each worker id, and what their exits mean.

Owns: spawning a worker into its slot (worker id → its primary WorkerProc), the per-id totals that outlive a worker
(uWSGI's per-worker stats survive respawns), the status messages workers send (one handler per `act`), what an exit
means in each state of worker_states.py, crash respawn with its 1 s throttle, the load-failure backoff, the timed
watch (mercy deadlines, the limits of worker_limits.py, due respawns), and freeing the scoreboards of generations no worker
uses any more. Reloads (reload.py) and stops (shutdown.py) drive it through `spawn`, `retire` and `kill`. Workers
of a generation with a zygote (zygote.py) are asked of it: such a worker is `pending` (no pid, keyed by
`WorkerProc.key()`) until the zygote forked it (`bind`); its messages and its exit come through the zygote's pipe.
"""
import _signal as signal
import os
import time

from . import log
from . import worker_limits
from . import worker_states as states
from .nonblocking import exited_children
from .phase import STARTING, STOPPING
from .worker_proc import WorkerProc, spawn_worker

CRASH_THROTTLE_S = 1.0      # a worker dying within this of its spawn is respawned only after this long
LOAD_BACKOFF_MAX_S = 30


class WorkerTotals:
    """What one worker id did across the lives of its workers, plus respawn count and time."""

    __slots__ = ('requests', 'exceptions', 'tx', 'running', 'harakiri', 'respawns', 'last_spawn')

    def __init__(self):
        self.requests = self.exceptions = self.tx = self.running = 0
        self.harakiri = self.respawns = 0
        self.last_spawn = 0.0

    def add(self, counters):
        """Adds a buried worker's scoreboard counters (requests, exceptions, tx, running time, …)."""
        requests, exceptions, tx, running = counters[:4]
        self.requests += requests
        self.exceptions += exceptions
        self.tx += tx
        self.running += running


class WorkerPool:
    def __init__(self, master):
        self.master = master
        self.workers = {}        # pid → WorkerProc, every live worker of every generation
        self.slots = {}          # worker id → its primary WorkerProc (the one stats show and crashes respawn)
        self.totals = {}         # worker id → WorkerTotals
        self.respawn_at = {}     # worker id → monotonic time of a delayed respawn
        self.backoff = {}        # worker id → seconds of the last load-failure delay
        self.generations = []    # older generations whose scoreboards are freed once no worker uses them
        self.zygotes = None      # Zygotes (zygote.py), from the first generation forked by a zygote (issue 17)

    # ── starting and stopping workers ───────────────────────────────────────────────────────────
    def spawn(self, wid, gen, replaces=None):
        master = self.master
        if gen.forked_by_zygote:
            wp = WorkerProc(wid, gen, gen.sb.take(), None, None)
            self.workers[wp.key()] = wp
            if self.zygotes is None:
                from .zygote import Zygotes
                self.zygotes = Zygotes(self)
            self.zygotes.spawn(wp)
        else:
            wp = spawn_worker(wid, gen, master.master_fds(), master.life_r, self.load_nice(gen, replaces))
            self.workers[wp.pid] = wp
            master.loop.add(wp.status_fd, lambda: self.on_status(wp))
        self.slots[wid] = wp
        wp.replaces = replaces
        totals = self.totals_of(wid)
        totals.respawns += 1
        totals.last_spawn = time.time()
        return wp

    def load_nice(self, gen, replaces):
        """How much lower a new worker's priority is while it loads: `load-nice` for a planned replacement (a
        reload's new generation, a recycled worker's successor) while another worker accepts, so that the loading
        one does not take the CPU from those serving; else 0 (a first start, a crash respawn or a cheaper spawn
        restores capacity that is missing: it loads at full speed)."""
        by = gen.cfg.get('load-nice') or 0
        if not by or (replaces is None and gen is not self.master.reloader.generation()):
            return 0
        if any(w.state == states.READY for w in self.workers.values()):
            return by
        return 0

    def bind(self, wp, pid):
        """A zygote forked pending worker `wp` as `pid`: from now on it is seen and signalled by pid."""
        self.workers.pop(wp.key(), None)
        wp.pid = pid
        self.workers[pid] = wp
        log.log('spawned uWSGI worker %d (pid: %d, cores: %d) from the %s zygote (pid: %d)' % (
            wp.id, pid, wp.gen.threads, wp.gen.kind.name, wp.zygote.pid))
        if wp.termination is not None:
            wp.termination.bind(pid)

    def drop_pending(self):
        """Stopping: workers no zygote has forked yet are forgotten (the zygotes exit with the master)."""
        for key in [k for k, w in self.workers.items() if w.pid is None]:
            w = self.workers.pop(key)
            w.zygote.pending.pop(w.slot, None)     # forked all the same, it is killed on its `spawned`

    def forget_forked(self):
        """Brutal stop: the workers zygotes forked were SIGKILLed; their zygotes exit (EOF on their control pipe) and
        the master, which cannot reap grandchildren, stops waiting for them."""
        for key in [k for k, w in self.workers.items() if w.zygote is not None]:
            del self.workers[key]
        for z in self.zygotes.by_pid.values() if self.zygotes is not None else ():
            z.retire()

    def retire(self, wp, reason):
        """Graceful: SIGHUP (stop accepting, finish in-flight requests, exit), SIGKILL after worker-reload-mercy."""
        if not wp.apply(states.RETIRE):
            return
        wp.reason = reason
        self.release_slot(wp)
        wp.terminate(signal.SIGHUP, _mercy(wp))

    def kill(self, wp):
        """Forced: SIGKILL now, planned (its exit is not a crash)."""
        if wp.apply(states.KILL):
            wp.kill()

    def release_slot(self, wp):
        if self.slots.get(wp.id) is wp:
            del self.slots[wp.id]

    def totals_of(self, wid):
        totals = self.totals.get(wid)
        if totals is None:
            totals = self.totals[wid] = WorkerTotals()
        return totals

    def of_generation(self, gen):
        return [w for w in self.workers.values() if w.gen is gen]

    def generation_ready(self, gen):
        return all(w.state == states.READY for w in self.of_generation(gen))

    def status_fds(self):
        """The pipes from workers and zygotes (no child keeps them)."""
        fds = [w.status_fd for w in self.workers.values() if w.status_fd is not None]
        return fds + self.zygotes.fds() if self.zygotes is not None else fds

    # ── status messages ─────────────────────────────────────────────────────────────────────────
    def on_status(self, wp):
        msgs, eof = wp.read_status()
        for msg in msgs:
            self.handle(wp, msg)
        if eof:
            self.close_status(wp)

    def handle(self, wp, msg):
        """One status message of worker `wp`."""
        act = msg.get('act') if isinstance(msg, dict) else None
        handler = ACTS.get(act)
        if handler is None:
            log.log('worker %d (pid: %s) sent an unknown message %r: ignored' % (wp.id, wp.pid, act))
            return
        handler(self, wp, msg)

    def close_status(self, wp):
        if wp.status_fd is not None:
            self.master.loop.remove(wp.status_fd)
            os.close(wp.status_fd)
            wp.status_fd = None

    def _on_loaded(self, wp, msg):
        pass

    def _on_load_failed(self, wp, msg):
        wp.error = msg.get('error') or 'unknown error'

    def _on_accepting(self, wp, msg):
        if not wp.apply(states.ACCEPTING):
            return
        self.backoff.pop(wp.id, None)
        if wp.replaces is not None:
            self.retire(wp.replaces, 'recycled')
            wp.replaces = None
        master = self.master
        if master.reloader.on_worker_ready(wp):
            return
        if master.phase == STARTING and wp.gen is master.gen and self.generation_ready(master.gen):
            master.on_started()

    def _on_first_request(self, wp, msg):
        self.master.on_first_request()

    def _on_harakiri(self, wp, msg):
        # an ASGI worker cancelled a request that ran past harakiri itself (asgi/server.py): counted as a kill is
        self.totals_of(wp.id).harakiri += 1

    def _on_retiring(self, wp, msg):
        # The worker retired itself (max-requests): it no longer accepts, so its replacement starts now.
        if wp.state != states.READY:
            return
        wp.apply(states.RETIRE)
        wp.reason = msg.get('reason')
        wp.terminate(None, _mercy(wp))
        master = self.master
        if self.slots.get(wp.id) is wp and master.phase != STOPPING:
            del self.slots[wp.id]
            if wp.gen is master.gen:
                self.spawn(wp.id, master.gen)

    # ── exits ───────────────────────────────────────────────────────────────────────────────────
    def reap(self):
        for pid, status in exited_children():
            wp = self.workers.pop(pid, None)
            if wp is not None:
                self.on_exit(wp, status)
            elif not self.master.daemons.on_exit(pid, status) and not self.master.cron.on_exit(pid, status) \
                    and self.zygotes is not None:
                self.zygotes.on_exit(pid, status)

    def on_exit(self, wp, status):
        if wp.status_fd is not None:
            self.on_status(wp)      # its last words (load-failed, accepting) may still be in the pipe
            self.close_status(wp)
        code = os.waitstatus_to_exitcode(status)
        self.totals_of(wp.id).add(wp.counters())
        wp.gen.sb.give_back(wp.slot)
        primary = self.slots.get(wp.id) is wp
        if primary:
            del self.slots[wp.id]
        self.free_generations()
        master = self.master
        if master.phase == STOPPING:
            log.log('worker %d buried after %d seconds' % (wp.id, int(time.time() - wp.spawned)))
            if not self.workers:
                master.finish_stop()
            return
        EXITS[wp.state](self, wp, code, primary)

    def _exited_loading(self, wp, code, primary):
        err = wp.error or 'worker exited with status %s before loading the app' % code
        master = self.master
        if master.reloader.owns(wp):
            return master.reloader.abort(err)
        if master.phase == STARTING:
            return master.on_first_load_failed(err)
        if wp.replaces is not None and wp.replaces.pid in self.workers:
            self.slots[wp.id] = wp.replaces   # the worker it was to replace keeps serving
            log.log('worker %d failed to load the app, keeping pid %d:\n%s' % (wp.id, wp.replaces.pid, err))
            return
        delay = min(self.backoff.get(wp.id, 0.5) * 2, LOAD_BACKOFF_MAX_S)
        self.backoff[wp.id] = delay
        log.log('worker %d failed to load the app; respawning in %d seconds:\n%s' % (wp.id, delay, err))
        self.respawn_at[wp.id] = time.monotonic() + delay

    def _exited_ready(self, wp, code, primary):
        log.log('DAMN ! worker %d (pid: %s) died :( trying respawn ...' % (wp.id, wp.pid))
        self._respawn_crashed(wp, primary)

    def _exited_harakiri(self, wp, code, primary):
        self._respawn_crashed(wp, primary)

    def _respawn_crashed(self, wp, primary):
        master = self.master
        if primary and wp.gen is master.gen and wp.id <= master.cfg['processes']:
            if time.time() - wp.spawned < CRASH_THROTTLE_S:
                log.log('worker respawning too fast !!! i have to sleep a bit (1 seconds)...')
                self.respawn_at[wp.id] = time.monotonic() + CRASH_THROTTLE_S
            else:
                self.spawn(wp.id, master.gen)
        elif primary and not master.reloader.in_progress():
            self.spawn(wp.id, master.gen)

    def _exited_retiring(self, wp, code, primary):
        log.log('worker %d (pid: %s) retired (%s), exit %s' % (wp.id, wp.pid, wp.reason or 'graceful', code))

    def _exited_killed(self, wp, code, primary):
        pass

    def free_generations(self):
        keep = {self.master.gen, self.master.reloader.generation()}
        keep.update(w.gen for w in self.workers.values())
        for gen in list(self.generations):
            if gen not in keep:
                if gen.zygote is not None:
                    gen.zygote.retire()
                gen.sb.close()
                self.generations.remove(gen)

    # ── the timed watch ─────────────────────────────────────────────────────────────────────────
    def check(self, now, wall):
        """Mercy deadlines, the limits of worker_limits.py and due respawns (the master's tick)."""
        master = self.master
        for w in list(self.workers.values()):
            if w.state == states.RETIRING and w.termination is not None and w.termination.overdue(now):
                log.log('worker %d (pid: %s) did not finish in time: killing it' % (w.id, w.pid))
                self.kill(w)
                continue
            worker_limits.check(self, w, wall)
        for wid, at in list(self.respawn_at.items()):
            if now >= at:
                del self.respawn_at[wid]
                if master.phase != STOPPING and wid not in self.slots and wid <= master.cfg['processes']:
                    self.spawn(wid, master.gen)

    def deadlines(self):
        out = [w.termination.deadline for w in self.workers.values()
               if w.termination is not None and not w.termination.killed]
        out += self.respawn_at.values()
        return out


def _mercy(wp):
    return wp.gen.cfg.get('worker-reload-mercy') or 60


ACTS = {
    'loaded': WorkerPool._on_loaded,
    'load-failed': WorkerPool._on_load_failed,
    'accepting': WorkerPool._on_accepting,
    'first-request': WorkerPool._on_first_request,
    'harakiri': WorkerPool._on_harakiri,
    'retiring': WorkerPool._on_retiring,
}

EXITS = {
    states.LOADING: WorkerPool._exited_loading,
    states.READY: WorkerPool._exited_ready,
    states.RETIRING: WorkerPool._exited_retiring,
    states.HARAKIRI: WorkerPool._exited_harakiri,
    states.KILLED: WorkerPool._exited_killed,
}
