"""Static files (issue 15): `static-map`, `static-map2`, `check-static`, `static-index`, `static-skip-ext`,
`static-safe`, `static-expires*`, `static-gzip-all`/`-dir`/`-ext`, served without calling the app, as uWSGI 2.0
does (core/protocol.c, core/static.c).

Owns: finding the file of a request (`StaticFiles.find`: the maps in uWSGI's order, check-static, then static-map,
then static-map2; the path resolved with realpath and kept under the map's directory or a `static-safe` one, so
neither `..` nor a symlink leads out; a directory answers with its first `static-index` file; GET and HEAD only)
and answering it (`serve`: 304 for an If-Modified-Since not older than the file, else 200 with uWSGI's headers
in its order: Expires, Content-Encoding, Content-Type, Expires by type, Content-Length, Last-Modified; HEAD
without a body). The body is a wsgi.file_wrapper, which the worker sends with sendfile(2). One deliberate
difference: uWSGI checks "under the directory" as a string prefix (`/srv/static` lets `/srv/static-old/x`
through), kaiser only at a `/` boundary.
"""
import calendar
import os
import re
import time

from . import log
from .record import Record
from .wsgi import FileWrapper

_TYPES = []
EXPIRES_KEYS = ('static-expires', 'static-expires-mtime', 'static-expires-path-info', 'static-expires-path-info-mtime',
                'static-expires-uri', 'static-expires-uri-mtime')
_DAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')


def _load_types(path='/etc/mime.types'):
    types = {}
    try:
        with open(path, encoding='latin-1') as f:
            for line in f:
                parts = line.split()
                if not parts or parts[0].startswith('#'):
                    continue
                for ext in parts[1:]:
                    types.setdefault(ext, parts[0])
    except OSError:
        pass
    return types


def mime_type(name):
    """The MIME type of file `name` by its extension (uWSGI's table: /etc/mime.types), or None."""
    if not _TYPES:
        _TYPES.append(_load_types())
    i = len(name)
    while i > 0 and name[i - 1].isalnum():
        i -= 1
    if i == 0 or name[i - 1] != '.':
        return None
    return _TYPES[0].get(name[i:])


def http_date(t):
    """RFC 1123 date of unix time `t`."""
    g = time.gmtime(t)
    return '%s, %02d %s %4d %02d:%02d:%02d GMT' % (_DAYS[g.tm_wday], g.tm_mday, _MONTHS[g.tm_mon - 1], g.tm_year,
                                                    g.tm_hour, g.tm_min, g.tm_sec)


def parse_http_date(text):
    """Unix time of an RFC 1123 date (the only form uWSGI reads), else 0."""
    try:
        return calendar.timegm(time.strptime(text.strip(), '%a, %d %b %Y %H:%M:%S GMT'))
    except (ValueError, OverflowError):
        return 0


def _int(text):
    m = re.match(r'\s*([+-]?\d+)', text)
    return int(m.group(1)) if m else 0


class Found(Record):
    """A file a request names: its real path and stat."""

    __slots__ = ('path', 'st')


class Root:
    """A directory (or, for a map, a file) files are served from: resolved with realpath on first use, as uWSGI
    does; None while it does not exist."""

    __slots__ = ('prefix', 'where', 'real', 'is_file', 'append', 'is_map')

    def __init__(self, prefix, where, append=False, is_map=True):
        self.prefix = prefix
        self.where = where
        self.append = append
        self.is_map = is_map
        self.real = self.is_file = None     # known once the root exists (resolve)

    def resolve(self):
        if self.real is None:
            try:
                real = os.path.realpath(self.where, strict=True)
            except (OSError, ValueError):
                return None
            self.is_file = self.is_map and os.path.isfile(real)
            self.real = real
        return self.real


class StaticFiles:
    """The static options of a worker."""

    def __init__(self, cfg):
        self.roots = [Root('', str(d), is_map=False) for d in cfg.get('check-static') or []]
        for key, append in (('static-map', False), ('static-map2', True)):
            for line in cfg.get(key) or []:
                point, eq, where = str(line).partition('=')
                if eq:
                    self.roots.append(Root(point, where, append))
                else:
                    log.log('%s = %s: invalid document root in static map, syntax mountpoint=docroot' % (key, line))
        self.index = [str(i) for i in cfg.get('static-index') or []]
        self.skip = [str(e) for e in cfg.get('static-skip-ext') or []]
        self.safe = [str(s) for s in cfg.get('static-safe') or []]
        self.expires = {k: _regexp_pairs(k, cfg.get(k)) for k in EXPIRES_KEYS}
        self.expires_type = [_type_pair(v) for v in cfg.get('static-expires-type') or []]
        self.expires_type_mtime = [_type_pair(v) for v in cfg.get('static-expires-type-mtime') or []]
        self.gzip_all = bool(cfg.get('static-gzip-all'))
        self.gzip_dirs = [str(d) for d in cfg.get('static-gzip-dir') or []]
        self.gzip_exts = [str(e) for e in cfg.get('static-gzip-ext') or []]

    @classmethod
    def from_config(cls, cfg):
        if not (cfg.get('check-static') or cfg.get('static-map') or cfg.get('static-map2')):
            return None
        return cls(cfg)

    # ── finding ─────────────────────────────────────────────────────────────────────────────
    def find(self, env):
        """The file the request of `env` names, or None (the app answers)."""
        path = env.get('PATH_INFO') or ''
        for ext in self.skip:
            if path.endswith(ext):
                return None
        for root in self.roots:
            if not path.startswith(root.prefix):
                continue
            real = root.resolve()
            if real is None:
                continue
            found = self._file(env, root, path if root.append or not root.is_map else path[len(root.prefix):])
            if found is not None:
                return found
        return None

    def _file(self, env, root, rest):
        name = root.real if root.is_file else root.real + '/' + rest
        try:
            real = os.path.realpath(name, strict=True)
        except (OSError, ValueError):
            return None
        if not _under(real, root.real) and not any(real.startswith(s) for s in self.safe):
            log.log('[uwsgi-fileserve] security error: %s is not under %s or a safe path' % (real, root.real))
            return None
        try:
            st = os.stat(real)
        except (OSError, ValueError):
            return None
        if (st.st_mode & 0o170000) == 0o040000:
            dir_real = real
            for index in self.index:
                candidate = dir_real + index if dir_real.endswith('/') else dir_real + '/' + index
                try:
                    st = os.stat(candidate)
                except OSError:
                    continue
                if (st.st_mode & 0o170000) == 0o100000:
                    real = candidate
                    p = env.get('PATH_INFO') or ''
                    env['PATH_INFO'] = p + index if p.endswith('/') or not p else p + '/' + index
                    break
            else:
                return None
        elif (st.st_mode & 0o170000) != 0o100000:
            return None
        if env.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            return None
        for ext in self.skip:
            if real.endswith(ext):
                return None
        return Found(real, st)

    # ── answering ───────────────────────────────────────────────────────────────────────────
    def serve(self, env, found, start_response):
        # as uWSGI: the type is the plain file's, everything else (Expires by name, dates, length) the encoded one's
        ctype = mime_type(found.path)
        path, encoding, st = self._encoded(env, found.path, found.st)
        mtime = int(st.st_mtime)
        ims = env.get('HTTP_IF_MODIFIED_SINCE')
        if ims and mtime <= parse_http_date(ims):
            start_response('304 Not Modified', [])
            return []
        now = int(time.time())
        headers = self._expires(env, path, now, mtime)
        if encoding:
            headers.append(('Content-Encoding', encoding))
        if ctype:
            headers.append(('Content-Type', ctype))
            for pairs, base in ((self.expires_type, now), (self.expires_type_mtime, mtime)):
                match = next((secs for t, secs in pairs if t == ctype), None)
                if match is not None:
                    headers.append(('Expires', http_date(base + match)))
                    break
        headers.append(('Content-Length', str(st.st_size)))
        headers.append(('Last-Modified', http_date(mtime)))
        start_response('200 OK', headers)
        if env.get('REQUEST_METHOD') == 'HEAD':
            return []
        return FileWrapper(open(path, 'rb'))

    def _expires(self, env, path, now, mtime):
        out = []
        for subject, key in ((path, 'static-expires'), (env.get('PATH_INFO') or '', 'static-expires-path-info'),
                             (env.get('REQUEST_URI') or '', 'static-expires-uri')):
            for pairs, base in ((self.expires[key], now), (self.expires[key + '-mtime'], mtime)):
                secs = next((s for rx, s in pairs if rx.search(subject)), None)
                if secs is not None:
                    out.append(('Expires', http_date(base + secs)))
                    break
        return out

    def _encoded(self, env, path, st):
        """uWSGI's static-gzip: the `.br` or `.gz` file next to `path` when the client takes it."""
        accept = env.get('HTTP_ACCEPT_ENCODING') or ''
        if not accept or not (self.gzip_all or any(path.startswith(d) for d in self.gzip_dirs)
                              or any(path.endswith(e) for e in self.gzip_exts)):
            return path, None, st
        for token, suffix in (('br', '.br'), ('gzip', '.gz')):
            if token in accept:
                try:
                    return path + suffix, token, os.stat(path + suffix)
                except OSError:
                    pass
        return path, None, st


def _under(real, root):
    return real == root or real.startswith(root if root.endswith('/') else root + '/')


def _regexp_pairs(key, values):
    out = []
    for line in values or []:
        pattern, _, secs = str(line).partition(' ')
        try:
            out.append((re.compile(pattern), _int(secs)))
        except re.error as e:
            log.log('%s = %s: bad regexp: %s, ignored' % (key, line, e))
    return out


def _type_pair(line):
    t, _, secs = str(line).partition('=')
    return t, _int(secs)
