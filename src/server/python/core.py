"""One request core of a worker: an epoll loop over the shared listening sockets and this core's own client
connections. Requests are handled inline (serving.py), and only once they are complete, head and body: idle
keep-alive connections and slow clients never hold a core.

Owns: accept, reading from connections, closing them (a lingering close, never a reset of one with unread input,
never a wait that blocks the loop), their timeouts — `socket-timeout` idle (`http-timeout` on `http = …` sockets),
`request-read-timeout` for a whole request from its first byte (408) — the rejects, the graceful drain of a
retiring worker, and flushing the request log.
"""
import errno
import select
import _socket as socket
import time

from . import log
from . import request_log
from . import serving
from . import uwsgi_module
from .client_io import DONTWAIT, send_all

EPOLLIN = select.EPOLLIN
EXCL = getattr(select, 'EPOLLEXCLUSIVE', 0)
STOP_GRACE = 0.5      # a retiring worker closes keep-alive connections idle this long
SWEEP_S = 1.0         # how often timeouts are checked
LINGER_S = 0.5        # a connection closed with unread input is drained this long (at most LINGER_BYTES; checked
                      # by the sweep, so up to LINGER_S + SWEEP_S)
LINGER_BYTES = 1 << 20
ACCEPT_BATCH = 16     # connections one listener event may accept (and serve) before the loop polls again
RETIRED_LISTENER = (errno.EBADF, errno.ENOTSOCK)   # accept() on a listener a retiring worker just parked


class Core:
    def __init__(self, worker, idx):
        self.w = worker
        self.idx = idx
        self.ep = select.epoll()
        self.conns = {}
        self.listeners = {l.fd: l for l in worker.listeners}
        self.templates = {l.fd: serving.template(worker, l, idx) for l in worker.listeners}
        self.mm = worker.mm
        self.slot = worker.slot
        self.core_off = worker.slot.core_off(idx)
        self.app = worker.app
        self.stopping_flag = worker.stopping            # [True] once the worker retires
        self.max_requests = worker.max_requests
        self.request_state = uwsgi_module.request_state()   # this thread's; run() takes its own thread's
        self.requests = 0
        self.read_errors = 0
        self.write_errors = 0
        self.reqlog = log.RequestLog()
        self.logging = not worker.cfg.get('disable-logging')
        self.reqpolicy = request_log.policy(worker.cfg)
        self.bufsize = worker.cfg['buffer-size']
        self.timeout = worker.cfg['socket-timeout'] or 4.0
        self.timeouts = idle_timeouts(worker.cfg, worker.listeners)   # listener fd → its own idle timeout
        self.read_deadline = worker.cfg.get('request-read-timeout') or 0
        self.body_memory = worker.cfg.get('post-buffering') or None      # None: request_body.MEMORY_LIMIT
        self.stopping = False
        self.stop_time = 0.0

    def log(self, msg):
        log.log(msg)

    # ── loop ──────────────────────────────────────────────────────────────────────────────────
    def run(self):
        self.request_state = uwsgi_module.request_state()
        ep = self.ep
        conns = self.conns
        lfds = self.listeners
        w = self.w
        if not w.stopping[0]:
            for fd in lfds:
                try:
                    ep.register(fd, EPOLLIN | EXCL)
                except OSError:
                    pass
        ep.register(w.wake_r, EPOLLIN)
        if self.idx == 0:
            ep.register(w.life_r, EPOLLIN)
        next_sweep = time.monotonic() + SWEEP_S
        reqlog = self.reqlog
        while True:
            try:
                events = ep.poll(0.1 if (reqlog.size or self.stopping) else SWEEP_S)
            except InterruptedError:
                continue
            for fd, ev in events:
                c = conns.get(fd)
                if c is not None:
                    self.readable(c)
                elif fd in lfds:
                    # a batch only when nothing else of this core is ready: a client already connected never waits
                    # behind a run of new connections
                    self.accept_batch(lfds[fd], ACCEPT_BATCH if len(events) == 1 else 1)
                elif fd == w.wake_r:
                    if not self.stopping:
                        self.begin_stop()
                elif fd == w.life_r:
                    w.master_gone()
            if reqlog.size and (not events or reqlog.size > 3072):
                reqlog.flush()
            # Timeouts are checked on a busy core too: a steady stream of other requests must not keep a slow
            # client's deadline from ever being looked at.
            now = time.monotonic()
            if now >= next_sweep or self.stopping:
                self.sweep(now)
                next_sweep = now + SWEEP_S
            if self.stopping and not conns:
                break
        reqlog.flush()
        try:
            ep.close()
        except OSError:
            pass

    def begin_stop(self):
        self.stopping = True
        self.stop_time = time.monotonic()
        for fd in self.listeners:
            try:
                self.ep.unregister(fd)
            except (OSError, ValueError):
                pass
        try:
            self.ep.unregister(self.w.wake_r)
        except (OSError, ValueError):
            pass

    def sweep(self, now):
        deadline = self.read_deadline
        for c in list(self.conns.values()):
            if c.lingering is not None:
                if now >= c.lingering:
                    self.drop(c)
                continue
            if deadline and c.started is not None and now - c.started >= deadline:
                self.reject(c, '408 Request Timeout', 'not sent within request-read-timeout (%g s)' % deadline)
                continue
            if self.stopping:
                idle = now - max(c.last, self.stop_time)
                busy = c.buf or c.receiving is not None
                if (not busy and idle >= STOP_GRACE) or idle >= self.timeout:
                    self.close(c)
            elif now - c.last > self.timeouts.get(c.lfd, self.timeout):
                self.close(c)

    def accept_batch(self, l, batch=ACCEPT_BATCH):
        """A listener is readable: takes its pending connections, each read and served at once (accept), up to
        `batch`. Under load that is one epoll_wait() per batch instead of one per connection."""
        for _ in range(batch):
            if self.stopping or not self.accept(l, read_now=True):
                return

    def accept(self, l, read_now=False):
        """Takes one pending connection of `l`; False when there was none. With `read_now` (the loop, never a signal
        handler or a request: it may run the app) the request a client sent with its connection is read and served
        at once, and the connection joins the epoll set only if it is still open after that: a uwsgi connection from
        nginx, or an HTTP one with `Connection: close`, usually never does (no epoll_ctl, no wake-up for it)."""
        try:
            fd, addr = l.sock._accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            if e.errno not in RETIRED_LISTENER:
                log.log('accept() failed on %s: %s' % (l.name, e))
            return False
        # blocking mode: every recv/send of a core is MSG_DONTWAIT; the options of `l.client` only when it sets any
        if l.nodelay and not l.keepalive:
            sock = socket.socket(l.family, socket.SOCK_STREAM, 0, fd)
        else:
            sock = l.client(fd, False)
        c = serving.Conn(sock, fd, addr, l)
        conns = self.conns
        conns[fd] = c
        if read_now:
            self.readable(c)
            if conns.get(fd) is not c:
                return True
        self.ep.register(fd, EPOLLIN)
        c.polled = True
        return True

    def close(self, c, linger=False):
        """Closes `c`. With unread input (or `linger`) it is half-closed instead and drained by the loop for at most
        LINGER_S or LINGER_BYTES (nginx's lingering close): never a reset that could destroy the response the client
        has not read yet, and never a wait that holds the core."""
        if self.conns.get(c.fd) is not c or c.lingering is not None:
            return
        if c.receiving is not None:
            c.receiving.body.spool.discard()
            c.receiving = None
        if linger or c.buf:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                return self.drop(c)
            c.buf = b''
            c.lingering = time.monotonic() + LINGER_S
            return
        self.drop(c)

    def drop(self, c):
        """Closes `c` at once."""
        if self.conns.pop(c.fd, None) is None:
            return
        if c.polled:
            try:
                self.ep.unregister(c.fd)
            except (OSError, ValueError):
                pass
        try:
            c.sock.close()
        except OSError:
            pass

    # ── requests ──────────────────────────────────────────────────────────────────────────────
    def readable(self, c):
        try:
            data = c.sock.recv(65536, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            if c.lingering is None:
                self.read_errors += 1
            self.drop(c)
            return
        if c.lingering is not None:
            c.lingered += len(data)
            if not data or c.lingered >= LINGER_BYTES:
                self.drop(c)
            return
        if not data:
            self.close(c, linger=False)
            return
        c.buf = c.buf + data if c.buf else data
        c.last = time.monotonic()
        serving.process(self, c)

    def reject(self, c, status, reason=None):
        """Answers `status` (400, 408, 431) and closes: the rest of what the client sent cannot be trusted."""
        body = status[4:].encode()
        head = ('HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n'
                % (status, len(body))).encode()
        c.buf = b''
        try:
            send_all(c.sock, head + body)
        except OSError:
            pass
        log.log('%s: rejected request from %s (%s%s)' % (self.w.tag, c.remote or 'unix', status,
                                                          ': ' + reason if reason else ''))
        self.close(c, linger=True)


def idle_timeouts(cfg, listeners):
    """{listener fd: idle timeout} for the listeners that do not use `socket-timeout`: uWSGI's `http = ADDR` is its
    HTTP router, whose client timeout is `http-timeout`; kaiser's workers serve that address themselves."""
    t = cfg.get('http-timeout')
    routed = set(cfg.get('http') or ())
    return {l.fd: t for l in listeners if t and getattr(l, 'addr', None) in routed}
