"""A forked Python worker process: from just after fork() to exit.

Owns: resetting the master's signal/fd state, loading the app (loader.py), reporting
`loaded` / `load-failed` / `accepting` on the status pipe, starting the request cores
(core 0 on the main thread, the others on threads) or, for `asgi`, handing over to the ASGI
event loop (asgi/server.py), graceful retire (SIGHUP, max-requests),
immediate exit (SIGTERM/SIGINT) and dying with the master (life pipe EOF).
"""
import _signal as signal
import os
import sys
import time

from . import heap
from . import load_priority
from . import log
from . import loader
from . import procname
from . import sockets
from . import uwsgi_module
from .minijson import dumps
from .scoreboard import SlotWriter
from .worker_proc import close_all


def max_requests_of(cfg, wid):
    """Requests worker `wid` serves before it recycles (0 = no limit): uWSGI's max-requests + (wid - 1) ×
    max-requests-delta, so the workers of a vassal do not all recycle at the same moment."""
    base = cfg.get('max-requests') or 0
    if not base:
        return 0
    return base + (wid - 1) * (cfg.get('max-requests-delta') or 0)


class Worker:
    """This process, worker `wid`: its config, listening sockets, the status pipe (`status_w`), the life pipe
    (`life_r`: EOF when the master is gone) and its scoreboard slot in `mm` at `slot_off`."""

    def __init__(self, wid, cfg, listeners, status_w, life_r, mm, slot_off):
        self.wid = wid
        self.tag = 'worker %d (pid: %d)' % (wid, os.getpid())
        self.cfg = cfg
        self.max_requests = max_requests_of(cfg, wid)
        self.listeners = listeners
        self.status_w = status_w
        self.life_r = life_r
        self.mm = mm
        self.slot = SlotWriter(mm, slot_off)
        self.stopping = [False]
        self.cores = []
        self.shared = None          # turns.Shared: the epoll and connections the cores share, whose turn it is
        self.app = None
        self.loyal = False
        self.nice_base = None       # the nice value to return to before accepting, when loading lowered it
        self.wake_r, self.wake_w = os.pipe()

    def send(self, obj):
        try:
            os.write(self.status_w, (dumps(obj) + '\n').encode())
        except OSError:
            pass

    def first_request(self):
        if not self.loyal:
            self.loyal = True
            self.send({'act': 'first-request'})

    def retire(self, reason):
        """Stop accepting at once, finish in-flight requests, then exit (any thread)."""
        if self.stopping[0]:
            return
        self.stopping[0] = True
        self.slot.set_accepting(False)
        if reason != 'signal':
            self.send({'act': 'retiring', 'reason': reason})
        if self.shared is not None:
            for l in self.listeners:
                try:
                    self.shared.ep.unregister(l.fd)
                except (OSError, ValueError):
                    pass
        # With EPOLLEXCLUSIVE the kernel may have woken only us for connections still queued:
        # take them now (they are served before we exit), so none waits for a wakeup that
        # already happened.
        if self.cores:
            c0 = self.cores[0]
            for l in self.listeners:
                for _ in range(1024):
                    if not c0.accept(l):
                        break
        sockets.park(self.listeners)
        try:
            os.write(self.wake_w, b'x')
        except OSError:
            pass

    def full_priority(self):
        """Back to the priority the worker was forked with, before it accepts (it loaded at a lower one)."""
        error = load_priority.restore(self.nice_base)
        self.nice_base = None
        if error:
            log.log('%s: %s' % (self.tag, error))

    def fail_load(self, error, shown=None):
        """The app could not be loaded (import error, failed ASGI lifespan startup): report it and exit 22."""
        log.log('%s\nunable to load app 0 (mountpoint=\'\') (callable not found or import error)' % (
            shown or error).rstrip())
        self.send({'act': 'load-failed', 'error': error})
        log.flush_std()
        os._exit(22)

    def master_gone(self):
        log.log('UAAAAAAH my master disconnected: i will kill myself !!!')
        for core in self.cores:
            core.reqlog.flush()
        os._exit(1)

    def run(self):
        cfg = self.cfg
        t0 = time.time()
        try:
            loader.prepare(cfg)
            uwsgi_module.install(cfg, self)
            self.app = loader.load(cfg)
            if not cfg.get('asgi'):
                from . import front
                self.app = front.wrap(self.app, cfg, self.wid)
            elif self.wid == 1:
                # only the names: front.py would import the routing chain and the WSGI response path
                from .serving_keys import not_applied
                ignored = not_applied(cfg)
                if ignored:
                    log.log('*** WARNING: %s not applied to an ASGI app ***' % ', '.join(ignored))
        except BaseException as e:
            import traceback
            tb = traceback.format_exc()
            self.fail_load(tb if not isinstance(e, loader.LoadError) else str(e), tb)
        # what loading the app freed (the .pyc files it read…) leaves this worker's private memory (not for ASGI)
        heap.trim_where_it_pays(cfg)
        if cfg.get('asgi'):
            from .asgi.server import serve
            serve(self, self.app, t0)   # the ASGI worker's event loop; never returns
        log.log("WSGI app 0 (mountpoint='') ready in %d seconds on interpreter %#x pid: %d (default app)" % (
            int(time.time() - t0), id(sys.modules.get('__main__')), os.getpid()))
        self.send({'act': 'loaded'})
        if self.stopping[0]:
            os._exit(0)
        from .core import Core
        from . import client_io, wsgi
        from . import offload
        client_io.TIMEOUT[0] = cfg['socket-timeout'] or 4.0
        wsgi.configure(cfg)
        self.offloader = offload.start(cfg)
        n = cfg['threads']
        self.cores = [Core(self, i) for i in range(n)]
        threads = []
        if n > 1:
            import threading
            for core in self.cores[1:]:
                t = threading.Thread(target=self._core_main, args=(core,), name='core %d' % core.idx, daemon=True)
                threads.append(t)
        self.full_priority()
        for t in threads:
            t.start()
        self.slot.set_accepting(True)
        self.send({'act': 'accepting'})
        self._core_main(self.cores[0])
        for t in threads:
            t.join()
        self.exit()

    def exit(self):
        """A clean exit once every request is done: the app's atexit handlers run (the fork skipped the
        interpreter's own exit), output is flushed, exit 0."""
        if getattr(self, 'offloader', None) is not None:
            self.offloader.drain(self.cfg.get('worker-reload-mercy') or 60)
        log.flush_std()
        try:
            import atexit
            atexit._run_exitfuncs()
        except Exception:
            pass
        log.flush_std()
        os._exit(0)

    def _core_main(self, core):
        try:
            core.run()
        except BaseException:
            import traceback
            log.log('%s: core %d crashed:\n%s' % (self.tag, core.idx, traceback.format_exc()))
            os._exit(1)


def run_site():
    """Runs site.py here when the master was started without it (`python3 -S`: an ASGI vassal's master,
    src/config/master-command.ts), as the interpreter would have at its start: sys.path gets the (virtualenv's)
    site-packages, the .pth files and sitecustomize run, exit/help are builtins. Before the app's `env` is applied,
    as in a master that ran site.py itself. `sys.flags.no_site` stays set."""
    if sys.flags.no_site:
        import site
        site.main()


def start(wid, cfg, listeners, status_w, life_r, mm, slot_off, close_fds, load_nice=0):
    """Entry point in the child right after fork(); never returns. `load_nice` > 0: load the app at that much
    lower priority (other workers serve meanwhile; load_priority.py)."""
    try:
        procname.set_title(procname.title_for(cfg, 'worker', wid))
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        close_all(close_fds)
        run_site()
        w = Worker(wid, cfg, listeners, status_w, life_r, mm, slot_off)
        w.nice_base = load_priority.lower(load_nice)
        signal.signal(signal.SIGHUP, lambda s, f: w.retire('signal'))

        def die(s, f):
            for core in w.cores:
                core.reqlog.flush()
            os._exit(30)
        signal.signal(signal.SIGTERM, die)
        signal.signal(signal.SIGINT, die)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        w.run()
    except SystemExit as e:
        log.flush_std()
        os._exit(e.code if isinstance(e.code, int) else 1)
    except BaseException:
        import traceback
        log.log('worker %d crashed:\n%s' % (wid, traceback.format_exc()))
        os._exit(1)
    os._exit(0)
