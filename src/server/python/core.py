"""One request core of a worker: an epoll loop over the shared listening sockets and this
core's own client connections; each request is handled inline, so idle keep-alive
connections never hold a core.

Owns: accept, reading request heads (HTTP and uwsgi), building the environ from a per-socket
template, keep-alive and pipelining, idle timeouts, 400/431 rejects, the graceful drain of
a retiring worker, scoreboard updates and the request log.
"""
import os
import select
import _socket as socket
import struct
import time

from . import http as _http
from . import uwsgi_proto
from . import log
from .version import VERSION
from .client_io import send_all
from .request_body import EMPTY_INPUT, ChunkedInput, LengthInput
from .wsgi import Errors, Exchange, FileWrapper, run

EPOLLIN = select.EPOLLIN
EXCL = getattr(select, 'EPOLLEXCLUSIVE', 0)
STOP_GRACE = 0.5   # a retiring worker closes keep-alive connections idle this long
_CORE = struct.Struct('<dQII')
_START = struct.Struct('<d')
ERRORS = Errors()


class Conn:
    __slots__ = ('sock', 'fd', 'buf', 'remote', 'rport', 'lfd', 'http', 'last', 'read_error')

    def __init__(self, sock, addr, listener):
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = b''
        if isinstance(addr, tuple):
            self.remote = addr[0]
            self.rport = str(addr[1])
        else:
            self.remote = ''
            self.rport = ''
        self.lfd = listener.fd
        self.http = listener.proto == 'http'
        self.last = time.monotonic()
        self.read_error = False


def template(worker, listener, core):
    cfg = worker.cfg
    return {
        'SCRIPT_NAME': '', 'QUERY_STRING': '',
        'SERVER_NAME': listener.server_name, 'SERVER_PORT': listener.server_port,
        'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http', 'wsgi.errors': ERRORS,
        'wsgi.multithread': cfg['threads'] > 1, 'wsgi.multiprocess': cfg['processes'] > 1,
        'wsgi.run_once': False, 'wsgi.file_wrapper': FileWrapper,
        'uwsgi.version': ('kaiser-' + VERSION).encode(), 'uwsgi.core': core, 'uwsgi.node': socket.gethostname().encode(),
    }


class Core:
    def __init__(self, worker, idx):
        self.w = worker
        self.idx = idx
        self.ep = select.epoll()
        self.conns = {}
        self.listeners = {l.fd: l for l in worker.listeners}
        self.templates = {l.fd: template(worker, l, idx) for l in worker.listeners}
        self.mm = worker.mm
        self.core_off = worker.slot.core_off(idx)
        self.requests = 0
        self.read_errors = 0
        self.write_errors = 0
        self.reqlog = log.RequestLog()
        self.logging = not worker.cfg.get('disable-logging')
        self.bufsize = worker.cfg['buffer-size']
        self.timeout = worker.cfg['socket-timeout'] or 4.0
        self.stopping = False
        self.stop_time = 0.0

    # ── loop ──────────────────────────────────────────────────────────────────────────────────
    def run(self):
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
        next_sweep = time.monotonic() + 1.0
        reqlog = self.reqlog
        while True:
            try:
                events = ep.poll(0.1 if (reqlog.size or self.stopping) else 1.0)
            except InterruptedError:
                continue
            for fd, ev in events:
                c = conns.get(fd)
                if c is not None:
                    self.readable(c)
                elif fd in lfds:
                    if not self.stopping:
                        self.accept(lfds[fd])
                elif fd == w.wake_r:
                    if not self.stopping:
                        self.begin_stop()
                elif fd == w.life_r:
                    w.master_gone()
            if reqlog.size and (not events or reqlog.size > 3072):
                reqlog.flush()
            if self.stopping or not events:
                now = time.monotonic()
                if now >= next_sweep or self.stopping:
                    self.sweep(now)
                    next_sweep = now + 1.0
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
        if self.stopping:
            for c in list(self.conns.values()):
                idle = now - max(c.last, self.stop_time)
                if (not c.buf and idle >= STOP_GRACE) or idle >= self.timeout:
                    self.close(c)
        else:
            limit = now - self.timeout
            for c in list(self.conns.values()):
                if c.last < limit:
                    self.close(c)

    def accept(self, l):
        try:
            fd, addr = l.sock._accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            if e.errno not in (9, 88):  # EBADF/ENOTSOCK: the socket was just retired
                log.log('accept() failed on %s: %s' % (l.name, e))
            return False
        sock = socket.socket(l.family, socket.SOCK_STREAM, 0, fd)
        sock.setblocking(False)
        if l.family != socket.AF_UNIX:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        c = Conn(sock, addr, l)
        self.conns[c.fd] = c
        self.ep.register(c.fd, EPOLLIN)
        return True

    def close(self, c, linger=False):
        if self.conns.pop(c.fd, None) is None:
            return
        try:
            self.ep.unregister(c.fd)
        except (OSError, ValueError):
            pass
        sock = c.sock
        if linger or c.buf:
            # never reset a connection with unread input: half-close, drain briefly, close
            try:
                sock.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + 0.5
                p = select.poll()
                p.register(c.fd, select.POLLIN)
                total = 0
                while total < 1 << 20:
                    left = deadline - time.monotonic()
                    if left <= 0 or not p.poll(left * 1000):
                        break
                    d = sock.recv(65536)
                    if not d:
                        break
                    total += len(d)
            except OSError:
                pass
        try:
            sock.close()
        except OSError:
            pass

    # ── requests ──────────────────────────────────────────────────────────────────────────────
    def readable(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.read_errors += 1
            self.close(c)
            return
        if not data:
            self.close(c, linger=False)
            return
        c.buf = c.buf + data if c.buf else data
        c.last = time.monotonic()
        self.process(c)

    def process(self, c):
        while c.buf:
            buf = c.buf
            if c.http:
                end = buf.find(b'\r\n\r\n')
                if end < 0:
                    if buf[:2] == b'\r\n':  # stray empty lines between requests
                        c.buf = buf.lstrip(b'\r\n')
                        continue
                    if len(buf) > self.bufsize:
                        self.reject(c, '431 Request Header Fields Too Large')
                    return
                if end > self.bufsize:
                    self.reject(c, '431 Request Header Fields Too Large')
                    return
                if not self.http_request(c, buf, end):
                    self.close(c)
                    return
                if c.fd not in self.conns:
                    return
                c.last = time.monotonic()
            else:
                n = uwsgi_proto.need(buf)
                if n < 0:
                    return
                if n - 4 > self.bufsize:
                    log.log('invalid request block size: %d (max %d)...skip' % (n - 4, self.bufsize))
                    self.close(c, linger=True)
                    return
                if len(buf) < n:
                    return
                self.uwsgi_request(c, buf, n)
                self.close(c, linger=bool(c.buf))
                return

    def reject(self, c, status):
        body = status[4:].encode()
        head = ('HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n'
                % (status, len(body))).encode()
        try:
            send_all(c.sock, head + body)
        except OSError:
            pass
        log.log('%s: rejected request from %s (%s)' % (self.w.tag, c.remote or 'unix', status))
        self.close(c, linger=True)

    def http_request(self, c, buf, end):
        env = self.templates[c.lfd].copy()
        env['REMOTE_ADDR'] = c.remote
        env['REMOTE_PORT'] = c.rport
        try:
            proto = _http.parse_head(buf, end, env)
        except _http.BadRequest:
            c.buf = b''
            self.reject(c, '400 Bad Request')
            return True
        c.buf = buf[end + 4:]
        te = env.get('HTTP_TRANSFER_ENCODING')
        if te is not None:
            if te.strip().lower() != 'chunked' or 'CONTENT_LENGTH' in env:
                c.buf = b''
                self.reject(c, '400 Bad Request')
                return True
            inp = ChunkedInput(c)
        else:
            cl = env.get('CONTENT_LENGTH')
            if cl:
                try:
                    n = int(cl)
                    if n < 0:
                        raise ValueError(cl)
                except ValueError:
                    c.buf = b''
                    self.reject(c, '400 Bad Request')
                    return True
                inp = LengthInput(c, n) if n else EMPTY_INPUT
            else:
                inp = EMPTY_INPUT
        env['wsgi.input'] = inp
        hc = env.get('HTTP_CONNECTION')
        if proto == 'HTTP/1.1':
            keep = hc is None or 'close' not in hc.lower()
        else:
            keep = hc is not None and 'keep-alive' in hc.lower()
        if inp is not EMPTY_INPUT and env.get('HTTP_EXPECT', '').lower() == '100-continue':
            try:
                send_all(c.sock, b'HTTP/1.1 100 Continue\r\n\r\n')
            except OSError:
                return False
        ex = Exchange(c, env, proto, keep, env['REQUEST_METHOD'] == 'HEAD', True, self.w.stopping)
        self.serve(ex, end + 4)
        if ex.keepalive and inp is not EMPTY_INPUT and not inp.drain():
            return False
        # The response promised keep-alive (or not) when its head was sent; a stop that began since then must not
        # close the connection under a client that is already sending its next request: that one gets
        # `Connection: close` instead.
        return ex.keepalive

    def uwsgi_request(self, c, buf, n):
        env = self.templates[c.lfd].copy()
        env['REMOTE_ADDR'] = c.remote
        env['REMOTE_PORT'] = c.rport
        try:
            env.update(uwsgi_proto.parse_vars(buf, n))
        except uwsgi_proto.PacketError as e:
            log.log('invalid uwsgi packet from %s: %s' % (c.remote or 'unix', e))
            return
        c.buf = buf[n:]
        env.pop('HTTP_CONTENT_TYPE', None)
        env.pop('HTTP_CONTENT_LENGTH', None)
        env.setdefault('REQUEST_METHOD', 'GET')
        uri = env.get('REQUEST_URI')
        if 'PATH_INFO' not in env:
            p = (uri or '/').split('?', 1)[0]
            env['PATH_INFO'] = _http.unquote(p)
        if uri is None:
            env['REQUEST_URI'] = env['PATH_INFO'] + ('?' + env['QUERY_STRING'] if env['QUERY_STRING'] else '')
        if buf[0] == 30 and env.get('SCRIPT_NAME') and env['PATH_INFO'].startswith(env['SCRIPT_NAME']):
            env['PATH_INFO'] = env['PATH_INFO'][len(env['SCRIPT_NAME']):]
        proto = env.get('SERVER_PROTOCOL') or 'HTTP/1.0'
        env['SERVER_PROTOCOL'] = proto
        cl = env.get('CONTENT_LENGTH')
        inp = EMPTY_INPUT
        if cl:
            try:
                inp = LengthInput(c, int(cl))
            except ValueError:
                pass
        env['wsgi.input'] = inp
        ex = Exchange(c, env, proto, False, env['REQUEST_METHOD'] == 'HEAD', False, self.w.stopping)
        self.serve(ex, n)

    def serve(self, ex, hsize):
        w = self.w
        mr = w.max_requests
        if mr and w.slot.requests + 1 >= mr and not w.stopping[0]:
            # the last request: stop accepting before answering it, so the client's next
            # connection goes to the replacement
            log.log('%s: reached max-requests (%d), recycling' % (w.tag, mr))
            w.retire('max-requests')
        t0 = time.time()
        # Count the request as it starts: a client that got its response and then reads the stats must see it.
        self.requests += 1
        s = w.slot
        s.requests += 1
        _CORE.pack_into(self.mm, self.core_off, t0, self.requests, self.read_errors, self.write_errors)
        s.flush()
        run(w.app, ex)
        t1 = time.time()
        dt = int((t1 - t0) * 1000000)
        s.running += dt
        s.avg_rt = (s.avg_rt + dt) >> 1
        s.tx += ex.body_bytes + ex.head_bytes
        if ex.exception:
            s.exceptions += 1
        if ex.write_error:
            self.write_errors += 1
        if ex.conn.read_error:
            self.read_errors += 1
        _CORE.pack_into(self.mm, self.core_off, 0.0, self.requests, self.read_errors, self.write_errors)
        s.flush()
        if self.logging:
            env = ex.env
            st = ex.status or '500'
            self.reqlog.request(t1, s.requests, env['REMOTE_ADDR'], len(env), hsize, env['REQUEST_METHOD'],
                                env['REQUEST_URI'], ex.body_bytes, int((t1 - t0) * 1000), ex.proto, st,
                                len(ex.headers or ()), ex.head_bytes, self.idx)
        if s.requests == 1:
            w.first_request()
