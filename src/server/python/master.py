"""kaiser app-server master: start-up and the parts of the master that tie the others together.

Run by the script start_master.py (`python3 [-S] start_master.py` with KAISER_CONFIG, docs/runtime-protocol.md) or
forked by the runtime host (host.py); both call `main(config)`. The master binds the sockets, forks the workers
(each loads the app itself: uWSGI's lazy-apps) and supervises them from one event loop. Each concern lives in its
own module, and the Master holds one of each:

   event_loop.py   the epoll loop and the tick          signals.py     signal → action
   pool.py         workers, slots, exits, respawns      worker_states.py  a worker's states and their table
   reload.py       graceful reload and rollback         shutdown.py    graceful and brutal stop, close order
   emperor_link.py the emperor pipe: bytes → actions    controls.py    stats server, master FIFOs, touch files
   phase.py        starting → running → stopping        terminate.py   ask → grace → SIGKILL
   subscriber.py   announcing the vassal to uWSGI subscription servers (subscribe-to, subscribe2)
   daemons.py      attach-daemon and friends          cron.py        cron, unique-cron, cron2
   cheaper.py      adaptive workers (cheaper-*)       cheap_mode.py  cheap, idle, die-on-idle
   worker_limits.py  harakiri, reload-on-rss, evil-reload-on-rss, max-worker-lifetime (the tick's per-worker checks)
   dormant.py      what stands in for reload.py, controls.py, cheaper.py, cheap_mode.py, daemons.py and cron.py until
                   a config (or, for a reload, a request) needs them: a master imports only what it uses

The other modules live next to this file and are imported as the package `_kaiser` (_kaiser_bootstrap.py), so
`http.py`, `config.py`… never shadow the stdlib or the application's own modules.
"""
import gc
import os
import sys
import time

from _kaiser import config as _config
from _kaiser import dormant
from _kaiser import heap
from _kaiser import log
from _kaiser import minijson
from _kaiser import procname
from _kaiser import shutdown
from _kaiser import signals
from _kaiser import sockets
from _kaiser.event_loop import Loop
from _kaiser.phase import RUNNING, STARTING, STOPPING
from _kaiser.pool import WorkerPool
from _kaiser.version import VERSION
from _kaiser.worker_proc import Generation

EXIT_NEED_APP = 22
HARAKIRI_TICK_S = 0.5        # how often harakiri is checked
WATCH_TICK_S = 1.0           # the limits of worker_limits.py and touch files
WATCHED = ('harakiri', 'reload-on-rss', 'evil-reload-on-rss', 'max-worker-lifetime')
SUBSCRIBE_KEYS = ('subscribe-to', 'subscribe2', 'subscribe-freq')
DAEMON_KEYS = ('attach-daemon', 'smart-attach-daemon', 'smart-attach-daemon2', 'attach-daemon2')  # daemons.py reads
CRON_KEYS = ('cron', 'unique-cron', 'cron2')                                                      # cron.py reads


class Master:
    def __init__(self, cfg):
        self.cfg = cfg
        self.phase = STARTING
        self.exit_code = 0
        self.listeners = []
        self.gen = None              # the Generation serving now
        self.loop = Loop()
        self.signals = None          # SignalPipe
        self.life_r = self.life_w = None   # workers hold life_r: EOF there means the master is gone
        self.emperor = None          # EmperorLink, under an emperor
        self.pool = WorkerPool(self)
        # what only some configs use stands in until then (dormant.py)
        self.reloader = dormant.DormantReloader(self)     # graceful reloads (reload.py), once one is asked for
        self.controls = dormant.DormantControls(self)     # stats server, master FIFOs, touch files (controls.py)
        self.subscriber = None       # subscribe-to / subscribe2 (subscriber.py)
        self.daemons = dormant.NO_JOBS       # attach-daemon, smart-attach-daemon… (daemons.py), once configured
        self.cron = dormant.NO_JOBS          # cron, unique-cron, cron2 (cron.py), once configured
        self.cheaper = dormant.DormantCheaper(self)       # adaptive workers (cheaper.py)
        self.cheap_mode = dormant.DormantCheapMode(self)  # cheap, idle, die-on-idle (cheap_mode.py)
        self.wake_parts(cfg)

    # ── start-up ────────────────────────────────────────────────────────────────────────────────
    def start(self):
        cfg = self.cfg
        log.log('*** Starting kaiser %s (%s) ***' % (VERSION, _config.name(cfg)))
        self.signals = signals.SignalPipe()
        self.loop.add(self.signals.wake_r, lambda: signals.dispatch(self, self.signals.drain()))
        self.life_r, self.life_w = os.pipe()
        efd = os.environ.pop('UWSGI_EMPEROR_FD', None)
        if efd:
            from _kaiser.emperor_link import EmperorLink
            self.emperor = EmperorLink(self, int(efd))
            if not cfg.get('_standalone'):  # kaiser's own launcher is no emperor
                log.log('*** has_emperor mode detected (fd: %s) ***' % efd)
            self.loop.add(self.emperor.fd, self.emperor.on_readable)
        cheaper_problem = dormant.cheaper_problem(cfg)
        if cheaper_problem:
            log.log(cheaper_problem)
            return self.die(1)
        specs = _config.socket_specs(cfg)
        if not specs:
            log.log('The -s/--socket option is missing: no http, http-socket or socket address given.')
            return self.die(1)
        try:
            self.listeners, _ = sockets.bind_all(specs, cfg)
        except Exception as e:
            log.log('cannot bind the sockets: %s' % e)
            if self.emperor is not None:
                self.emperor.event({'event': 'app-load-failed', 'error': 'bind: %s' % e})
            return self.die(1)
        self.configure(cfg, None)
        if cfg.get('pidfile'):
            try:
                with open(cfg['pidfile'], 'w') as f:
                    f.write('%d\n' % os.getpid())
            except OSError as e:
                log.log('cannot write pidfile %s: %s' % (cfg['pidfile'], e))
        if self.emperor is not None:
            self.emperor.spawned()
        log.log('spawned uWSGI master process (pid: %d)' % os.getpid())
        self.gen = Generation(cfg, self.listeners)
        if not cfg.get('asgi') and self.gen.kind is None:
            # imported before the fork so forked WSGI (and CGI, PHP) workers share these pages. An ASGI master leaves
            # them out (asgi/ has its own request loop, and importing the app copies most inherited pages into the
            # worker anyway), and so does the master of exec'd workers (Perl, Ruby, Lua, Node), which never runs
            # them: every page the master holds counts whole in a 1-worker vassal's memory.
            from _kaiser import core as _core, loader as _loader, worker as _worker, wsgi as _wsgi  # noqa: F401
            _loader.preload(cfg)
        gc.collect()
        gc.freeze()
        heap.trim_where_it_pays(cfg)
        if cfg.get('cheap'):
            self.on_started()               # nothing to wait for: the first connection spawns the workers
            self.cheap_mode.start_cheap()
        else:
            for wid in self.cheaper.initial_ids(cfg):
                self.pool.spawn(wid, self.gen)
        self.loop.run(self.timeout, self.tick)

    def configure(self, cfg, old):
        """What is (re)configured per config besides workers and sockets: controls, the heartbeat, subscriptions,
        the attached daemons (restarted on a reload) and the cron jobs."""
        self.wake_parts(cfg)
        self.controls.configure(cfg, old)
        self.daemons.configure(cfg, old)
        self.cron.configure(cfg)
        self.cheaper.configure(cfg, time.monotonic())
        self.cheap_mode.rearm()
        if self.emperor is not None:
            self.emperor.configure(cfg)
        if old is None or any(old.get(k) != cfg.get(k) for k in SUBSCRIBE_KEYS):
            self.unsubscribe()
            if cfg.get('subscribe-to') or cfg.get('subscribe2'):
                from _kaiser import subscriber as _subscriber
                try:
                    self.subscriber = _subscriber.Subscriber.from_config(cfg, self.listeners)
                except _subscriber.SubscriptionError as e:
                    log.log('cannot subscribe: %s' % e)

    def wake_parts(self, cfg):
        """Makes the real parts that `cfg` turns on where stand-ins (dormant.py) hold their place; they stay."""
        if self.daemons is dormant.NO_JOBS and any(cfg.get(k) for k in DAEMON_KEYS):
            from _kaiser.daemons import Daemons
            self.daemons = Daemons()
        if self.cron is dormant.NO_JOBS and any(cfg.get(k) for k in CRON_KEYS):
            from _kaiser.cron import Cron
            self.cron = Cron()
        for part in (self.controls, self.cheaper, self.cheap_mode):
            if isinstance(part, dormant.StandIn) and part.needed(cfg):
                part.wake()

    def unsubscribe(self):
        if self.subscriber is not None:
            self.subscriber.stop()
            self.subscriber = None

    def master_fds(self):
        """Every fd of the master that a new worker must not keep."""
        fds = self.signals.fds() + [self.life_w, self.loop.fileno()]
        fds += [l.fd for l in self.listeners + self.reloader.listeners()]
        fds += self.pool.status_fds()
        if self.emperor is not None:
            fds.append(self.emperor.fd)
        return fds + self.controls.fds()

    # ── what the parts report ───────────────────────────────────────────────────────────────────
    def on_started(self):
        """Every worker of the first generation accepts."""
        self.phase = RUNNING
        log.log('*** kaiser is running: %d workers accepting ***' % len(self.pool.slots))
        if self.emperor is not None:
            self.emperor.accepting()
        self.reloader.run_queued()      # a reload asked for during the start (SIGHUP, touch) runs now

    def on_first_load_failed(self, err):
        log.log('*** no app loaded. GAME OVER ***\n%s' % err.rstrip())
        if self.emperor is not None:
            self.emperor.event({'event': 'app-load-failed', 'error': err})
        self.exit_code = EXIT_NEED_APP
        self.brutal_stop(EXIT_NEED_APP)

    def on_first_request(self):
        if self.emperor is not None:
            self.emperor.on_first_request()

    def graceful_stop(self):
        shutdown.graceful(self)

    def brutal_stop(self, code=0):
        shutdown.brutal(self, code)

    def finish_stop(self):
        shutdown.finish(self)

    def die(self, code):
        log.flush_std()
        os._exit(code)

    def log_stats(self):
        from _kaiser.stats import document
        log.log(minijson.dumps(document(self)))

    # ── time ────────────────────────────────────────────────────────────────────────────────────
    def tick(self):
        now = time.monotonic()
        self.pool.check(now, time.time())
        self.reloader.check(now)
        self.controls.check_touch()
        self.cheaper.tick(now)
        self.cheap_mode.check(now)
        if self.emperor is not None:
            self.emperor.check(now)
        if self.subscriber is not None and self.phase != STOPPING:
            self.subscriber.tick(now)
        if self.phase != STOPPING:
            self.daemons.tick(now)
            self.cron.tick(time.time())

    def timeout(self):
        """Seconds until the next timed duty, or -1 for none."""
        cfg = self.cfg
        t = None
        if any(cfg.get(k) for k in WATCHED) or self.controls.touch:
            t = HARAKIRI_TICK_S if cfg.get('harakiri') else WATCH_TICK_S
        reloading = self.reloader.current
        if reloading is not None and reloading.gen.cfg.get('harakiri'):
            t = HARAKIRI_TICK_S
        deadlines = self.pool.deadlines() + self.reloader.deadlines()
        deadlines += self.cheaper.deadlines() + self.cheap_mode.deadlines()
        if self.emperor is not None:
            deadlines += self.emperor.deadlines()
        if self.subscriber is not None and self.phase != STOPPING:
            deadlines.append(self.subscriber.next_at)
        if self.phase != STOPPING:
            deadlines += self.daemons.deadlines()
            cron_at = self.cron.next_at(time.time(), time.monotonic())
            if cron_at is not None:
                deadlines.append(cron_at)
        if deadlines:
            d = max(0.01, min(deadlines) - time.monotonic())
            t = d if t is None else min(t, d)
        return -1 if t is None else t


def main(config=None):
    """Runs a master; never returns. `config` is the KAISER_CONFIG object (the runtime host passes it, with
    `_inherit` = {address: listening fd}); without it the config is read from the environment."""
    try:
        cfg = _config.load() if config is None else _config.parse(minijson.dumps(config))
    except _config.ConfigError as e:
        log.log(str(e))
        sys.exit(1)
    log.setup(cfg)
    procname.set_title(procname.title_for(cfg, 'master'))
    Master(cfg).start()
