"""uWSGI's request log options (issue 15): `logformat` with uWSGI's request variables, `log-x-forwarded-for`,
`log-micros`, and conditional logging (`log-4xx`, `log-5xx`, `log-slow`, `log-big`, `log-zero`, which log a request
even under `disable-logging`, as uWSGI's `uwsgi_log_request` does; `uwsgi.log_this_request()` too).

Owns: compiling a format string once per worker into a list of pieces, and the decision whether one request is
logged. log.py writes the lines; serving.py calls `Policy.line` after each request. When none of these options is
set, `policy(cfg)` is None and the request log stays on its fast default path.
"""
import collections
import os
import re
import time

from .uwsgi_module import log_skipped

ROUTE_KEYS = ('route', 'route-run', 'route-host', 'route-uri', 'route-qs', 'route-remote-addr', 'route-user-agent',
              'route-referer', 'route-remote-user')

_VAR = re.compile(r'%\(([^)]*)\)')
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')


# What one finished request offers to the format: its environ, response figures and times.
Request = collections.namedtuple('Request', ('env', 'status', 'body', 'head', 'nheaders', 'start', 'end', 'wid', 'core',
                                             'wreq', 'hsize', 'logvars', 'addr'))


def _env(key):
    return lambda r: r.env.get(key) or '-'


def _ltime(r):
    t = time.localtime(r.start)
    off = -(time.altzone if t.tm_isdst > 0 else time.timezone)
    sign = '+' if off >= 0 else '-'
    off = abs(off) // 60
    return '%02d/%s/%d:%02d:%02d:%02d %s%02d%02d' % (t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour,
                                                     t.tm_min, t.tm_sec, sign, off // 60, off % 60)


def _rss(r, scale=1):
    try:
        with open('/proc/self/statm') as f:
            size, resident = f.read().split()[:2]
        return str(int(resident) * os.sysconf('SC_PAGE_SIZE') // scale)
    except (OSError, ValueError):
        return '0'


def _vsz(r, scale=1):
    try:
        with open('/proc/self/statm') as f:
            size = f.read().split()[0]
        return str(int(size) * os.sysconf('SC_PAGE_SIZE') // scale)
    except (OSError, ValueError):
        return '0'


# uWSGI 2.0's request variables (core/logging.c), measured against uWSGI 2.0.21 for their shape.
VARIABLES = {
    'uri': _env('REQUEST_URI'),
    'method': _env('REQUEST_METHOD'),
    'user': _env('REMOTE_USER'),
    'addr': lambda r: r.addr or '-',
    'host': lambda r: r.env.get('HTTP_HOST') or r.env.get('SERVER_NAME') or '-',
    'proto': _env('SERVER_PROTOCOL'),
    'uagent': _env('HTTP_USER_AGENT'),
    'referer': _env('HTTP_REFERER'),
    'status': lambda r: r.status[:3],
    'micros': lambda r: str(int((r.end - r.start) * 1000000)),
    'msecs': lambda r: str(int((r.end - r.start) * 1000)),
    'time': lambda r: str(int(r.start)),
    'tmsecs': lambda r: str(int(r.start * 1000)),
    'tmicros': lambda r: str(int(r.start * 1000000)),
    'epoch': lambda r: str(int(r.end)),
    'ctime': lambda r: time.ctime(r.start),
    'ltime': _ltime,
    'size': lambda r: str(r.body + r.head),
    'rsize': lambda r: str(r.body),
    'hsize': lambda r: str(r.head),
    'cl': lambda r: str(int(r.env.get('CONTENT_LENGTH') or 0)),
    'pid': lambda r: str(os.getpid()),
    'wid': lambda r: str(r.wid),
    'core': lambda r: str(r.core),
    'switches': lambda r: '1',
    'vars': lambda r: str(len(r.env)),
    'pktsize': lambda r: str(r.hsize),
    'headers': lambda r: str(r.nheaders),
    'modifier1': lambda r: '0',
    'modifier2': lambda r: '0',
    'werr': lambda r: '0',
    'rerr': lambda r: '0',
    'ioerr': lambda r: '0',
    'rss': _rss,
    'vsz': _vsz,
    'rssM': lambda r: _rss(r, 1 << 20),
    'vszM': lambda r: _vsz(r, 1 << 20),
}


def compile_format(fmt):
    """`fmt` as a list of str (literal text) and callables of a Request (variables)."""
    pieces = []
    at = 0
    for m in _VAR.finditer(fmt):
        if m.start() > at:
            pieces.append(fmt[at:m.start()])
        pieces.append(_variable(m.group(1)))
        at = m.end()
    if at < len(fmt):
        pieces.append(fmt[at:])
    return pieces


def _variable(name):
    if name in VARIABLES:
        return VARIABLES[name]
    if name.startswith('var.'):
        return _env(name[4:])
    # a log variable the app sets with uwsgi.set_logvar(), else '-' as uWSGI prints an unknown one
    return lambda r: (r.logvars or {}).get(name) or '-'


class Policy:
    """Which requests are logged and how, from the worker's config."""

    __slots__ = ('enabled', 'zero', 'slow', 'c4xx', 'c5xx', 'big', 'pieces', 'xff', 'micros', 'quiet')

    def __init__(self, cfg):
        self.enabled = not cfg.get('disable-logging')
        self.zero = bool(cfg.get('log-zero'))
        self.slow = int(cfg.get('log-slow') or 0)
        self.c4xx = bool(cfg.get('log-4xx'))
        self.c5xx = bool(cfg.get('log-5xx'))
        self.big = int(cfg.get('log-big') or 0)
        fmt = cfg.get('logformat')
        self.pieces = compile_format(fmt) if fmt else None
        self.xff = bool(cfg.get('log-x-forwarded-for'))
        self.micros = bool(cfg.get('log-micros'))
        # disable-logging and no condition: only a request that asked to be logged (uwsgi.log_this_request()) is
        self.quiet = not (self.enabled or self.zero or self.slow or self.c4xx or self.c5xx or self.big)

    def wanted(self, status, body, msecs, forced):
        """uWSGI's order: a routing `donotlog`, the request asked to be logged, then each condition, then logging on
        or off."""
        if log_skipped():
            return False
        if forced:
            return True
        if self.zero and body == 0:
            return True
        if self.slow and msecs >= self.slow:
            return True
        code = status[:1]
        if self.c4xx and code == '4':
            return True
        if self.c5xx and code == '5':
            return True
        if self.big and body >= self.big:
            return True
        return self.enabled

    def address(self, env):
        if self.xff:
            forwarded = env.get('HTTP_X_FORWARDED_FOR')
            if forwarded:
                return forwarded
        return env.get('REMOTE_ADDR', '')

    def format(self, r):
        return ''.join(p if p.__class__ is str else p(r) for p in self.pieces) + '\n'


def _has_donotlog(cfg):
    """Whether a routing rule may say `donotlog:` (routing.py), which only a Policy checks."""
    return any('donotlog:' in str(v) for k in ROUTE_KEYS for v in (cfg.get(k) or ()))


def policy(cfg):
    """A Policy when any request log option of uWSGI's is set (disable-logging too: a request may still ask to be
    logged), else None: the default line for every request."""
    keys = ('log-zero', 'log-slow', 'log-4xx', 'log-5xx', 'log-big', 'logformat', 'log-x-forwarded-for', 'log-micros',
            'disable-logging')
    if any(cfg.get(k) for k in keys) or _has_donotlog(cfg):
        return Policy(cfg)
    return None
