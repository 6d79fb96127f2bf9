"""uWSGI's cron (issue 15): `cron`, `unique-cron` and `cron2`, run by the master.

    cron = MIN HOUR DAY MONTH WEEKDAY CMD     five fields as uWSGI reads them: a number matches that value, -1
                                              matches any, -N matches every N (value % N == 0); WEEKDAY 0-6 is
                                              Sunday-Saturday (7 is Sunday too); when both DAY and WEEKDAY are set,
                                              either matching is enough (as cron does)
    unique-cron = …                           the same, but not started while its previous run still runs
    cron2 = minute=-5,hour=3,unique=1 CMD     key=value fields (minute hour day month week unique; others are
                                              reported and ignored), then the command

As uWSGI 2.0 does (measured): a job whose fields match runs at once when the master starts, then again once 60
seconds have passed since its last run while the fields still match (so runs keep the second of the master's start,
not of the minute). CMD runs through /bin/sh -c (daemons.spawn: own process group, no master descriptor); a run
still going when the vassal stops gets SIGTERM.
"""
import time

from . import log
from .daemons import spawn
from .terminate import send_signal

FIELDS = ('minute', 'hour', 'day', 'month', 'week')


class CronError(Exception):
    pass


class Job:
    __slots__ = ('fields', 'cmd', 'unique', 'pid', 'last_run', 'started', 'option')

    def __init__(self, option, fields, cmd, unique):
        self.option = option
        self.fields = fields        # dict of FIELDS -> int (-1 any, -N every N)
        self.cmd = cmd
        self.unique = unique
        self.pid = None
        self.last_run = None        # wall time of the last run
        self.started = 0.0


def _number(option, text):
    try:
        return int(text)
    except ValueError:
        raise CronError('%s: %r is not a number (use -1 for any, -N for every N)' % (option, text))


def parse_cron(option, spec, unique):
    parts = spec.split(None, 5)
    if len(parts) < 6:
        raise CronError('%s = %r: expected MINUTE HOUR DAY MONTH WEEKDAY COMMAND' % (option, spec))
    fields = {name: _number(option, parts[i]) for i, name in enumerate(FIELDS)}
    return Job(option, fields, parts[5], unique)


def parse_cron2(spec):
    head, _, cmd = spec.strip().partition(' ')
    if '=' not in head:
        raise CronError('cron2 = %r: expected key=value,… COMMAND' % spec)
    fields = dict.fromkeys(FIELDS, -1)
    unique = False
    for item in head.split(','):
        key, _, value = item.partition('=')
        key = key.strip()
        if key in FIELDS:
            fields[key] = _number('cron2', value.strip())
        elif key == 'unique':
            unique = value.strip() not in ('0', '', 'false')
        else:
            log.log('[uwsgi-cron] cron2: %s= is not applied by kaiser' % key)
    if not cmd.strip():
        raise CronError('cron2 = %r: no command' % spec)
    return Job('cron2', fields, cmd.strip(), unique)


# The options that declare jobs, in the order their jobs are listed, each with how it reads one value.
_OPTIONS = (
    ('cron', lambda spec: parse_cron('cron', spec, False)),
    ('unique-cron', lambda spec: parse_cron('unique-cron', spec, True)),
    ('cron2', parse_cron2),
)


def parse(cfg):
    return [read(spec) for option, read in _OPTIONS for spec in cfg.get(option) or []]


def _field_matches(want, value):
    if want == -1:
        return True
    if want < -1:
        return value % -want == 0
    return want == value


def matches(fields, t):
    """Whether a job with `fields` runs in the minute of the struct_time `t` (uWSGI's rules, see above)."""
    if not (_field_matches(fields['minute'], t.tm_min) and _field_matches(fields['hour'], t.tm_hour)
            and _field_matches(fields['month'], t.tm_mon)):
        return False
    weekday = (t.tm_wday + 1) % 7                       # struct_time: Monday = 0; cron: Sunday = 0
    week = 0 if fields['week'] == 7 else fields['week']
    day_ok = _field_matches(fields['day'], t.tm_mday)
    week_ok = _field_matches(week, weekday)
    if fields['day'] != -1 and week != -1:
        return day_ok or week_ok
    return day_ok and week_ok


class Cron:
    """The master's cron jobs."""

    def __init__(self):
        self.jobs = []

    def configure(self, cfg):
        try:
            jobs = parse(cfg)
        except CronError as e:
            log.log('[uwsgi-cron] %s' % e)
            jobs = []
        running = {(j.option, j.cmd): j for j in self.jobs if j.pid is not None}
        for j in jobs:
            old = running.get((j.option, j.cmd))
            if old is not None:
                j.pid, j.started, j.last_run = old.pid, old.started, old.last_run
        for j in jobs:
            log.log('[uwsgi-cron] command "%s" registered as cron task' % j.cmd)
        self.jobs = jobs

    def tick(self, wall):
        if not self.jobs:
            return
        t = time.localtime(wall)
        for j in self.jobs:
            if j.last_run is not None and wall - j.last_run < 60 or not matches(j.fields, t):
                continue
            j.last_run = wall
            if j.unique and j.pid is not None:
                log.log('[uwsgi-cron] "%s" is still running (pid: %d), not starting it again' % (j.cmd, j.pid))
                continue
            j.pid = spawn(j.cmd)
            j.started = time.monotonic()
            log.log('[uwsgi-cron] running "%s" (pid %d)' % (j.cmd, j.pid))

    def next_at(self, wall, mono):
        """Monotonic time of the next check, or None without jobs: when a job's 60 s are up, at the latest in a
        second (fields may start matching at a minute boundary)."""
        if not self.jobs:
            return None
        due = [j.last_run + 60 - wall for j in self.jobs if j.last_run is not None]
        return mono + max(0.01, min(due + [1.0]))

    def on_exit(self, pid, status):
        for j in self.jobs:
            if j.pid == pid:
                j.pid = None
                log.log('[uwsgi-cron] command "%s" running with pid %d exited after %d second(s)' % (
                    j.cmd, pid, int(time.monotonic() - j.started)))
                return True
        return False

    def stop(self, sig):
        for j in self.jobs:
            if j.pid is not None:
                send_signal(j.pid, sig, group=True)
