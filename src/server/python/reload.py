"""Graceful reload: workers on the new config start next to the old ones, and an old worker retires only once its
replacement accepts; a replacement that fails to load aborts the reload and the old workers serve on.

Owns: the Reload in progress (the generation being started, its mode, the old workers still to retire, the worker
ids still to start, the sockets it bound), the exchange with the emperor (byte 2 asks for the newest config, the
emperor answers with a 115 config packet and byte 1; after 2 s without an answer the master reloads with what it
has), a reload asked for during another (queued: the latest wins), finishing (the master switches to the new
generation, sockets and config) and aborting (rollback). docs/runtime-protocol.md §4 describes the sequence.
"""
import time

from . import config as _config
from . import dormant
from . import log
from . import sockets
from . import worker_states as states
from .phase import STARTING, STOPPING
from .record import Record
from .worker_proc import Generation

CHAIN = 'chain'     # one old worker retires as each replacement accepts: one extra worker's memory at most
ALL = 'all'         # every old worker retires once every replacement accepts: all switch at the same moment
MODES = (CHAIN, ALL)
CONFIG_WAIT_S = 2.0


class Reload:
    """One reload in progress. Both modes start the new workers one after another: N interpreters importing the
    app at once would take the CPU from the workers still serving (measured: a 61-73 ms pause on 2 cores)."""

    __slots__ = ('gen', 'mode', 'new_listeners', 'old_by_id', 'to_start')

    def __init__(self, gen, mode, new_listeners, old_by_id, to_start):
        self.gen = gen                       # the Generation being started
        self.mode = mode                     # CHAIN or ALL
        self.new_listeners = new_listeners   # sockets bound for it (closed again on abort)
        self.old_by_id = old_by_id           # worker id → the old worker it replaces (chain retires them one by one)
        self.to_start = to_start             # worker ids not spawned yet, in order


class ReloadRequest(Record):
    """A reload to run once the current one is over (or once the master is running)."""

    __slots__ = ('cfg', 'mode')


class ConfigWait(Record):
    """The master asked the emperor for its config (byte 2) and reloads when it comes, or at `deadline`."""

    __slots__ = ('mode', 'deadline')


class Reloader:
    def __init__(self, master):
        self.master = master
        self.current = None          # Reload
        self.queued = None           # ReloadRequest
        self.config_wait = None      # ConfigWait
        self.pending_cfg = None      # the config of the emperor's last 115 packet, applied by its next byte 1

    def in_progress(self):
        return self.current is not None

    def owns(self, wp):
        return self.current is not None and wp.gen is self.current.gen

    def generation(self):
        return self.current.gen if self.current is not None else None

    def listeners(self):
        return self.current.gen.listeners if self.current is not None else []

    # ── asking ──────────────────────────────────────────────────────────────────────────────────
    def request(self, mode):
        """SIGHUP, a touched file or the FIFO: under an emperor, ask it for the newest config first."""
        master = self.master
        if master.phase == STOPPING or self.exit_instead():
            return
        if master.emperor is None:
            return self.start(master.cfg, mode)
        if self.config_wait is None:
            master.emperor.request_config()
        self.config_wait = ConfigWait(mode, time.monotonic() + CONFIG_WAIT_S)

    def on_config(self, cfg):
        self.pending_cfg = cfg

    def on_emperor_reload(self):
        log.log('received message 1 from emperor')
        mode = self.config_wait.mode if self.config_wait is not None else None
        self.config_wait = None
        cfg = self.pending_cfg or self.master.cfg
        self.pending_cfg = None
        self.start(cfg, mode)

    def check(self, now):
        wait = self.config_wait
        if wait is not None and now >= wait.deadline:
            self.config_wait = None
            log.log('no config from the emperor within 2 seconds: reloading with the current one')
            self.start(self.pending_cfg or self.master.cfg, wait.mode)

    def deadlines(self):
        return [self.config_wait.deadline] if self.config_wait is not None else []

    # ── running ─────────────────────────────────────────────────────────────────────────────────
    def exit_instead(self):
        """exit-on-reload: a reload stops the master gracefully (exit 0) instead; True when it did. Under an emperor
        the vassal is then started again, with its newest config, as uWSGI's emperor does."""
        master = self.master
        if not master.cfg.get('exit-on-reload'):
            return False
        log.log('uWSGI: GAME OVER (insert coin)')
        master.graceful_stop()
        return True

    def start(self, cfg, mode=None):
        master = self.master
        if master.phase == STOPPING or self.exit_instead():
            return
        mode = mode or cfg.get('reload-mode') or CHAIN
        if self.current is not None or master.phase == STARTING:
            self.queued = ReloadRequest(cfg, mode)
            return
        log.log('...gracefully reloading workers (%s)...' % mode)
        bad = dormant.cheaper_problem(cfg)
        if bad:
            log.log('reload failed: %s' % bad)
            if master.emperor is not None:
                master.emperor.event({'event': 'reload-failed', 'error': bad})
            return
        try:
            listeners, new = sockets.bind_all(_config.socket_specs(cfg), cfg, master.listeners)
            gen = Generation(cfg, listeners)
        except Exception as e:
            log.log('reload failed: cannot bind the sockets: %s' % e)
            if master.emperor is not None:
                master.emperor.event({'event': 'reload-failed', 'error': 'bind: %s' % e})
            return
        pool = master.pool
        old = {w.id: w for w in pool.of_generation(master.gen) if w.state in (states.READY, states.LOADING)}
        # cheaper: the ids running now (at least cheaper-initial); in cheap mode none: it stays cheap on the new sockets
        ids = [] if master.cheap_mode.is_cheap() else master.cheaper.reload_ids(cfg)
        self.current = Reload(gen, mode, new, old, ids[1:])
        pool.generations.append(gen)
        if not ids:
            return self.finish()
        pool.spawn(ids[0], gen)

    def on_worker_ready(self, wp):
        """A worker accepts; True when it belongs to this reload (then the reload decides what comes next)."""
        r = self.current
        if r is None or wp.gen is not r.gen:
            return False
        pool = self.master.pool
        if r.mode == CHAIN:
            old = r.old_by_id.pop(wp.id, None)
            if old is not None:
                log.log('chain reload: worker %d (pid: %s) replaced by pid %d' % (wp.id, old.pid, wp.pid))
                pool.retire(old, 'reload')
        if r.to_start:
            pool.spawn(r.to_start.pop(0), r.gen)
        elif pool.generation_ready(r.gen):
            self.finish()
        return True

    def finish(self):
        r = self.current
        self.current = None
        master = self.master
        pool = master.pool
        old_gen = master.gen
        master.gen = r.gen
        for w in list(pool.workers.values()):
            if w.gen is not r.gen and w.state in (states.READY, states.LOADING):
                pool.retire(w, 'reload')
        keep = {l.fd for l in r.gen.listeners}
        vacuum = bool(master.cfg.get('vacuum'))
        for l in master.listeners:
            if l.fd not in keep:
                l.close(vacuum=vacuum)
        master.listeners = r.gen.listeners
        old_cfg = master.cfg
        master.cfg = r.gen.cfg
        if old_gen not in pool.generations:
            pool.generations.append(old_gen)
        master.configure(master.cfg, old_cfg)
        pool.free_generations()
        log.log('*** graceful reload done: %d new workers accepting ***' % len(pool.of_generation(r.gen)))
        if master.emperor is not None:
            master.emperor.accepting()
            master.emperor.event({'event': 'reloaded'})
        self.run_queued()

    def abort(self, err):
        r = self.current
        self.current = None
        master = self.master
        pool = master.pool
        for w in pool.of_generation(r.gen):
            if w.state == states.LOADING:
                pool.kill(w)
                pool.release_slot(w)
        for w in pool.of_generation(master.gen):
            if w.state == states.READY:
                if r.mode == CHAIN:
                    pool.slots.setdefault(w.id, w)   # replacements that already took over keep serving
                else:
                    pool.slots[w.id] = w
        keep = {l.fd for l in master.listeners}
        for l in r.new_listeners:
            if l.fd not in keep:
                l.close(vacuum=True)
        log.log('!!! reload failed, the old workers keep serving !!!\n%s' % err.rstrip())
        if master.emperor is not None:
            master.emperor.event({'event': 'reload-failed', 'error': err})
        self.run_queued()

    def run_queued(self):
        queued = self.queued
        if queued is not None:
            self.queued = None
            self.start(queued.cfg, queued.mode)
