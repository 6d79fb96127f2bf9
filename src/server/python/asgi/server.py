"""An ASGI worker's event loop: from the loaded app to exit.

Entered from worker.py once the app is imported (`serve`). Owns: choosing the loop (`asgi-loop`: uvloop when
installed, else asyncio), the lifespan startup before the worker reports `accepting` (a failed startup is a
failed load: exit 22), accepting on the shared listening sockets (each worker watches them without
EPOLLEXCLUSIVE and accepts one connection per wake-up, so the idle worker gets the next connection and no
worker hoards a burst), `asgi-max-concurrency` (requests and websockets in flight; at the limit the worker
stops accepting and further requests on open connections wait, never refused), max-requests, the first-request
message, the sweep (timeouts, websocket pings, harakiri: a request running past `harakiri` is cancelled and
answered 504), and the graceful retire (SIGHUP: accept what is queued, stop accepting, `Connection: close` on
the responses in flight, idle keep-alive closed after 0.5 s, websockets closed with 1012, wait for every
request and background task, lifespan shutdown within the mercy the master grants, exit 0).
"""
import _signal as signal
import asyncio
import collections
import errno
import mmap
import os
import socket
import sys
import time

from .. import log
from .. import sockets
from .accounting import Accounting
from .connection import PAUSE_SLOT
from .http_conn import HttpConnection
from .lifespan import Lifespan

EXIT_LOAD_FAILED = 22
SWEEP_S = 1.0
ACCEPT_PAUSE_S = 0.5            # after EMFILE and friends
READ_BUFFER = 256 * 1024        # what one read may take, as asyncio's own default
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class LoopUnavailable(Exception):
    pass


def new_loop(choice):
    """(loop, name) for `asgi-loop` = auto | asyncio | uvloop."""
    if choice in ('auto', 'uvloop', None, ''):
        try:
            import uvloop
        except ImportError:
            if choice == 'uvloop':
                raise LoopUnavailable('asgi-loop = uvloop, but uvloop is not installed (Debian package python3-uvloop)')
        else:
            return uvloop.new_event_loop(), 'uvloop'
    elif choice != 'asyncio':
        raise LoopUnavailable('asgi-loop must be auto, asyncio or uvloop, not %r' % (choice,))
    return asyncio.new_event_loop(), 'asyncio'


def serve(worker, app, t0):
    """Run the ASGI app in this worker; never returns."""
    cfg = worker.cfg
    try:
        loop, name = new_loop(cfg.get('asgi-loop'))
    except LoopUnavailable as e:
        worker.fail_load(str(e))
    asyncio.set_event_loop(loop)
    server = AsgiServer(worker, app, loop, cfg)
    loop.run_until_complete(server.main(name, t0))
    server.accounting.flush()
    worker.exit()


class AsgiServer:
    def __init__(self, worker, app, loop, cfg):
        self.worker = worker
        self.app = app
        self.loop = loop
        self.cfg = cfg
        self.listeners = worker.listeners
        self.conns = set()
        self.sessions = set()
        self.active = 0                      # HTTP requests and websockets whose task runs
        self.waiting = collections.deque()   # requests and websockets waiting for a concurrency slot
        self.running = {}                    # HTTP request -> unix start time, oldest first (harakiri)
        self.state = None                    # the lifespan state, copied into every scope
        self.stopping = False
        self.accepting = False
        self.first_done = False
        self.buffer_size = cfg['buffer-size']
        self.limit_post = int(cfg.get('limit-post') or 0)
        self.timeout = cfg.get('socket-timeout') or 4.0
        self.harakiri = cfg.get('harakiri') or 0
        self.max_requests = worker.max_requests
        self.max_concurrency = int(cfg.get('asgi-max-concurrency') or 0)
        self.ws_max_size = int(cfg.get('websockets-max-size') or 1024) * 1024
        self.ws_ping_freq = cfg.get('websockets-ping-freq') or 0
        self.ws_pong_tolerance = cfg.get('websockets-pong-tolerance') or 3.0
        self.accounting = Accounting(worker, cfg)
        self.addresses = {l: _address(l) for l in self.listeners}
        self.connection_class = {l: _connection_class(l) for l in self.listeners}
        self.fast_transport = hasattr(loop, '_make_socket_transport')
        self.retired_at = 0.0
        # every connection reads into this (connection.py): an anonymous mapping, whose pages become memory only as
        # far as reads fill them (a request of a few hundred bytes: one page), where bytearray(READ_BUFFER) writes
        # zeros over all 256 KiB at once (issue 17: 0.26 MB of every ASGI worker's private memory)
        self.read_buffer = mmap.mmap(-1, READ_BUFFER, flags=mmap.MAP_PRIVATE)
        self.read_view = memoryview(self.read_buffer)
        self.done = None
        self.sweep_handle = None

    # ── life ─────────────────────────────────────────────────────────────────────────────────────
    async def main(self, loop_name, t0):
        w = self.worker
        loop = self.loop
        self.done = loop.create_future()
        loop.add_signal_handler(signal.SIGHUP, self.retire, 'signal')
        loop.add_reader(w.life_r, w.master_gone)
        lifespan = None
        mode = self.cfg.get('asgi-lifespan') or 'auto'
        if mode != 'off':
            lifespan = Lifespan(self.app, loop, mode)
            failure = await lifespan.startup()
            if failure:
                w.fail_load(failure)
            if lifespan.supported:
                self.state = lifespan.state
            else:
                lifespan = None
        log.log("ASGI app 0 (mountpoint='') ready in %d seconds on interpreter %#x pid: %d (default app; loop %s, "
                "lifespan %s)" % (time.time() - t0, id(sys.modules.get('__main__')), os.getpid(), loop_name,
                                  'on' if lifespan else 'off'))
        w.send({'act': 'loaded'})
        if w.stopping[0] and not self.stopping:
            self.retire('signal')     # SIGHUP came while the app was importing (worker.py's handler)
        if not self.stopping:
            w.full_priority()
            self._start_accepting()
            w.slot.set_accepting(True)
            w.send({'act': 'accepting'})
        self._schedule_sweep()
        if not self.stopping or self.conns or self.active:
            await self.done
        if lifespan is not None:
            mercy = self.cfg.get('worker-reload-mercy') or 60
            await lifespan.shutdown(mercy - (time.monotonic() - self.retired_at) - 1.0)

    def retire(self, reason):
        """Graceful: stop accepting (taking what is queued first), finish everything in flight, then exit."""
        if self.stopping:
            return
        self.stopping = True
        self.retired_at = time.monotonic()
        w = self.worker
        w.stopping[0] = True
        w.slot.set_accepting(False)
        if reason != 'signal':
            w.send({'act': 'retiring', 'reason': reason})
        if self.accepting:
            # a wake-up for connections still queued may have gone to us alone: serve them before leaving
            for l in self.listeners:
                for _ in range(1024):
                    if not self._accept(l):
                        break
            self._stop_accepting()
        sockets.park(self.listeners)
        for s in list(self.sessions):
            s.going_away()
        self._schedule_sweep()

    def _maybe_done(self):
        if self.stopping and not self.conns and not self.active and not self.waiting and self.done is not None \
                and not self.done.done():
            self.done.set_result(None)

    # ── requests and websockets (app calls: app_call.py) ────────────────────────────────────────
    def start_call(self, call):
        """Runs the app for `call`, an HTTP request cycle or a websocket session: now, or once a concurrency slot
        frees (its connection stops reading meanwhile)."""
        if self.max_concurrency and self.active >= self.max_concurrency:
            self.waiting.append(call)
            call.conn.pause(PAUSE_SLOT)
            return
        self._launch(call)

    def _launch(self, call):
        self.active += 1
        wall = time.time()
        call.t0 = time.monotonic()
        if call.conn.ws is call:
            self.sessions.add(call)
        else:
            self.running[call] = wall
        self.accounting.started(wall)
        self._count_request()
        call.task = self.loop.create_task(call.run())
        if self.max_concurrency and self.active >= self.max_concurrency:
            self._stop_accepting()

    def call_ended(self, call):
        """`call`'s app has returned and what it left unanswered is answered."""
        self.active -= 1
        running = self.running
        running.pop(call, None)
        self.sessions.discard(call)
        busy = next(iter(running.values())) if running else 0.0
        self.accounting.ended(call, time.monotonic() - call.t0, busy)
        self._after_end()

    def _count_request(self):
        mr = self.max_requests
        if mr and self.worker.slot.requests >= mr and not self.stopping:
            # the last request: stop accepting before answering it, so the next connection goes to the replacement
            log.log('%s: reached max-requests (%d), recycling' % (self.worker.tag, mr))
            self.retire('max-requests')

    def _after_end(self):
        if not self.first_done:
            self.first_done = True
            self.worker.first_request()
        waiting = self.waiting
        while waiting and (not self.max_concurrency or self.active < self.max_concurrency):
            item = waiting.popleft()
            conn = item.conn
            if conn.closing:
                if conn.ws is item:
                    item.on_connection_lost()
                continue
            conn.resume(PAUSE_SLOT)
            self._launch(item)
        if not self.stopping and not self.accepting and (not self.max_concurrency
                                                         or self.active < self.max_concurrency):
            self._start_accepting()
        if self.stopping:
            self._maybe_done()

    # ── accepting ────────────────────────────────────────────────────────────────────────────────
    def _start_accepting(self):
        if self.accepting or self.stopping:
            return
        self.accepting = True
        for l in self.listeners:
            self.loop.add_reader(l.fd, self._accept, l)

    def _stop_accepting(self):
        if self.accepting:
            self.accepting = False
            for l in self.listeners:
                self.loop.remove_reader(l.fd)

    def _accept(self, l):
        try:
            accepted = l.accept_client()
        except OSError as e:
            if e.errno in _OUT_OF_RESOURCES:
                log.log('%s: accept() on %s failed: %s; pausing %g s' % (self.worker.tag, l.name, e, ACCEPT_PAUSE_S))
                self._stop_accepting()
                self.loop.call_later(ACCEPT_PAUSE_S, self._start_accepting)
            elif e.errno not in (errno.EBADF, errno.ENOTSOCK, errno.EINVAL):
                log.log('%s: accept() on %s failed: %s' % (self.worker.tag, l.name, e))
            return False
        if accepted is None:
            return False
        sock = accepted[0]
        proto = self.connection_class[l](self, l)
        if self.fast_transport:
            self.loop._make_socket_transport(sock, proto)
        else:
            self.loop.create_task(self.loop.connect_accepted_socket(lambda: proto, sock))
        return True

    # ── the sweep ────────────────────────────────────────────────────────────────────────────────
    def _schedule_sweep(self):
        if self.sweep_handle is not None:
            self.sweep_handle.cancel()
        delay = SWEEP_S
        if self.harakiri:
            delay = min(delay, max(self.harakiri / 4.0, 0.05))
        if self.stopping:
            delay = min(delay, 0.1)
        self.sweep_handle = self.loop.call_later(delay, self._sweep)

    def _sweep(self):
        now = time.monotonic()
        timeout = self.timeout
        stopping = self.stopping
        for conn in list(self.conns):
            if conn.linger_until:
                if now >= conn.linger_until:
                    conn.transport.close()
                continue
            ws = conn.ws
            if ws is not None:
                if not ws.check(now):
                    conn.transport.abort()
                continue
            why = conn.overdue(now, timeout, stopping)
            if why is not None:
                if why:
                    log.log('%s: closing the connection of %s: %s' % (
                        self.worker.tag, conn.client[0] if conn.client else 'unix', why))
                conn.closing = True
                conn.transport.close()
        wall = time.time()
        if self.harakiri and self.running:
            self._harakiri(wall)
        running = self.running
        self.accounting.refresh(next(iter(running.values())) if running else 0.0, wall)
        self.accounting.reqlog.flush() if self.accounting.reqlog.size else None
        if stopping:
            self._maybe_done()
        self._schedule_sweep()

    def _harakiri(self, wall):
        limit = wall - self.harakiri
        for cycle, start in list(self.running.items()):
            if start > limit:
                break
            if not cycle.harakiri:
                cycle.harakiri = True
                log.log('*** HARAKIRI ON ASGI REQUEST %s %s (%s): running for %d seconds, cancelled ***' % (
                    cycle.scope['method'], cycle.scope['path'], self.worker.tag, wall - start))
                self.worker.send({'act': 'harakiri'})
            cycle.task.cancel()


def _connection_class(l):
    """What serves a connection accepted on `l`: HttpConnection, or UwsgiConnection on a uwsgi-protocol socket,
    imported only then: with it come uwsgi_proto.py and the WSGI side's http.py, ~70 kB of private memory in a worker
    serving HTTP only (issue 17, PSS of a 1-worker FastAPI vassal)."""
    if l.proto == 'http':
        return HttpConnection
    from .uwsgi_conn import UwsgiConnection
    return UwsgiConnection


def _address(l):
    """The ASGI `server` of a listener: (host, port), or (path, None) for a UNIX socket."""
    if l.family == socket.AF_UNIX:
        return (l.name, None)
    try:
        host, port = l.sock.getsockname()[:2]
        return (host, port)
    except OSError:
        return (l.server_name, int(l.server_port or 0) or None)
