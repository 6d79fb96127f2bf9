"""HTTP/1.1 request heads for the ASGI server, parsed strictly, and the bytes of response heads.

Owns: the request line and header fields (RFC 9112) into what an ASGI scope needs, with the strict rules of
the WSGI side (issue 14): CTL bytes, bare CR or LF, obs-fold and header names that are not tokens get 400;
a repeated or non-digit Content-Length, a Transfer-Encoding other than `chunked`, both framings at once, and a
missing or repeated Host on HTTP/1.1 get 400 too. Also the status lines and the `date` header of responses
(formatted once per second).
"""
import re
import time
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

# CTL bytes, and CR or LF that are not a CRLF pair (bare line ends split requests differently per server)
_BAD_BYTES = re.compile(rb'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n')
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb'[0-9A-Fa-f]{1,15}')
_NAMES = {}                 # header name as sent -> its lower-case form (validated); bounded
_NAMES_MAX = 512
_METHODS = {m.encode(): m for m in ('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH')}
_FRAMING = frozenset((b'content-length', b'transfer-encoding', b'host', b'connection', b'upgrade', b'expect'))


class HttpError(Exception):
    """A request the server answers itself: `status` (int) and a short reason for the log."""

    def __init__(self, status, reason):
        Exception.__init__(self, reason)
        self.status = status


class Head:
    """A parsed request head."""

    __slots__ = ('method', 'target', 'path', 'raw_path', 'query', 'version', 'headers', 'length', 'chunked',
                 'keep_alive', 'upgrade', 'expect_continue', 'size')

    def __init__(self):
        self.length = None      # Content-Length, or None
        self.chunked = False
        self.upgrade = None     # lower-cased Upgrade value when Connection names `upgrade`
        self.expect_continue = False


def parse_head(buf, end):
    """The head buf[:end] (`end` is the index of the CRLFCRLF that ends it) as a Head; raises HttpError."""
    head = buf[:end]
    if _BAD_BYTES.search(head) is not None:
        raise HttpError(400, 'control character or bare CR/LF in the request head')
    le = head.find(b'\r\n')
    if le < 0:
        le = end
    parts = head[:le].split(b' ')
    if len(parts) != 3:
        raise HttpError(400, 'bad request line')
    method, target, version = parts
    h = Head()
    h.size = end + 4
    m = _METHODS.get(method)
    if m is None:
        if not method or _TOKEN.fullmatch(method) is None:
            raise HttpError(400, 'bad method')
        m = method.decode('ascii')
    h.method = m
    if version == b'HTTP/1.1':
        h.version = '1.1'
    elif version == b'HTTP/1.0':
        h.version = '1.0'
    elif version[:5] == b'HTTP/' and len(version) == 8 and version[5:6].isdigit():
        raise HttpError(505, 'unsupported HTTP version')
    else:
        raise HttpError(400, 'bad request line')
    _target(h, target)
    headers = []
    h.headers = headers
    host = 0
    connection = None
    upgrade = None
    if le < end:
        get = _NAMES.get
        for line in head[le + 2:].split(b'\r\n'):
            i = line.find(b':')
            if i <= 0:
                raise HttpError(400, 'bad header line')
            raw = line[:i]
            name = get(raw)
            if name is None:
                name = _name(raw)
            value = line[i + 1:].strip(b' \t')
            headers.append((name, value))
            if name in _FRAMING:
                if name == b'content-length':
                    if h.length is not None:
                        raise HttpError(400, 'repeated Content-Length')
                    if not value.isdigit() or len(value) > 18:
                        raise HttpError(400, 'bad Content-Length')
                    h.length = int(value)
                elif name == b'transfer-encoding':
                    if h.chunked or value.lower() != b'chunked':
                        raise HttpError(400, 'unsupported Transfer-Encoding')
                    h.chunked = True
                elif name == b'host':
                    host += 1
                elif name == b'connection':
                    connection = value if connection is None else connection + b',' + value
                elif name == b'upgrade':
                    upgrade = value
                elif value.lower() == b'100-continue':
                    h.expect_continue = True
    if h.chunked and (h.length is not None or h.version == '1.0'):
        raise HttpError(400, 'Transfer-Encoding with Content-Length or on HTTP/1.0')
    if h.version == '1.1':
        if host != 1:
            raise HttpError(400, 'missing or repeated Host')
        h.keep_alive = connection is None or not _has_token(connection, b'close')
    else:
        h.keep_alive = connection is not None and _has_token(connection, b'keep-alive')
    if upgrade is not None and connection is not None and _has_token(connection, b'upgrade'):
        h.upgrade = upgrade.lower()
    return h


def _target(h, target):
    """Path, raw path and query of the request target (origin form, absolute form or `*`)."""
    h.target = target
    if target[:1] != b'/':
        if target[:7].lower() == b'http://' or target[:8].lower() == b'https://':
            i = target.find(b'/', target.find(b'//') + 2)
            target = target[i:] if i >= 0 else b'/'
        elif target != b'*':
            raise HttpError(400, 'bad request target')
    q = target.find(b'?')
    if q >= 0:
        h.query = target[q + 1:]
        raw = target[:q]
    else:
        h.query = b''
        raw = target
    h.raw_path = raw
    if b'%' in raw:
        h.path = unquote_to_bytes(raw).decode('utf-8', 'replace')
    else:
        try:
            h.path = raw.decode('ascii')
        except UnicodeDecodeError:
            raise HttpError(400, 'bad request target')


def _name(raw):
    if _TOKEN.fullmatch(raw) is None:
        raise HttpError(400, 'bad header name')
    name = raw.lower()
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[raw] = name
    return name


def _has_token(value, token):
    return any(t.strip() == token for t in value.lower().split(b','))


def chunk_size(line):
    """The size of a chunk-size line (`1*HEXDIG [ ; ext ]`); raises HttpError when malformed."""
    size = line.split(b';', 1)[0].rstrip(b' \t')
    if _CHUNK_SIZE.fullmatch(size) is None:
        raise HttpError(400, 'bad chunk size')
    return int(size, 16)


# ── responses ────────────────────────────────────────────────────────────────────────────────────
_STATUS_LINES = {}
NO_BODY_STATUS = frozenset((204, 304))


def status_line(status):
    """b'HTTP/1.1 200 OK\\r\\n' for an int status (cached)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        if type(status) is not int or not 100 <= status <= 999:
            raise RuntimeError('invalid HTTP status %r' % (status,))
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ''
        line = ('HTTP/1.1 %d %s\r\n' % (status, phrase)).encode('latin-1')
        if len(_STATUS_LINES) < 256:
            _STATUS_LINES[status] = line
    return line


_DAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
_date = [0, b'']


def date_header():
    """b'date: <IMF-fixdate>\\r\\n' for the current second (RFC 9110 §6.6.1: origin servers with a clock send it)."""
    now = int(time.time())
    if now != _date[0]:
        t = time.gmtime(now)
        _date[0] = now
        _date[1] = ('date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n' % (
            _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)).encode()
    return _date[1]


def error_response(status, keep_alive=False, extra=b''):
    """A complete small response the server sends itself (400, 413, 431, 500, 503, 504…)."""
    body = status_line(status)[13:-2] or b'Error'
    return b''.join((status_line(status), date_header(), b'content-type: text/plain; charset=utf-8\r\n',
                     b'content-length: %d\r\n' % len(body), b'' if keep_alive else b'connection: close\r\n',
                     extra, b'\r\n', body))
