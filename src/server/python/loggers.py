"""uWSGI's loggers (issue 15): where the vassal's log lines go, as `logger`, `req-logger`, `log-route` and
`log-req-route` say, and the `log-date` / `log-prefix` stamp in front of each line.

    logger = file:/var/log/app.log          every line not routed elsewhere goes there (app output too)
    logger = errors syslog:myapp,local6     a named logger: only lines a log-route sends it
    log-route = errors (ERROR|Traceback)    lines matching the regexp go to the named logger(s) instead
    req-logger = file:/var/log/access.log   request lines (else they go where the other lines go)

Logger types: `file:PATH`, `stdio` (standard error, where kaiser's log goes by default) and `syslog[:IDENT[,FACILITY]]`.
Each process of the vassal (master and workers) writes its own lines straight to the loggers; the files are opened
by the master with O_APPEND and inherited, so lines of different processes never overwrite each other. When one
file takes every unrouted line, it also replaces standard error, so what the app prints lands there too, as under
uWSGI's log master. Measured against uWSGI 2.0.21: a line matching a route goes only to that route's loggers, an
unnamed logger gets the lines no route claims, request lines are never stamped by log-date.
"""
import os
import syslog
import time

_FACILITIES = {name: getattr(syslog, 'LOG_' + name.upper()) for name in (
    'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'local0', 'local1', 'local2',
    'local3', 'local4', 'local5', 'local6', 'local7')}


class LoggerError(Exception):
    pass


class FileSink:
    kind = 'file'

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as e:
            raise LoggerError('cannot open %s: %s' % (path, e.strerror))

    def write(self, data):
        _write_all(self.fd, data)


class StdioSink:
    kind = 'stdio'
    fd = 2

    def write(self, data):
        _write_all(2, data)


class SyslogSink:
    kind = 'syslog'

    def __init__(self, args):
        ident, _, facility = args.partition(',')
        self.ident = ident or 'uwsgi'
        fac = facility.strip().lower() or 'user'
        if fac not in _FACILITIES:
            raise LoggerError('unknown syslog facility %r' % facility)
        self.facility = _FACILITIES[fac]
        self.opened = None

    def write(self, data):
        if self.opened != os.getpid():
            syslog.openlog(self.ident, 0, self.facility)
            self.opened = os.getpid()
        for line in data.decode('utf-8', 'replace').splitlines():
            syslog.syslog(syslog.LOG_INFO, line)


def _write_all(fd, data):
    try:
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except OSError:
        pass


def parse_logger(spec):
    """`[NAME ]TYPE[:ARGS]` -> (name or None, sink)."""
    spec = spec.strip()
    name = None
    head, _, rest = spec.partition(' ')
    if rest and ':' not in head and head not in ('stdio', 'syslog', 'file'):
        name, spec = head, rest.strip()
    kind, _, args = spec.partition(':')
    if kind == 'file':
        if not args:
            raise LoggerError('file: needs a path')
        return name, FileSink(args)
    if kind == 'stdio':
        return name, StdioSink()
    if kind == 'syslog':
        return name, SyslogSink(args)
    raise LoggerError('logger type %r is not supported by kaiser (file:, stdio, syslog:)' % kind)


def parse_route(spec):
    """`NAME REGEXP` -> (name, compiled regexp)."""
    import re           # here, not at the top: `re` (and `enum`) cost ~0.3 MB in every master without log-route
    name, _, regexp = spec.strip().partition(' ')
    if not name or not regexp.strip():
        raise LoggerError('%r: expected NAME REGEXP' % spec)
    try:
        return name, re.compile(regexp.strip())
    except re.error as e:
        raise LoggerError('%r: bad regexp: %s' % (spec, e))


def _sinks_and_routes(cfg, logger_key, route_key):
    """The `logger`s (or `req-logger`s) of `cfg` as (unnamed sinks, {name: sinks}), and its `log-route`s (or
    `log-req-route`s), each of which must name a declared logger."""
    main, named = [], {}
    for spec in cfg.get(logger_key) or []:
        name, sink = parse_logger(spec)
        if name is None:
            main.append(sink)
        else:
            named.setdefault(name, []).append(sink)
    routes = [parse_route(r) for r in cfg.get(route_key) or []]
    for name, _ in routes:
        if name not in named:
            raise LoggerError('%s names %r, which no %s = %s … declares' % (route_key, name, logger_key, name))
    return main, named, routes


class Loggers:
    """The loggers of one vassal. `write` takes the vassal's own lines, `write_requests` request lines."""

    def __init__(self, cfg):
        self.main, self.named, self.routes = _sinks_and_routes(cfg, 'logger', 'log-route')
        self.req_main, self.req_named, self.req_routes = _sinks_and_routes(cfg, 'req-logger', 'log-req-route')
        if not self.main and not self.named:
            self.main = [StdioSink()]
        self.stamp = _stamp_format(cfg)

    def stderr_file(self):
        """The fd of the file that takes the unrouted lines when it is the only unnamed logger, else None: it becomes
        standard error, so what the app prints goes there (unrouted: routes apply to the lines kaiser writes)."""
        if len(self.main) == 1 and self.main[0].kind == 'file':
            return self.main[0].fd
        return None

    def write(self, text):
        if self.stamp is not None:
            prefix = _stamp(self.stamp)
            text = ''.join(prefix + line + '\n' for line in text.rstrip('\n').split('\n'))
        _dispatch(text, self.main, self.named, self.routes)

    def write_requests(self, text):
        if self.req_main or self.req_named:
            _dispatch(text, self.req_main, self.req_named, self.req_routes)
        else:
            _dispatch(text, self.main, self.named, self.routes)


def _dispatch(text, main, named, routes):
    if not routes:
        data = text.encode('utf-8', 'replace')
        for sink in main:
            sink.write(data)
        return
    for line in text.splitlines(True):
        claimed = False
        for name, regexp in routes:
            if regexp.search(line):
                claimed = True
                for sink in named[name]:
                    sink.write(line.encode('utf-8', 'replace'))
        if not claimed:
            for sink in main:
                sink.write(line.encode('utf-8', 'replace'))


def _stamp_format(cfg):
    """log-prefix (a strftime string, as uWSGI reads it), else log-date (a strftime string; set without one: the
    ctime date), else None."""
    prefix = cfg.get('log-prefix')
    if isinstance(prefix, str) and prefix:
        return prefix
    date = cfg.get('log-date')
    if date is None or date is False:
        return None
    if date is True or date in ('', 'true', '1'):
        return ''
    return str(date)


def _stamp(fmt):
    t = time.localtime()
    return (time.strftime(fmt, t) if fmt else time.asctime(t)) + ' - '
