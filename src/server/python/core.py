"""One request core of a worker: an epoll loop over the listening sockets and the worker's client connections.
Requests are handled inline (serving.py), and only once they are complete, head and body: idle keep-alive connections
and slow clients never hold a core.

With `threads` > 1 the cores of a worker share one epoll and its connections and take turns polling it (turns.py):
a request that blocks in the app holds neither new connections nor those its core accepted with it.

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
from . import turns
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
        shared = getattr(worker, 'shared', None)
        if shared is None:
            shared = worker.shared = turns.Shared()
        self.shared = shared
        self.ep = shared.ep
        self.conns = shared.conns
        self.oneshot = turns.ONESHOT if worker.cfg['threads'] > 1 else 0   # a connection is read by one core at a time
        self.current = None         # the connection this core is reading or serving (a sweep leaves it alone)
        self.cpu0 = 0.0             # this thread's CPU time when its request began (threads > 1: turns.note)
        self.maxevents = 1 if self.oneshot else -1
        self.watch = turns.Watch(self) if self.oneshot else None     # its wait while another core leads
        self.leading = False
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
        shared = self.shared
        idx = self.idx
        w = self.w
        if idx == 0:
            if not w.stopping[0]:
                for fd in self.listeners:
                    try:
                        ep.register(fd, EPOLLIN | EXCL)
                    except OSError:
                        pass
            ep.register(w.wake_r, EPOLLIN)
            ep.register(w.life_r, EPOLLIN)
        next_sweep = time.monotonic() + SWEEP_S
        reqlog = self.reqlog
        while True:
            if shared.eager or shared.leader == idx:
                self.leading = True
                try:
                    # with threads > 1 one event per poll: none waits behind a request that blocks in the app
                    events = ep.poll(0.1 if (reqlog.size or self.stopping) else SWEEP_S, self.maxevents)
                except InterruptedError:
                    continue
                if events:
                    self.handle(events)
            else:
                if self.leading:
                    self.leading = False
                    self.watch.arm()        # this core's request ran long and another took the turn
                events = self.watch.follow(0.1 if (reqlog.size or self.stopping) else SWEEP_S)
            if reqlog.size and (not events or reqlog.size > 3072):
                reqlog.flush()
            # Timeouts are checked on a busy core too: a steady stream of other requests must not keep a slow
            # client's deadline from ever being looked at. Only by the leader: one core at a time closes connections.
            now = time.monotonic()
            if shared.leader == idx and (now >= next_sweep or self.stopping):
                self.sweep(now)
                next_sweep = now + SWEEP_S
            if w.stopping[0] and not self.stopping:
                self.begin_stop()
            if self.stopping and not conns:
                break
        reqlog.flush()
        if self.watch is not None:
            self.watch.close()
        if idx == 0:
            try:
                ep.close()
            except OSError:
                pass

    def handle(self, events):
        """Handles the polled events (one, with threads > 1)."""
        conns = self.conns
        lfds = self.listeners
        w = self.w
        for fd, ev in events:
            c = conns.get(fd)
            if c is not None:
                self.current = c
                self.readable(c)
                if self.oneshot and conns.get(fd) is c:
                    self.rearm(c)
                self.current = None
            elif fd in lfds:
                # a batch only when nothing else is ready: a client already connected never waits behind a run of
                # new connections
                self.accept_batch(lfds[fd], ACCEPT_BATCH if len(events) == 1 else 1)
            elif fd == w.wake_r:
                if not self.stopping:
                    self.begin_stop()
                try:
                    self.ep.unregister(w.wake_r)
                except (OSError, ValueError):
                    pass
            elif fd == w.life_r:
                w.master_gone()

    def rearm(self, c):
        """`c` stays open after its event: armed again (one-shot) for whichever core leads."""
        try:
            self.ep.modify(c.fd, EPOLLIN | turns.ONESHOT)
        except OSError:
            self.drop(c)

    def begin_stop(self):
        self.stopping = True
        self.stop_time = time.monotonic()
        for fd in self.listeners:
            try:
                self.ep.unregister(fd)
            except (OSError, ValueError):
                pass

    def sweep(self, now):
        deadline = self.read_deadline
        serving = [core.current for core in self.w.cores] if self.oneshot else ()
        for c in list(self.conns.values()):
            if c in serving:
                continue            # another core is reading or serving it
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
        shared = self.shared
        idx = self.idx
        for _ in range(batch):
            if self.stopping or (shared.leader != idx and not shared.eager) or not self.accept(l, read_now=True):
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
            self.current = c
            self.readable(c)
            self.current = None
            if conns.get(fd) is not c:
                return True
        self.ep.register(fd, EPOLLIN | self.oneshot)
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
