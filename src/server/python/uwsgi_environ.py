"""What uWSGI 2.0 does to a request's variables that PEP 3333 does not say, so an app behind nginx sees the environ
it saw under uWSGI (issue 15, "behind nginx").

Owns: PATH_INFO decoding of HTTP requests as uWSGI's http parser does it (core/utils.c `http_url_decode`: percent
escapes decoded, `.` and `..` segments resolved, repeated slashes collapsed, everything from `#` dropped), and
`wsgi.url_scheme` (core/protocol.c + plugins/python/wsgi_subhandler.c: `UWSGI_SCHEME` or `HTTP_X_FORWARDED_PROTO`,
whichever came last, verbatim; else `https` when `HTTPS` is `on`/`1…`; else `http`).
"""

_HEX = '0123456789abcdefABCDEF'


def decode_path(raw):
    """uWSGI's `http_url_decode` of the path part of a request target (a latin-1 str)."""
    if raw[:1] == '/' and '%' not in raw and '#' not in raw and '/.' not in raw and '//' not in raw:
        return raw      # nothing to decode, resolve or collapse: the common case, without the walk
    return _walk(raw)


def _walk(raw):
    """decode_path, one character at a time."""
    out = []
    state = 'zero'
    hexa = ''
    no_slash = bool(raw) and raw[0] != '/'
    if no_slash:
        state = 'slash'
    for i, c in enumerate(raw):
        if c == '#':
            break
        if state == 'zero':
            state = _name_char(out, c)
        elif state == 'percent1':
            if c == '%':
                out.append('%')
                state = 'zero'
            else:
                hexa = c
                state = 'percent2'
        elif state == 'percent2':
            # uWSGI's hex2num turns a bad escape into garbage; kaiser keeps it as written.
            if hexa in _HEX and c in _HEX:
                out.append(chr(int(hexa + c, 16)))
            else:
                out.append('%' + hexa + c)
            state = 'zero'
        elif state == 'slash':
            if c == '.':
                state = 'dot'
                continue
            if i > 0 or not no_slash:
                out.append('/')
            state = _name_char(out, c)
        elif state == 'dot':
            if c == '.':
                state = 'dotdot'
            elif c == '/':
                state = 'slash'
            else:
                state = _not_a_segment(out, '.', i > 1, c)
        else:  # dotdot
            if c == '/':
                _drop_segment(out)
                state = 'slash'
            else:
                state = _not_a_segment(out, '..', i > 2, c)
    if state in ('slash', 'dot'):
        out.append('/')
    elif state == 'dotdot':
        _drop_segment(out, keep_slash=True)
    elif state == 'percent1':
        out.append('%')
    elif state == 'percent2':
        out.append('%' + hexa)
    return ''.join(out)


def _name_char(out, c):
    """`c` read inside a name (or starting one): a `%` escape begins, a `/` ends the segment, anything else is
    written. Returns the next state."""
    if c == '%':
        return 'percent1'
    if c == '/':
        return 'slash'
    out.append(c)
    return 'zero'


def _not_a_segment(out, dots, slash, c):
    """`.` or `..` followed by `c` (never `/`) was a name, not a segment: writes it back (after its slash, if one was
    read) and `c`, and returns the next state."""
    if slash:
        out.append('/')
    out.append(dots)
    return _name_char(out, c)


def _drop_segment(out, keep_slash=False):
    """Removes the last path segment from `out` (a list of str pieces), up to and including its slash, or (at the
    end of the path) up to but not including it."""
    text = ''.join(out)
    cut = text.rfind('/')
    text = text[:cut + 1] if keep_slash and cut >= 0 else text[:max(cut, 0)]
    out[:] = [text] if text else []


def url_scheme(env):
    """`wsgi.url_scheme` for `env` (request variables, in the order they came)."""
    forwarded = env.get('HTTP_X_FORWARDED_PROTO')
    scheme = env.get('UWSGI_SCHEME')
    if forwarded is not None and scheme is not None:
        # Both set the same field in uWSGI: the one that came last wins.
        keys = list(env)
        scheme = forwarded if keys.index('HTTP_X_FORWARDED_PROTO') > keys.index('UWSGI_SCHEME') else scheme
    elif forwarded is not None:
        scheme = forwarded
    if scheme:
        return scheme
    https = env.get('HTTPS')
    if https and (https[:2].lower() == 'on' or https[0] == '1'):
        return 'https'
    return 'http'
