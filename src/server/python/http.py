"""HTTP/1.x on the wire: request heads into a WSGI environ, strictly, and response heads out.

Owns: request-line and header parsing (one latin-1 decode of the head, a regex for the request line, str slices for
the headers, cached header keys), the strictness that keeps a
front proxy and kaiser agreeing on where a request ends (RFC 9112, as nginx and uWSGI read it):
  - no control character in the head (HTAB only inside header values), header names are tokens, `HTTP/1.x` only;
  - a header name holding `_` is dropped (nginx's `underscores_in_headers off`): `Content_Length` can neither frame
    the body nor pose as `Content-Length` or `X-Forwarded-For` in the environ, where `-` and `_` look alike;
  - one Content-Length, of digits only; one Transfer-Encoding, `chunked` only, never together with a
    Content-Length, never on HTTP/1.0;
PATH_INFO decoded as uWSGI's http parser does (uwsgi_environ.decode_path), and the byte layout of response heads and chunked framing. Imported as
`_kaiser.http`, never as the stdlib `http`.
"""
import re

from .uwsgi_environ import decode_path


_HKEYS = {}                       # header name (str, as sent) -> its environ key, or '' for a name dropped
_SPECIAL = {'CONTENT_TYPE', 'CONTENT_LENGTH'}
_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CTL_BUT_TAB = bytes(range(9)) + bytes(range(10, 32)) + b'\x7f'
# method SP request-target SP HTTP/1.x (control characters are refused before this is matched)
_REQUEST_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ \t]+) (HTTP/1\.[0-9])")
CONTENT_LENGTH_DIGITS = 18        # below 2**63: a length no body reaches
CHUNKED = 'chunked'               # body_framing(): a chunked body


class BadRequest(Exception):
    pass


def is_token(data):
    return bool(data) and not data.translate(None, _TCHAR)


def header_key(name):
    """The environ key of header `name` (str, latin-1), or '' for a name holding `_` (dropped)."""
    key = _HKEYS.get(name)
    if key is None:
        if not is_token(name.encode('latin-1')):
            raise BadRequest('bad header name %r' % name.encode('latin-1')[:40])
        if '_' in name:
            key = ''
        else:
            s = name.upper().replace('-', '_')
            key = s if s in _SPECIAL else 'HTTP_' + s
        if len(_HKEYS) < 1000:
            _HKEYS[name] = key
    return key


def unquote(path):
    """Percent-decode to a latin-1 str (PEP 3333 'bytes as latin-1')."""
    if '%' not in path:
        return path
    raw = path.encode('latin-1')
    parts = raw.split(b'%')
    out = [parts[0]]
    for p in parts[1:]:
        try:
            out.append(bytes((int(p[:2], 16),)) + p[2:])
        except ValueError:
            out.append(b'%' + p)
    return b''.join(out).decode('latin-1')


def _request_line_error(line):
    """Why a request line (str) does not match: the reason parse_head gives."""
    parts = line.split(' ')
    if len(parts) == 3:
        proto = parts[2]
        if len(proto) != 8 or not proto.startswith('HTTP/1.') or not proto[7:].isdigit() or not proto.isascii():
            return 'bad protocol'
    return 'bad request line'


def parse_head(buf, end, env):
    """Fill `env` from the head buf[:end] (end = index of the blank line). Returns the
    request line's protocol (e.g. 'HTTP/1.1'). Raises BadRequest."""
    head = buf[:end]
    # Every control character but HTAB is refused; the CRLFs between lines are the only ones allowed.
    if len(head) - len(head.translate(None, _CTL_BUT_TAB)) != 2 * head.count(b'\r\n'):
        raise BadRequest('control character in the request head')
    # One decode of the whole head (latin-1: byte i is character i), then str slices.
    lines = head.decode('latin-1').split('\r\n')
    m = _REQUEST_LINE.fullmatch(lines[0])
    if m is None:
        raise BadRequest(_request_line_error(lines[0]))
    method, uri, proto = m.groups()
    env['REQUEST_METHOD'] = method
    env['REQUEST_URI'] = uri
    env['SERVER_PROTOCOL'] = proto
    path = uri
    if path[0] != '/':
        if path.startswith(('http://', 'https://')):
            i = path.find('/', path.find('//') + 2)
            path = path[i:] if i >= 0 else '/'
        elif path != '*':
            raise BadRequest('bad request target')
    q = path.find('?')
    if q >= 0:
        env['QUERY_STRING'] = path[q + 1:]
        path = path[:q]
    env['PATH_INFO'] = decode_path(path)
    if len(lines) > 1:
        get = _HKEYS.get
        it = iter(lines)
        next(it)
        for line in it:
            c = line.find(':')
            if c <= 0:
                raise BadRequest('bad header line')
            name = line[:c]
            key = get(name)
            if key is None:
                key = header_key(name)
            if not key:
                continue
            val = line[c + 1:].strip(' \t')
            if key in env:
                if key == 'CONTENT_LENGTH' or key == 'HTTP_TRANSFER_ENCODING':
                    raise BadRequest('repeated %s' % name)
                if key[0] == 'H':
                    env[key] = env[key] + (';' if key == 'HTTP_COOKIE' else ',') + val
                    continue
            env[key] = val
    return proto


def body_framing(env, proto):
    """How the body of a parsed request is delimited: None (no body), the Content-Length (int > 0) or CHUNKED.
    Raises BadRequest for a framing two servers could read differently."""
    te = env.get('HTTP_TRANSFER_ENCODING')
    cl = env.get('CONTENT_LENGTH')
    if te is not None:
        if te.lower() != 'chunked' or cl is not None or proto == 'HTTP/1.0':
            raise BadRequest('bad Transfer-Encoding %r' % te[:40])
        return CHUNKED
    if cl is None:
        return None
    length = content_length(cl)
    return length or None


def content_length(value):
    """A Content-Length value (str) as an int: 1*DIGIT, no sign, no space, no `_`, at most 18 digits."""
    if not value or len(value) > CONTENT_LENGTH_DIGITS or not value.isdigit() or not value.isascii():
        raise BadRequest('bad Content-Length %r' % value[:40])
    return int(value)


def response_head(proto, status, headers, extra):
    """Response head bytes: status line, app headers ((name, value) pairs of str), our extra headers, blank line."""
    if headers:
        return ('%s %s\r\n%s\r\n%s\r\n' % (proto, status, '\r\n'.join(map(': '.join, headers)), extra or '')
                ).encode('latin-1')
    return ('%s %s\r\n%s\r\n' % (proto, status, extra or '')).encode('latin-1')


def chunk(data):
    return b'%x\r\n%s\r\n' % (len(data), data)


LAST_CHUNK = b'0\r\n\r\n'
