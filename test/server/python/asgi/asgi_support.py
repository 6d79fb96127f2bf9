"""What the ASGI server's unit tests share: the server's modules as the package `_kaiser` (through
_kaiser_bootstrap, as the entry points see them), a fake transport that records what a connection writes and lets a
test pause/resume/close it, a fake server standing in for asgi/server.py (limits, loop, the request bookkeeping), a
helper that runs a loop until the app tasks have settled, and the test cases' set-up (CapturedLog: the server's log
lines kept; LoopTest: and a fresh event loop per test).
"""
import asyncio
import os
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
PY_DIR = os.path.join(ROOT, 'src', 'server', 'python')

if '_kaiser' not in sys.modules:
    sys.path.insert(0, PY_DIR)
    import _kaiser_bootstrap  # noqa: E402,F401  (registers the package `_kaiser`, removes PY_DIR from sys.path again)

from _kaiser import log  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # test/server/python: support.py
from support import modules_after  # noqa: E402,F401  (what a start imports, as for the other unit tests)


class FakeTransport(asyncio.Transport):
    """Records writes; `closed` once close() or abort() ran; reading pause state in `reading`."""

    def __init__(self, protocol, peer=('127.0.0.1', 40000)):
        super().__init__()
        self.protocol = protocol
        self.out = bytearray()
        self.reading = True
        self.closed = False
        self.aborted = False
        self.eof_written = False
        self.peer = peer
        self.high = 64 * 1024

    def get_extra_info(self, name, default=None):
        return self.peer if name == 'peername' else default

    def write(self, data):
        assert not self.closed, 'write after close'
        self.out += data

    def writelines(self, items):
        for d in items:
            self.write(d)

    def set_write_buffer_limits(self, high=None, low=None):
        self.high = high

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True

    def is_reading(self):
        return self.reading

    def can_write_eof(self):
        return True

    def write_eof(self):
        self.eof_written = True

    def is_closing(self):
        return self.closed

    def close(self):
        if not self.closed:
            self.closed = True
            asyncio.get_event_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self):
        self.aborted = True
        self.close()

    def take(self):
        data = bytes(self.out)
        self.out.clear()
        return data


class FakeServer:
    """The parts of asgi/server.py a connection uses, with the app given by the test; tasks run on `loop`."""

    def __init__(self, app, loop, **limits):
        self.app = app
        self.loop = loop
        self.conns = set()
        self.state = limits.get('state')
        self.stopping = False
        self.buffer_size = limits.get('buffer_size', 4096)
        self.limit_post = limits.get('limit_post', 0)
        self.ws_max_size = limits.get('ws_max_size', 1 << 20)
        self.ws_ping_freq = limits.get('ws_ping_freq', 0)
        self.ws_pong_tolerance = limits.get('ws_pong_tolerance', 3.0)
        self.addresses = {None: ('127.0.0.1', 8000)}
        self.read_buffer = bytearray(65536)
        self.read_view = memoryview(self.read_buffer)
        self.started = []
        self.ended = []
        self.tasks = []

    def start_call(self, call):
        self.started.append(call)
        call.task = self.loop.create_task(call.run())
        self.tasks.append(call.task)

    def call_ended(self, call):
        self.ended.append(call)


def connect(conn_class, server, peer=('127.0.0.1', 40000)):
    """A connection of `conn_class` on a FakeTransport, as asyncio would make it."""
    conn = conn_class(server, None)
    t = FakeTransport(conn, peer)
    conn.connection_made(t)
    return conn, t


def settle(loop, rounds=20):
    """Run `loop` until nothing is left to do right now (app tasks blocked or done)."""
    for _ in range(rounds):
        loop.run_until_complete(asyncio.sleep(0))


class CapturedLog(unittest.TestCase):
    """The server's log lines land in `self.logged` while the test runs."""

    def setUp(self):
        self.logged = []
        self.addCleanup(setattr, log, 'log', log.log)
        log.log = self.logged.append


class LoopTest(CapturedLog):
    """And `self.loop`, a fresh event loop, current while the test runs; what is left of its tasks is cancelled and
    settled before it closes (after the test's own tearDown)."""

    def setUp(self):
        super().setUp()
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.addCleanup(self._close_loop)

    def _close_loop(self):
        for t in asyncio.all_tasks(self.loop):
            t.cancel()
        settle(self.loop, 3)
        self.loop.close()
        asyncio.set_event_loop(None)
