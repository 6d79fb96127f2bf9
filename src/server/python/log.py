"""Logging for the master and the workers: plain uWSGI-like lines on stderr.

Owns: the line format (`human`, or one JSON object per line with `log-format = json`), the
buffered request log of workers (one write per batch instead of one per request) and the
uWSGI-style request log line itself.
"""
import os
import sys
import time

_json = False
_loggers = None      # loggers.Loggers when the vassal sets logger, req-logger, log-route, log-date…
LOGGER_KEYS = ('logger', 'req-logger', 'log-route', 'log-req-route', 'log-prefix')


def loggers_needed(cfg):
    """Whether the vassal's lines need loggers.py's Loggers (any logger option or a date stamp). Asked here, so that a
    master without them imports neither loggers.py nor syslog (issue 17: every module counts in a vassal's memory)."""
    return any(cfg.get(k) for k in LOGGER_KEYS) or cfg.get('log-date') not in (None, False)


def setup(cfg):
    """Configure from KAISER_CONFIG: log format and uWSGI's loggers (loggers.py). A logger that cannot be opened is
    reported and the lines stay on standard error."""
    global _json, _loggers
    _json = cfg.get('log-format') == 'json'
    if not loggers_needed(cfg):
        return
    from . import loggers
    try:
        _loggers = loggers.Loggers(cfg)
    except loggers.LoggerError as e:
        log('logger: %s; logging to standard error' % e)
        return
    fd = _loggers.stderr_file()
    if fd is not None:
        os.dup2(fd, 2)
        os.dup2(fd, 1)


def log(msg):
    """Write one line (or several, for tracebacks) to stderr in a single write."""
    if _json:
        from .minijson import dumps
        line = dumps({'time': time.time(), 'pid': os.getpid(), 'msg': msg}) + '\n'
    else:
        line = msg if msg.endswith('\n') else msg + '\n'
    if _loggers is not None:
        _loggers.write(line)
        return
    data = line.encode('utf-8', 'replace')
    try:
        while data:
            n = os.write(2, data)
            data = data[n:]
    except OSError:
        pass


class RequestLog:
    """Buffered request log: lines accumulate and go out in writes of at most PIPE_BUF bytes."""

    __slots__ = ('lines', 'size', 'last_flush', 'pid', '_date_sec', '_date')

    def __init__(self):
        self.lines = []
        self.size = 0
        self.last_flush = time.time()
        self.pid = os.getpid()
        self._date_sec = 0
        self._date = ''

    def date(self, now):
        sec = int(now)
        if sec != self._date_sec:
            self._date_sec = sec
            self._date = time.asctime(time.localtime(sec))
        return self._date

    def request(self, now, wreq, remote, nvars, hsize, method, uri, sent, msecs, proto, status, nheaders,
                head_len, core, micros=None):
        if _json:
            from .minijson import dumps
            line = dumps({'time': now, 'pid': self.pid, 'remote': remote, 'method': method, 'uri': uri,
                               'status': int(status[:3] or 0), 'bytes': sent, 'msecs': msecs, 'core': core}) + '\n'
        else:
            line = ('[pid: %d|app: 0|req: %d/%d] %s () {%d vars in %d bytes} [%s] %s %s => generated %d bytes in '
                    '%d %s (%s %s) %d headers in %d bytes (1 switches on core %d)\n' % (
                        self.pid, wreq, wreq, remote, nvars, hsize, self.date(now), method, uri, sent,
                        msecs if micros is None else micros, 'msecs' if micros is None else 'micros',
                        proto, status[:3], nheaders, head_len, core))
        self.line(now, line)

    def line(self, now, line):
        """Adds one finished line (a logformat line) to the buffer."""
        self.lines.append(line)
        self.size += len(line)
        if self.size > 3072 or now - self.last_flush > 1.0:
            self.flush()

    def pending(self):
        return self.size > 0

    def flush(self):
        lines, self.lines = self.lines, []
        self.size = 0
        self.last_flush = time.time()
        if not lines:
            return
        if _loggers is not None:
            _loggers.write_requests(''.join(lines))
            return
        data = ''.join(lines).encode('utf-8', 'replace')
        try:
            while data:
                chunk = data[:4096]
                if len(data) > 4096:
                    cut = chunk.rfind(b'\n')
                    if cut > 0:
                        chunk = chunk[:cut + 1]
                n = os.write(2, chunk)
                data = data[n:]
        except OSError:
            pass


def flush_std():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
