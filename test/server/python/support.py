"""What the Python unit tests of src/server/python share: the server's modules as the package `_kaiser`, exactly as
the entry points see them (_kaiser_bootstrap), and a FakeSystem that stands in for what the master does to the world
(forks, signals, /proc, exit) so the master's parts are tested without processes or waiting, like
test/helpers/fake-system.ts does for the emperor.
"""
import contextlib
import json
import os
import sys
import tempfile
from unittest import mock

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PY_DIR = os.path.join(ROOT, 'src', 'server', 'python')

if '_kaiser' not in sys.modules:
    sys.path.insert(0, PY_DIR)
    import _kaiser_bootstrap  # noqa: E402,F401  (removes PY_DIR from sys.path again)

from _kaiser import config as _config  # noqa: E402
from _kaiser import log as _log  # noqa: E402
from _kaiser.worker_proc import WorkerProc  # noqa: E402


def make_config(**overrides):
    """A complete config (KAISER_CONFIG defaults) with `overrides`; keys written with _ for -."""
    raw = {'http-socket': ['127.0.0.1:0'], 'wsgi-file': 'app.py'}
    raw.update({k.replace('_', '-'): v for k, v in overrides.items()})
    return _config.parse(json.dumps(raw))


class Exited(Exception):
    """Master.die() was called (the real one calls os._exit)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class FakeSignals:
    def fds(self):
        return []


class FakeSystem:
    """Records what the master does to processes and lets a test play the workers.

    Workers are WorkerProc records with made-up pids and real status pipes, so `send()` goes through the master's
    real reading code. Signals are recorded in `kills`, never sent; `rss` sets what /proc would say.
    """

    def __init__(self):
        self.next_pid = 40000
        self.kills = []          # (pid, signal, group)
        self.status_w = {}       # pid → write end of its status pipe
        self.rss = {}            # pid → bytes
        self.lines = []          # log lines
        self.spawned = []        # WorkerProc, in spawn order

    def spawn_worker(self, wid, gen, master_fds, life_r):
        r, w = os.pipe()
        os.set_blocking(r, False)
        self.next_pid += 1
        wp = WorkerProc(wid, gen, gen.sb.take(), self.next_pid, r)
        self.status_w[wp.pid] = w
        self.spawned.append(wp)
        return wp

    def send_signal(self, pid, sig, group=False):
        self.kills.append((pid, sig, group))

    def memory(self, pid):
        return self.rss.get(pid, 0), 0

    def log(self, msg):
        self.lines.append(msg)

    def signals_to(self, pid):
        return [sig for p, sig, _g in self.kills if p == pid]

    def close(self):
        for w in self.status_w.values():
            try:
                os.close(w)
            except OSError:
                pass
        self.status_w = {}

    @contextlib.contextmanager
    def installed(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch('_kaiser.pool.spawn_worker', self.spawn_worker))
            stack.enter_context(mock.patch('_kaiser.terminate.send_signal', self.send_signal))
            stack.enter_context(mock.patch('_kaiser.pool.memory', self.memory))
            stack.enter_context(mock.patch('_kaiser.stats.memory', self.memory))
            stack.enter_context(mock.patch.object(_log, 'log', self.log))
            yield self


class MasterHarness:
    """A real Master (pool, reloader, controls, emperor link) over a FakeSystem. `start()` spawns the first
    generation as Master.start() would, without binding sockets or running the loop."""

    def __init__(self, test, **cfg):
        from _kaiser.master import Master
        from _kaiser.worker_proc import Generation
        self.sys = FakeSystem()
        test.addCleanup(self.sys.close)
        stack = contextlib.ExitStack()
        test.addCleanup(stack.close)
        stack.enter_context(self.sys.installed())
        stack.enter_context(mock.patch.object(Master, 'die', _die))
        self.master = Master(make_config(**cfg))
        self.master.signals = FakeSignals()
        self.master.gen = Generation(self.master.cfg, [])
        test.addCleanup(self.master.loop.ep.close)
        test.addCleanup(self.close_listeners)

    def close_listeners(self):
        """Closes the sockets reloads bound (a reload binds its config's addresses for real)."""
        gens = list(self.pool.generations) + [self.master.gen, self.master.reloader.generation()]
        for gen in gens:
            for listener in getattr(gen, 'listeners', None) or []:
                listener.close()

    @property
    def pool(self):
        return self.master.pool

    def start(self):
        for wid in range(1, self.master.cfg['processes'] + 1):
            self.pool.spawn(wid, self.master.gen)
        return list(self.sys.spawned)

    def send(self, wp, **msg):
        """The worker `wp` writes one status message; the master reads it."""
        os.write(self.sys.status_w[wp.pid], (json.dumps(msg) + '\n').encode())
        self.pool.on_status(wp)

    def accept_all(self, workers=None):
        for wp in workers if workers is not None else list(self.sys.spawned):
            self.send(wp, act='accepting')

    def exit(self, wp, code=0, signal=None):
        """The worker `wp` exits (status as waitpid reports it)."""
        status = signal if signal is not None else code << 8
        self.pool.workers.pop(wp.pid, None)
        self.pool.on_exit(wp, status)

    def logged(self, text):
        return any(text in line for line in self.sys.lines)


def _die(self, code):
    raise Exited(code)


def temp_dir(test):
    d = tempfile.TemporaryDirectory(prefix='kaiser-pytest-')
    test.addCleanup(d.cleanup)
    return d.name
