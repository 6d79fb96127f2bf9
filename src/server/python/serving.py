"""From a connection's bytes to the app and back: one request at a time per connection, in the order the client
sent them (keep-alive and pipelining).

Owns the path of a request through a request core: its head (HTTP, or a uwsgi packet), the environ built from the
listener's template, its body received in the event loop before the app runs (request_body.py: a slow client never
holds the core), `Expect: 100-continue`, running the app (wsgi.py) with the scoreboard and request log around it,
keep-alive or close afterwards, and the rejects a malformed request gets (400, 431). core.py owns the loop, the
connections and their timeouts.
"""
import _socket as socket
import struct
import time
from time import thread_time

from . import http as _http
from . import turns
from . import uwsgi_proto
from .client_io import send_all
from .request_body import EMPTY_INPUT, BadBody, ChunkedBody, LengthBody
from .version import VERSION
from .uwsgi_environ import url_scheme
from .request_log import Request
from .uwsgi_module import begin_request, log_this, logvars
from .wsgi import Errors, Exchange, FileWrapper, run

_CORE = struct.Struct('<dQII')
ERRORS = Errors()
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


class Conn:
    """A client connection of a core: what it has sent and not yet used, and the request being received."""

    __slots__ = ('sock', 'fd', 'buf', 'remote', 'rport', 'lfd', 'http', 'last', 'read_error', 'started',
                 'receiving', 'lingering', 'lingered', 'polled')

    def __init__(self, sock, fd, addr, listener):
        self.sock = sock
        self.fd = fd
        self.buf = b''
        if type(addr) is tuple:
            self.remote = addr[0]
            self.rport = str(addr[1])
        else:
            self.remote = ''
            self.rport = ''
        self.lfd = listener.fd
        self.http = listener.proto == 'http'
        self.last = time.monotonic()
        self.read_error = False
        self.started = None      # monotonic time of the first byte of the request being read, None between requests
        self.receiving = None    # Receiving: a request whose head is read and whose body is still arriving
        self.lingering = None    # closing: half-closed at this monotonic deadline, draining what the client still sends
        self.lingered = 0        # bytes drained while lingering
        self.polled = False      # registered with the core's epoll (core.accept reads a new connection first)


class Receiving:
    """A request between its head and the end of its body."""

    __slots__ = ('env', 'proto', 'keepalive', 'body', 'head_size')

    def __init__(self, env, proto, keepalive, body, head_size):
        self.env = env
        self.proto = proto
        self.keepalive = keepalive      # None: a uwsgi request (the connection closes after it)
        self.body = body                # LengthBody or ChunkedBody
        self.head_size = head_size


def template(worker, listener, core):
    cfg = worker.cfg
    hostname = socket.gethostname()
    return {
        'SCRIPT_NAME': '', 'QUERY_STRING': '',
        # uWSGI's http-socket names the machine, not the bound address (nginx's uwsgi_params override it on `socket`)
        'SERVER_NAME': hostname if listener.proto == 'http' else listener.server_name,
        'SERVER_PORT': listener.server_port,
        'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http', 'wsgi.errors': ERRORS,
        'wsgi.multithread': cfg['threads'] > 1, 'wsgi.multiprocess': cfg['processes'] > 1,
        'wsgi.run_once': False, 'wsgi.file_wrapper': FileWrapper,
        'uwsgi.version': ('kaiser-' + VERSION).encode(), 'uwsgi.core': core,
        'uwsgi.node': hostname.encode(),
    }


def process(core, c):
    """Uses what `c` has sent: finishes a body, reads heads, runs complete requests; stops when more bytes are
    needed or the connection was closed."""
    while True:
        if c.receiving is not None:
            if not _receive(core, c):
                return
            continue
        buf = c.buf
        if not buf:
            c.started = None
            return
        if c.started is None:
            c.started = c.last      # set by the read that brought these bytes, or by the request answered before them
        if not c.http:
            return _uwsgi(core, c, buf)
        end = buf.find(b'\r\n\r\n')
        if end < 0:
            if buf[:2] == b'\r\n':  # stray empty lines between requests
                c.buf = buf.lstrip(b'\r\n')
                continue
            if len(buf) > core.bufsize:
                core.reject(c, '431 Request Header Fields Too Large')
            return
        if end > core.bufsize:
            core.reject(c, '431 Request Header Fields Too Large')
            return
        if not _http_head(core, c, buf, end):
            return


def _http_head(core, c, buf, end):
    """Parses the head at the start of `buf` and runs the request once it is complete; False when the connection is
    done with or waits for more bytes."""
    env = core.templates[c.lfd].copy()
    env['REMOTE_ADDR'] = c.remote
    env['REMOTE_PORT'] = c.rport
    try:
        proto = _http.parse_head(buf, end, env)
        framing = _http.body_framing(env, proto) if 'CONTENT_LENGTH' in env or 'HTTP_TRANSFER_ENCODING' in env \
            else None
    except _http.BadRequest as e:
        core.reject(c, '400 Bad Request', str(e))
        return False
    c.buf = buf[end + 4:]
    if 'HTTP_X_FORWARDED_PROTO' in env:
        env['wsgi.url_scheme'] = url_scheme(env)
    hc = env.get('HTTP_CONNECTION')
    if proto == 'HTTP/1.1':
        keep = hc is None or 'close' not in hc.lower()
    else:
        keep = hc is not None and 'keep-alive' in hc.lower()
    if framing is None:
        return _run(core, c, env, proto, keep, None, end + 4)
    if env.get('HTTP_EXPECT', '').lower() == '100-continue':
        try:
            send_all(c.sock, CONTINUE)
        except OSError:
            core.close(c)
            return False
    limit = core.body_memory
    body = ChunkedBody(limit) if framing is _http.CHUNKED else LengthBody(framing, limit)
    c.receiving = Receiving(env, proto, keep, body, end + 4)
    return True


def _uwsgi(core, c, buf):
    """A uwsgi packet (nginx uwsgi_pass): one request, then the connection closes."""
    n = uwsgi_proto.need(buf)
    if n < 0:
        return
    if n - 4 > core.bufsize:
        core.log('invalid request block size: %d (max %d)...skip' % (n - 4, core.bufsize))
        core.close(c, linger=True)
        return
    if len(buf) < n:
        return
    env = core.templates[c.lfd].copy()
    env['REMOTE_ADDR'] = c.remote
    env['REMOTE_PORT'] = c.rport
    try:
        uwsgi_proto.parse_vars(buf, n, env)
        length = uwsgi_proto.content_length(env)
    except uwsgi_proto.PacketError as e:
        core.log('invalid uwsgi packet from %s: %s' % (c.remote or 'unix', e))
        core.close(c, linger=True)
        return
    c.buf = buf[n:]
    uwsgi_proto.complete_environ(env, modifier1=buf[0])
    proto = env['SERVER_PROTOCOL']
    if not length:
        _run(core, c, env, proto, None, None, n)
        return
    c.receiving = Receiving(env, proto, None, LengthBody(length, core.body_memory), n)
    _receive(core, c)


def _receive(core, c):
    """Feeds the buffered bytes to the body being received; runs the request once it is complete. True when the
    connection may go on with its next request."""
    r = c.receiving
    try:
        used = r.body.feed(c.buf)
    except BadBody as e:
        c.receiving = None
        r.body.spool.discard()
        core.reject(c, '400 Bad Request', str(e))
        return False
    c.buf = c.buf[used:]
    if not r.body.done():
        return False
    c.receiving = None
    return _run(core, c, r.env, r.proto, r.keepalive, r.body, r.head_size)


def _run(core, c, env, proto, keep, body, hsize):
    """Runs a complete request (`keep`: its client asked for keep-alive; None: a uwsgi request, the connection closes
    after it; `body`: its LengthBody or ChunkedBody, None without one); True when the connection stays open for the
    next one."""
    if body is None:
        env['wsgi.input'] = EMPTY_INPUT
    else:
        inp = env['wsgi.input'] = body.spool.input()
    is_http = keep is not None
    ex = Exchange(c, env, proto, keep is True, env['REQUEST_METHOD'] == 'HEAD', is_http, core.stopping_flag)
    try:
        t0 = begin(core)
        begin_request(core.request_state, env, core.requests - 1)
        run(core.app, ex)
        account(core, ex, hsize, t0)
    finally:
        if body is not None:
            inp.release()
    c.started = None
    if not is_http:
        core.close(c, linger=bool(c.buf))
        return False
    # The response promised keep-alive (or not) when its head was sent; a stop that began since then must not close
    # the connection under a client already sending its next request: that one gets `Connection: close` instead.
    if not ex.keepalive:
        core.close(c)
        return False
    c.last = time.monotonic()
    return True


def account(core, ex, hsize, t0):
    """The scoreboard and request log after one request (_run)."""
    s = core.slot
    t1 = time.time()
    if core.oneshot and not core.requests & turns.SAMPLE_MASK:
        turns.note(core.shared, t1 - t0, thread_time() - core.cpu0)
    dt = int((t1 - t0) * 1000000)
    s.running += dt
    s.avg_rt = (s.avg_rt + dt) >> 1
    s.tx += ex.body_bytes + ex.head_bytes
    if ex.exception:
        s.exceptions += 1
    if ex.write_error:
        core.write_errors += 1
    if ex.conn.read_error:
        core.read_errors += 1
    _CORE.pack_into(core.mm, core.core_off, 0.0, core.requests, core.read_errors, core.write_errors)
    s.flush()
    policy = core.reqpolicy
    if policy is not None:
        # `quiet` (disable-logging and no condition): only a request that asked to be logged is
        if not policy.quiet or log_this():
            _log_by_policy(core, policy, ex, hsize, t0, t1)
    elif core.logging:
        env = ex.env
        st = ex.status or '500'
        core.reqlog.request(t1, s.requests, env['REMOTE_ADDR'], len(env), hsize, env['REQUEST_METHOD'],
                            env['REQUEST_URI'], ex.body_bytes, int((t1 - t0) * 1000), ex.proto, st,
                            len(ex.headers or ()), ex.head_bytes, core.idx)
    if s.requests == 1:
        core.w.first_request()


def _log_by_policy(core, policy, ex, hsize, t0, t1):
    """The request log line under uWSGI's options (request_log.py): conditions, logformat, X-Forwarded-For."""
    env = ex.env
    st = ex.status or '500'
    msecs = int((t1 - t0) * 1000)
    if not policy.wanted(st, ex.body_bytes, msecs, log_this()):
        return
    addr = policy.address(env)
    if policy.pieces is None:
        core.reqlog.request(t1, core.w.slot.requests, addr, len(env), hsize, env['REQUEST_METHOD'],
                            env['REQUEST_URI'], ex.body_bytes, msecs, ex.proto, st, len(ex.headers or ()),
                            ex.head_bytes, core.idx, int((t1 - t0) * 1000000) if policy.micros else None)
        return
    core.reqlog.line(t1, policy.format(Request(env, st, ex.body_bytes, ex.head_bytes, len(ex.headers or ()), t0, t1,
                                               core.w.wid, core.idx, core.w.slot.requests, hsize, logvars(), addr)))


def begin(core):
    """The scoreboard as a request starts -> its start time. Counted at once: a client that got its response and
    then reads the stats must see it."""
    s = core.slot
    mr = core.max_requests
    if mr and s.requests + 1 >= mr and not core.stopping_flag[0]:
        # the last request: stop accepting before answering it, so the client's next connection goes to the
        # replacement
        w = core.w
        core.log('%s: reached max-requests (%d), recycling' % (w.tag, mr))
        w.retire('max-requests')
    t0 = time.time()
    n = core.requests = core.requests + 1
    if core.oneshot and not n & turns.SAMPLE_MASK:
        core.cpu0 = thread_time()
    s.requests += 1
    _CORE.pack_into(core.mm, core.core_off, t0, n, core.read_errors, core.write_errors)
    s.flush()
    return t0
