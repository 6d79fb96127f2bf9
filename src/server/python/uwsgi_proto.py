"""The uwsgi binary protocol (what nginx `uwsgi_pass` speaks): request packet parsing.

Owns: the 4-byte header (modifier1, u16le datasize, modifier2), the vars block of u16le-length-prefixed key/value
pairs, and the environ a packet gives (what nginx leaves out filled in as uWSGI does). Strict where the body's framing
is concerned: one CONTENT_LENGTH var, of digits only, else PacketError. The response is a plain HTTP response
written by the worker, after which the connection is closed.
"""
from .http import BadRequest, content_length as _content_length, unquote
from .uwsgi_environ import url_scheme

SCRIPT_NAME_MODIFIER = 30     # uWSGI's modifier1 30: strip SCRIPT_NAME from PATH_INFO


class PacketError(Exception):
    pass


def need(buf):
    """Total packet length (header + vars) once the 4-byte header is in `buf`, else -1."""
    if len(buf) < 4:
        return -1
    return 4 + (buf[1] | (buf[2] << 8))


def datasize(buf):
    return buf[1] | (buf[2] << 8)


def parse_vars(buf, end, out=None):
    """Vars block of a complete packet -> dict of str (latin-1) values: `out` (an environ to fill) or a new one."""
    # One decode of the whole block (latin-1 maps byte i to character i, so positions agree), then str slices: a
    # decode per key and value cost more than the rest of the parse. The lengths are checked once, at the end: a
    # length that runs past the block moves `pos` past `end` (or past the buffer: IndexError), never back onto it.
    text = buf[:end].decode('latin-1')
    if out is None:
        out = {}
    pos = 4
    try:
        while pos < end:
            key_at = pos + 2
            pos = key_at + buf[pos] + 256 * buf[pos + 1]
            key = text[key_at:pos]
            value_at = pos + 2
            pos = value_at + buf[pos] + 256 * buf[pos + 1]
            if key == 'CONTENT_LENGTH' and key in out:
                raise PacketError('repeated CONTENT_LENGTH')
            out[key] = text[value_at:pos]
    except IndexError:
        raise PacketError('truncated vars block')
    if pos != end:
        raise PacketError('truncated vars block (a length runs past its end)')
    return out


def content_length(env):
    """The body length a packet's vars announce (0 when absent or empty), or PacketError."""
    value = env.get('CONTENT_LENGTH')
    if not value:
        return 0
    try:
        return _content_length(value)
    except BadRequest as e:
        raise PacketError(str(e))


def complete_environ(env, modifier1):
    """What nginx's uwsgi_params may leave out, filled in as uWSGI does. Every variable nginx sends reaches the app as
    uWSGI passes it (HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH too), and the scheme follows HTTPS / UWSGI_SCHEME /
    X-Forwarded-Proto as in uWSGI."""
    if 'HTTPS' in env or 'UWSGI_SCHEME' in env or 'HTTP_X_FORWARDED_PROTO' in env:
        env['wsgi.url_scheme'] = url_scheme(env)
    else:
        env['wsgi.url_scheme'] = 'http'
    if 'REQUEST_METHOD' not in env:
        env['REQUEST_METHOD'] = 'GET'
    uri = env.get('REQUEST_URI')
    if 'PATH_INFO' not in env:
        env['PATH_INFO'] = unquote((uri or '/').split('?', 1)[0])
    if uri is None:
        env['REQUEST_URI'] = env['PATH_INFO'] + ('?' + env['QUERY_STRING'] if env['QUERY_STRING'] else '')
    if modifier1 == SCRIPT_NAME_MODIFIER and env.get('SCRIPT_NAME') and env['PATH_INFO'].startswith(env['SCRIPT_NAME']):
        env['PATH_INFO'] = env['PATH_INFO'][len(env['SCRIPT_NAME']):]
    env['SERVER_PROTOCOL'] = env.get('SERVER_PROTOCOL') or 'HTTP/1.0'


def build(vars_, modifier1=0, modifier2=0):
    """Encode a packet (used by tests and tools)."""
    parts = []
    for k, v in vars_.items():
        kb = k.encode('latin-1')
        vb = v.encode('latin-1')
        parts.append(len(kb).to_bytes(2, 'little') + kb + len(vb).to_bytes(2, 'little') + vb)
    data = b''.join(parts)
    return bytes((modifier1,)) + len(data).to_bytes(2, 'little') + bytes((modifier2,)) + data
