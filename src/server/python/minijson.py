"""A tiny JSON reader/writer for the master and the workers.

Owns: JSON text ⇄ Python values for KAISER_CONFIG, emperor packets, worker status messages
and the stats document. The stdlib `json` pulls in `re` and `enum` (≈1.7 MB of private
memory per process); this module keeps a vassal's master + worker small.
"""

_ESC = {'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}
_WS = ' \t\n\r'
_INF = float('inf')


class JSONError(ValueError):
    pass


def loads(s):
    if isinstance(s, (bytes, bytearray)):
        s = s.decode('utf-8')
    v, i = _value(s, _skip(s, 0))
    if _skip(s, i) != len(s):
        raise JSONError('extra data at %d' % i)
    return v


def _skip(s, i):
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _value(s, i):
    if i >= len(s):
        raise JSONError('unexpected end')
    c = s[i]
    if c == '{':
        return _object(s, i)
    if c == '[':
        return _array(s, i)
    if c == '"':
        return _string(s, i + 1)
    for word, val in (('true', True), ('false', False), ('null', None)):
        if s.startswith(word, i):
            return val, i + len(word)
    return _number(s, i)


def _object(s, i):
    out = {}
    i, closed = _open(s, i, '}')
    while not closed:
        if s[i:i + 1] != '"':
            raise JSONError('expected a key at %d' % i)
        k, i = _string(s, i + 1)
        i = _skip(s, i)
        if s[i:i + 1] != ':':
            raise JSONError('expected : at %d' % i)
        out[k], i = _value(s, _skip(s, i + 1))
        i, closed = _next_item(s, i, '}')
    return out, i


def _array(s, i):
    out = []
    i, closed = _open(s, i, ']')
    while not closed:
        v, i = _value(s, i)
        out.append(v)
        i, closed = _next_item(s, i, ']')
    return out, i


def _open(s, i, close):
    """Past an opening bracket at s[i] -> (index of the first item, or past `close` if empty; closed)."""
    i = _skip(s, i + 1)
    if s[i:i + 1] == close:
        return i + 1, True
    return i, False


def _next_item(s, i, close):
    """After an item: past ',' to the next item, or past `close` -> (index, closed)."""
    i = _skip(s, i)
    c = s[i:i + 1]
    if c == close:
        return i + 1, True
    if c != ',':
        raise JSONError('expected , or %s at %d' % (close, i))
    return _skip(s, i + 1), False


def _digits(s, j):
    """Index just past the ASCII digits at s[j:] (str.isdigit would also take '²' and other digits)."""
    n = len(s)
    while j < n and '0' <= s[j] <= '9':
        j += 1
    return j


def _number(s, i):
    """RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? -- no '+5', no '01', no '.5', no '1.'."""
    j = i + 1 if s[i] == '-' else i
    c = s[j:j + 1]
    if c == '0':
        j += 1
    elif '1' <= c <= '9':
        j = _digits(s, j + 1)
    else:
        raise JSONError('unexpected %r at %d' % (s[i], i))
    is_float = False
    if s[j:j + 1] == '.':
        k = _digits(s, j + 1)
        if k == j + 1:
            raise JSONError('bad number %r' % s[i:k + 1])
        j, is_float = k, True
    if s[j:j + 1] in ('e', 'E'):
        k = j + 1
        if s[k:k + 1] in ('+', '-'):
            k += 1
        end = _digits(s, k)
        if end == k:
            raise JSONError('bad number %r' % s[i:end + 1])
        j, is_float = end, True
    text = s[i:j]
    return (float(text) if is_float else int(text)), j


def _string(s, i):
    out = []
    while True:
        j = s.find('"', i)
        k = s.find('\\', i, j if j >= 0 else len(s))
        if j < 0:
            raise JSONError('unterminated string')
        if k < 0:
            _check_plain(s, i, j)
            out.append(s[i:j])
            return ''.join(out), j + 1
        _check_plain(s, i, k)
        out.append(s[i:k])
        e = s[k + 1:k + 2]
        if e == 'u':
            cp = _hex4(s, k + 2)
            i = k + 6
            if 0xd800 <= cp < 0xdc00 and s[i:i + 2] == '\\u':
                lo = _hex4(s, i + 2)
                if 0xdc00 <= lo < 0xe000:
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
                    i += 6
            out.append(chr(cp))
        elif e in _ESC:
            out.append(_ESC[e])
            i = k + 2
        else:
            raise JSONError('bad escape at %d' % k)


def _check_plain(s, i, j):
    """Raw control characters are not allowed inside a JSON string (they must be escaped)."""
    for ch in s[i:j]:
        if ch < ' ':
            raise JSONError('control character %r in a string' % ch)


_HEX = frozenset('0123456789abcdefABCDEF')


def _hex4(s, i):
    digits = s[i:i + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        raise JSONError('bad \\u escape at %d' % (i - 2))
    return int(digits, 16)


def _quote(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == '\\':
            out.append('\\' + ch)
        elif o < 0x20 or 0xd800 <= o < 0xe000:
            # control characters must be escaped; lone surrogates cannot be encoded as UTF-8
            out.append({'\n': '\\n', '\r': '\\r', '\t': '\\t'}.get(ch) or '\\u%04x' % o)
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def dumps(v, indent=None, _level=0):
    if v is None:
        return 'null'
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, float):
        if v != v or v in (_INF, -_INF):
            raise JSONError('%r is not a JSON number' % v)
        return repr(v)
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, dict):
        if not v:
            return '{}'
        items = [_key(k) + (': ' if indent else ':') + dumps(x, indent, _level + 1) for k, x in v.items()]
        return _wrap('{', '}', items, indent, _level)
    if isinstance(v, (list, tuple)):
        if not v:
            return '[]'
        return _wrap('[', ']', [dumps(x, indent, _level + 1) for x in v], indent, _level)
    if isinstance(v, bytes):
        return _quote(v.decode('latin-1'))
    return _quote(str(v))


def _key(k):
    """An object key as the stdlib json writes it: str as is; bool, None and numbers as their JSON text."""
    if isinstance(k, str):
        return _quote(k)
    if k is None or isinstance(k, (bool, int, float)):
        return '"%s"' % dumps(k)
    return _quote(str(k))


def _wrap(a, b, items, indent, level):
    if not indent:
        return a + ','.join(items) + b
    pad = '\n' + indent * (level + 1)
    return a + pad + (',' + pad).join(items) + '\n' + indent * level + b
