"""HTTP/1.x on the wire: request-head parsing into a WSGI environ and response-head building.

Owns: request line and header parsing (bytes.find based, one pass, cached header keys),
percent-decoding of PATH_INFO, and the byte layout of response heads and chunked framing.
Imported as `_kaiser.http`, never as the stdlib `http`.
"""

_HKEYS = {}
_SPECIAL = {'CONTENT_TYPE', 'CONTENT_LENGTH'}


class BadRequest(Exception):
    pass


def header_key(name):
    key = _HKEYS.get(name)
    if key is None:
        if not name or b' ' in name or b'\t' in name:
            raise BadRequest('bad header name')
        s = name.decode('latin-1').upper().replace('-', '_')
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


def parse_head(buf, end, env):
    """Fill `env` from the head buf[:end] (end = index of the blank line). Returns the
    request line's protocol (e.g. 'HTTP/1.1')."""
    le = buf.find(b'\r\n', 0, end + 2)
    parts = buf[:le].split(b' ')
    if len(parts) != 3:
        raise BadRequest('bad request line')
    method, uri, proto = parts
    if not proto.startswith(b'HTTP/1.') or not method or not uri:
        raise BadRequest('bad request line')
    smethod = method.decode('latin-1')
    if not smethod.isalpha() and not smethod.replace('-', '').isalpha():
        raise BadRequest('bad method')
    suri = uri.decode('latin-1')
    sproto = proto.decode('latin-1')
    env['REQUEST_METHOD'] = smethod
    env['REQUEST_URI'] = suri
    env['SERVER_PROTOCOL'] = sproto
    path = suri
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
    env['PATH_INFO'] = unquote(path)
    if le < end:
        get = _HKEYS.get
        for line in buf[le + 2:end].split(b'\r\n'):
            c = line.find(b':')
            if c <= 0:
                raise BadRequest('bad header line')
            name = line[:c]
            key = get(name) or header_key(name)
            val = line[c + 1:].strip().decode('latin-1')
            if key in env and key[0] == 'H':
                env[key] = env[key] + (';' if key == 'HTTP_COOKIE' else ',') + val
            else:
                env[key] = val
    return sproto


def response_head(proto, status, headers, extra):
    """Response head bytes: status line, app headers, our extra headers, blank line."""
    out = [proto, ' ', status, '\r\n']
    for k, v in headers:
        out.append(k)
        out.append(': ')
        out.append(v)
        out.append('\r\n')
    if extra:
        out.append(extra)
    out.append('\r\n')
    return ''.join(out).encode('latin-1')


def chunk(data):
    return b'%x\r\n%s\r\n' % (len(data), data)


LAST_CHUNK = b'0\r\n\r\n'
