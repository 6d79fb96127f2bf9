"""Managed helpers (issue 15): uWSGI's `attach-daemon`, `attach-daemon2`, `smart-attach-daemon` and
`smart-attach-daemon2`, run by the master next to the workers and ended with the vassal.

    attach-daemon = CMD                   run CMD (/bin/sh -c); respawned when it exits; on a reload stopped and
                                          started again (or sent its reloadsignal); stopped with the vassal
    smart-attach-daemon = PIDFILE CMD     CMD forks into the background and writes PIDFILE: tracked by the pid in
                                          PIDFILE (checked every `freq` s, 10), left running across reloads, started
                                          only when that pid is not alive, stopped with the vassal
    smart-attach-daemon2 = PIDFILE CMD    the same for a CMD that stays in the foreground
    attach-daemon2 = cmd=CMD,pidfile=P,daemonize=1,stopsignal=15,reloadsignal=1,freq=10,touch=F,chdir=D

A daemon's states (per daemon, `Daemon.state`):

    idle ──start──▶ running ──exits──▶ waiting (respawn backoff: at once if it ran 10 s, else 1 s doubling to 30 s)
                      │  ▲                 │
                      │  └──── due ────────┘
                      └──stop──▶ stopping ──exits / vassal gone──▶ stopped

Each daemon runs in a process group of its own inside the vassal's session (so the emperor's end of the vassal
still reaches it), with standard input on /dev/null, its output in the vassal's log, and none of the master's
descriptors. A pid read from a pidfile is never 0, 1, the master or its group. Stopping sends the stop signal
(SIGTERM) to the daemon's group; whatever is left when the master exits gets SIGKILL.
"""
import _signal as signal
import os
import time

from . import log
from .terminate import send_signal

PIDFILE_FREQ_S = 10
FAST_EXIT_S = 10
BACKOFF_MAX_S = 30
STOP_GRACE_S = 10       # a daemon asked to stop for a reload gets this long before SIGKILL


class DaemonError(Exception):
    pass


class Daemon:
    __slots__ = ('cmd', 'pidfile', 'smart_fork', 'stop_signal', 'reload_signal', 'freq', 'touch', 'chdir', 'pid',
                 'state', 'started', 'due', 'backoff', 'next_check', 'touch_mtime', 'option', 'restart', 'kill_at')

    def __init__(self, option, cmd, pidfile=None, smart_fork=False):
        self.option = option
        self.cmd = cmd
        self.pidfile = pidfile           # smart daemons: the pid that counts is the one in this file
        self.smart_fork = smart_fork     # smart-attach-daemon: CMD forks into the background and exits
        self.stop_signal = signal.SIGTERM
        self.reload_signal = None
        self.freq = PIDFILE_FREQ_S
        self.touch = []
        self.chdir = None
        self.pid = None                  # the child the master forked (for smart_fork: the launcher, briefly)
        self.state = 'idle'
        self.started = 0.0
        self.due = 0.0
        self.backoff = 0.0
        self.next_check = 0.0
        self.touch_mtime = {}
        self.restart = False             # stopped for a reload: started again once it exits
        self.kill_at = 0.0               # stopping: SIGKILL past this time

    def key(self):
        return (self.option, self.cmd, self.pidfile)


# The options that declare daemons, in the order they are listed, each with how it reads one value.
_OPTIONS = (
    ('attach-daemon', lambda cmd: Daemon('attach-daemon', cmd)),
    ('smart-attach-daemon', lambda spec: _smart('smart-attach-daemon', spec, True)),
    ('smart-attach-daemon2', lambda spec: _smart('smart-attach-daemon2', spec, False)),
    ('attach-daemon2', lambda spec: _keyval(spec)),
)


def parse(cfg):
    """The daemons `cfg` asks for, in order."""
    return [read(spec) for option, read in _OPTIONS for spec in cfg.get(option) or []]


def _smart(option, spec, smart_fork):
    pidfile, _, cmd = spec.strip().partition(' ')
    if not pidfile or not cmd.strip():
        raise DaemonError('%s = %r: expected PIDFILE COMMAND' % (option, spec))
    return Daemon(option, cmd.strip(), pidfile, smart_fork)


def _signal_number(option, key, value):
    try:
        return int(value)
    except ValueError:
        num = getattr(signal, value.upper() if value.upper().startswith('SIG') else 'SIG' + value.upper(), None)
        if num is None:
            raise DaemonError('attach-daemon2 %s=%s: not a signal' % (key, value))
        return int(num)


def _keyval(spec):
    """attach-daemon2's key=value list; the command is the value of cmd (or command, exec) and may hold commas only
    as its last key."""
    fields = {}
    rest = spec.strip()
    while rest:
        key, _, rest = rest.partition('=')
        key = key.strip()
        if key in ('cmd', 'command', 'exec'):
            fields['cmd'] = rest
            break
        value, _, rest = rest.partition(',')
        fields[key] = value.strip()
    cmd = fields.pop('cmd', '').strip()
    if not cmd:
        raise DaemonError('attach-daemon2 = %r: no cmd=' % spec)
    pidfile = fields.pop('pidfile', None) or None
    daemonize = fields.pop('daemonize', fields.pop('daemon', '0')) not in ('0', '', 'false')
    d = Daemon('attach-daemon2', cmd, pidfile, smart_fork=bool(pidfile) and not daemonize)
    for key, value in fields.items():
        if key in ('stopsignal', 'stop_signal'):
            d.stop_signal = _signal_number('attach-daemon2', key, value)
        elif key in ('reloadsignal', 'reload_signal'):
            d.reload_signal = _signal_number('attach-daemon2', key, value)
        elif key == 'freq':
            d.freq = max(1, int(value or PIDFILE_FREQ_S))
        elif key == 'touch':
            d.touch = [t for t in value.split(';') if t]
        elif key == 'chdir':
            d.chdir = value
        else:
            log.log('[uwsgi-daemons] attach-daemon2: %s= is not applied by kaiser' % key)
    return d


def read_pid(path):
    """The pid in `path` if it is a live process kaiser may signal, else None."""
    try:
        with open(path, 'rb') as f:
            text = f.read(64)
        pid = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if pid <= 1 or pid == os.getpid() or pid == os.getpgrp():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return None
    return pid


def spawn(cmd, chdir=None):
    """Forks /bin/sh -c CMD in its own process group, stdin on /dev/null, no master descriptor; -> pid."""
    pid = os.fork()
    if pid:
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        return pid
    try:
        os.setpgid(0, 0)
        for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT,
                    signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        null = os.open('/dev/null', os.O_RDONLY)
        os.dup2(null, 0)
        os.closerange(3, 65536)
        if chdir:
            os.chdir(chdir)
        os.execv('/bin/sh', ['/bin/sh', '-c', cmd])
    except BaseException:
        pass
    os._exit(127)


class Daemons:
    """The master's daemons: started with the master, restarted or signalled on a reload, stopped with it."""

    def __init__(self):
        self.daemons = []
        self.stopping = False

    def configure(self, cfg, old):
        """First start (`old` None) or a reload: daemons that are gone from the config are stopped, new ones
        started; the others are reloaded (reloadsignal, else stopped and started again; smart ones are left)."""
        try:
            wanted = parse(cfg)
        except DaemonError as e:
            log.log('[uwsgi-daemons] %s' % e)
            wanted = []
        current = {d.key(): d for d in self.daemons}
        kept = []
        for d in wanted:
            running = current.pop(d.key(), None)
            if running is None:
                kept.append(d)
                self._start(d)
                continue
            kept.append(running)
            if old is not None:
                self._reload(running)
        for d in current.values():
            self._stop(d)
        self.daemons = kept + [d for d in current.values() if d.state == 'stopping' and d.pid is not None]

    # ── lifecycle ───────────────────────────────────────────────────────────────────────────────
    def _start(self, d, respawn=False):
        if d.pidfile is not None:
            pid = read_pid(d.pidfile)
            if pid is not None:
                d.state = 'running'
                d.next_check = time.monotonic() + d.freq
                if not respawn:
                    log.log('[uwsgi-daemons] found valid/active pidfile for "%s" (pid: %d)' % (d.cmd, pid))
                return
        d.pid = spawn(d.cmd, d.chdir)
        d.state = 'running'
        d.started = time.monotonic()
        d.next_check = d.started + d.freq
        d.touch_mtime = {t: _mtime(t) for t in d.touch}
        log.log('[uwsgi-daemons] %s "%s" (pid: %d)' % ('respawning' if respawn else 'spawning', d.cmd, d.pid))

    def _reload(self, d):
        if d.reload_signal is not None:
            self._signal(d, d.reload_signal)
            return
        if d.pidfile is not None:
            return      # smart daemons live across reloads
        d.restart = True
        self._stop(d)

    def _stop(self, d):
        if d.state in ('stopping', 'stopped'):
            return
        had = self._signal(d, d.stop_signal)
        if had:
            log.log('[uwsgi-daemons] stopping daemon (pid: %d): %s' % (d.pid or read_pid(d.pidfile) or 0, d.cmd))
        d.state = 'stopping' if had else 'stopped'
        d.kill_at = time.monotonic() + STOP_GRACE_S
        if not had and d.restart and not self.stopping:
            d.restart = False
            self._start(d)

    def _signal(self, d, sig):
        """Signal the daemon (its group); True when there was one to signal."""
        pids = []
        if d.pid is not None:
            pids.append(d.pid)
        if d.pidfile is not None:
            pid = read_pid(d.pidfile)
            if pid is not None and pid not in pids:
                pids.append(pid)
        for pid in pids:
            send_signal(pid, sig, group=True)
            send_signal(pid, sig)
        return bool(pids)

    def on_exit(self, pid, status):
        """A child of the master that is no worker exited: True when it was one of the daemons."""
        for d in self.daemons:
            if d.pid == pid:
                d.pid = None
                self._exited(d, status)
                return True
        return False

    def _exited(self, d, status):
        now = time.monotonic()
        if d.restart:
            d.restart = False
            if not self.stopping:
                self._start(d)
            return
        if d.state == 'stopping' or self.stopping:
            d.state = 'stopped'
            return
        if d.smart_fork:
            return      # the launcher is done: what it left behind is tracked by its pidfile (checked every freq s)
        lived = now - d.started
        d.backoff = 0.0 if lived >= FAST_EXIT_S else min(max(d.backoff * 2, 1.0), BACKOFF_MAX_S)
        d.state = 'waiting'
        d.due = now + d.backoff
        log.log('[uwsgi-daemons] "%s" exited with status %s after %d seconds; respawning%s' % (
            d.cmd, os.waitstatus_to_exitcode(status), int(lived),
            ' in %d seconds' % d.backoff if d.backoff else ''))

    def tick(self, now):
        if self.stopping:
            return
        for d in list(self.daemons):
            if d.state == 'stopping' and now >= d.kill_at:
                self._signal(d, signal.SIGKILL)
                d.kill_at = now + STOP_GRACE_S
            if d.state == 'waiting' and now >= d.due:
                self._start(d, respawn=True)
            elif d.state == 'running' and d.pidfile is not None and d.pid is None and now >= d.next_check:
                d.next_check = now + d.freq
                if read_pid(d.pidfile) is None:
                    log.log('[uwsgi-daemons] "%s" (pidfile %s) is not running; respawning' % (d.cmd, d.pidfile))
                    self._start(d, respawn=True)
            if d.state == 'running' and d.touch:
                for path in d.touch:
                    mtime = _mtime(path)
                    if mtime != d.touch_mtime.get(path):
                        d.touch_mtime[path] = mtime
                        log.log('[uwsgi-daemons] %s touched: reloading "%s"' % (path, d.cmd))
                        self._reload(d)
                        break

    def deadlines(self):
        out = []
        for d in self.daemons:
            if d.state == 'waiting':
                out.append(d.due)
            elif d.state == 'stopping':
                out.append(d.kill_at)
            elif d.state == 'running' and (d.pidfile is not None or d.touch):
                out.append(d.next_check if d.pidfile is not None else time.monotonic() + 1.0)
        return out

    def stop(self):
        """The vassal stops: every daemon gets its stop signal."""
        self.stopping = True
        for d in self.daemons:
            self._stop(d)

    def kill(self):
        """The master exits: SIGKILL to what is left."""
        self.stopping = True
        for d in self.daemons:
            if d.state != 'stopped':
                self._signal(d, signal.SIGKILL)
            d.state = 'stopped'


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
