"""What the Python unit tests of src/server/python share: the server's modules as the package `_kaiser`, exactly as
the entry points see them (_kaiser_bootstrap), and a FakeSystem that stands in for what the master does to the world
(forks, signals, /proc, exit) so the master's parts are tested without processes or waiting, like
test/helpers/fake-system.ts does for the emperor; modules_after tells what a start imports.
"""
import contextlib
import json
import os
import shutil
import subprocess
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
from _kaiser.version import VERSION  # noqa: E402,F401
from _kaiser.worker_proc import WorkerProc  # noqa: E402


def modules_after(statements, site=False):
    """The names in sys.modules of a fresh python3 (`-S` unless `site`) after the bootstrap and `statements`: what a
    master or worker start imports counts in every vassal's memory (issues 17 and 19)."""
    code = ('import sys; sys.path.insert(0, %r); import _kaiser_bootstrap; %s; print(" ".join(sorted(sys.modules)))'
            % (PY_DIR, statements))
    argv = [sys.executable, '-c', code] if site else [sys.executable, '-S', '-c', code]
    return set(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split())


def in_forked_child(fn):
    """Runs `fn` in a forked child (for what is per process: nice values, uids, the process title) -> the bytes it
    returned, read from a pipe until the child exits."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, fn())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b''.join(chunks)


def make_config(**overrides):
    """A complete config (KAISER_CONFIG defaults) with `overrides`; option names written with _ for - (the extras
    keep their leading _: `_node`)."""
    raw = {'http-socket': ['127.0.0.1:0'], 'wsgi-file': 'app.py'}
    raw.update({k if k.startswith('_') else k.replace('_', '-'): v for k, v in overrides.items()})
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
        self.load_nice = {}      # pid → the load_nice it was spawned with

    def spawn_worker(self, wid, gen, master_fds, life_r, load_nice=0):
        r, w = os.pipe()
        os.set_blocking(r, False)
        self.next_pid += 1
        wp = WorkerProc(wid, gen, gen.sb.take(), self.next_pid, r)
        self.status_w[wp.pid] = w
        self.load_nice[wp.pid] = load_nice
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
            stack.enter_context(mock.patch('_kaiser.worker_limits.memory', self.memory))
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
        gens += [w.gen for w in self.sys.spawned]
        for gen in set(g for g in gens if g is not None):
            for listener in gen.listeners:
                listener.close()
            gen.sb.close()

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
    """A temporary directory removed after the test. Not a TemporaryDirectory: its atexit finalizer would run in a
    forked worker (workers run atexit handlers when they exit) and remove the directory under the test."""
    d = tempfile.mkdtemp(prefix='kaiser-pytest-')
    test.addCleanup(shutil.rmtree, d, True)
    return d


class FakeListener:
    """A listening socket as a core sees it (no socket: tests hand connections to the core directly)."""

    def __init__(self, proto='http', fd=-1):
        self.proto = proto
        self.fd = fd
        self.name = '127.0.0.1:8000'
        self.server_name = 'localhost'
        self.server_port = '8000'


class FakeWorker:
    """What a Core needs of its Worker: config, app, scoreboard slot, the stop flag; records retire()."""

    def __init__(self, test, app, proto='http', **cfg):
        from _kaiser.scoreboard import Scoreboard, SlotWriter
        self.cfg = make_config(**cfg)
        self.listeners = [FakeListener(proto)]
        self.sb = Scoreboard(2, self.cfg['threads'])
        test.addCleanup(self.sb.close)
        self.mm = self.sb.mm
        self.slot = SlotWriter(self.mm, self.sb.offset(0))
        self.stopping = [False]
        self.max_requests = self.cfg['max-requests']
        self.app = app
        self.tag = 'worker 1 (pid: test)'
        self.wake_r, self.wake_w = os.pipe()
        self.life_r, self.life_w = os.pipe()
        for fd in (self.wake_r, self.wake_w, self.life_r, self.life_w):
            test.addCleanup(os.close, fd)
        self.retired = []
        self.first_requests = 0
        self.cores = []

    def first_request(self):
        self.first_requests += 1

    def retire(self, reason):
        self.retired.append(reason)
        self.stopping[0] = True


class CoreHarness:
    """A real Core over a FakeWorker, fed by a real socketpair: `send()` writes raw bytes as a client would and lets
    the core read them; `response()` returns what the client received so far."""

    def __init__(self, test, app, proto='http', **cfg):
        import socket
        cfg.setdefault('disable_logging', True)
        from _kaiser import client_io
        from _kaiser.core import Core
        from _kaiser.serving import Conn
        self.worker = FakeWorker(test, app, proto, **cfg)
        self.core = Core(self.worker, 0)
        self.worker.cores.append(self.core)
        test.addCleanup(self.core.ep.close)
        old_timeout = client_io.TIMEOUT[0]
        client_io.TIMEOUT[0] = 0.5
        test.addCleanup(client_io.TIMEOUT.__setitem__, 0, old_timeout)
        server, self.client = socket.socketpair()
        test.addCleanup(self.client.close)
        server.setblocking(False)
        self.conn = Conn(server, server.fileno(), ('127.0.0.1', 50000), self.worker.listeners[0])
        self.core.conns[self.conn.fd] = self.conn
        self.core.ep.register(self.conn.fd, 1)
        test.addCleanup(self.core.drop, self.conn)
        self.client.settimeout(2)
        self.lines = []
        patcher = mock.patch.object(_log, 'log', self.lines.append)
        patcher.start()
        test.addCleanup(patcher.stop)

    def send(self, raw):
        self.client.sendall(raw)
        while self.is_open():
            before = len(self.conn.buf), self.conn.sock.fileno()
            self.core.readable(self.conn)
            if not self._pending():
                break
            if (len(self.conn.buf), self.conn.sock.fileno()) == before:
                break

    def _pending(self):
        import select
        p = select.poll()
        try:
            p.register(self.conn.sock.fileno(), select.POLLIN)
        except ValueError:
            return False
        return bool(p.poll(0))

    def is_open(self):
        """Open for requests: neither closed nor lingering (half-closed, draining)."""
        return self.conn.fd in self.core.conns and self.conn.lingering is None

    def response(self):
        """Everything the client can read now (until the core closes or nothing more comes within 50 ms)."""
        out = []
        self.client.settimeout(0.05)
        try:
            while True:
                d = self.client.recv(65536)
                if not d:
                    break
                out.append(d)
        except OSError:
            pass
        finally:
            self.client.settimeout(2)
        return b''.join(out)


def hello_app(env, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello']


def echo_app(env, start_response):
    """Answers with the request body it read, and the environ keys the tests look at."""
    body = env['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Path', env['PATH_INFO'])])
    return [body]
