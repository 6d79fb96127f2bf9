"""One worker process as the master sees it, and starting one: fork for Python, fork + exec for the languages of
kinds.py (docs/runtime-protocol.md §3); zygote.py asks a generation's zygote instead for the kinds that have one.

Owns: the WorkerProc record (its state, through worker_states.py's table only), the Generation (the config,
listening sockets and scoreboard a set of workers was started with), fd hygiene in children, reading the status
pipe, and a process's memory figures.
"""
import _signal as signal
import os
import time

from . import log
from . import minijson
from . import worker_states as states
from .nonblocking import drain
from .scoreboard import Scoreboard
from .terminate import Termination

PAGE = os.sysconf('SC_PAGE_SIZE')
# The app options of kinds.py's EXEC_KINDS (a test keeps them equal): kinds.py is imported only by a master whose
# config sets one, as every module a master imports counts in a 1-worker vassal's memory (issue 17).
EXEC_KIND_KEYS = ('node-app', 'psgi', 'rack', 'lua')


def exec_kind(cfg):
    """kinds.exec_kind(cfg): the ExecKind serving `cfg`, or None for forked Python workers."""
    if not any(cfg.get(k) for k in EXEC_KIND_KEYS):
        return None
    from . import kinds
    return kinds.exec_kind(cfg)


class Generation:
    """The config, sockets and scoreboard a set of workers runs with; a reload starts a new one."""
    counter = 0

    def __init__(self, cfg, listeners):
        Generation.counter += 1
        self.number = Generation.counter
        self.cfg = cfg
        self.listeners = listeners
        self.sb = Scoreboard(2 * cfg['processes'], cfg['threads'])
        self.threads = cfg['threads']
        self.kind = exec_kind(cfg)         # None: forked Python worker
        # its workers are forked by a zygote of the language (zygote.py) unless lazy-apps asks each to load the app
        self.forked_by_zygote = self.kind is not None and self.kind.zygote and not cfg.get('lazy-apps')
        self.zygote = None                 # its Zygote, once started


class WorkerProc:
    """A worker the master started: pid, slot, status pipe, and where it is in its lifecycle."""

    def __init__(self, wid, gen, slot, pid, status_fd):
        """`pid` None: a zygote has yet to fork it (pending; pool.bind gives it its pid)."""
        self.id = wid
        self.gen = gen
        self.slot = slot
        self.pid = pid
        self.status_fd = status_fd
        self.status_buf = b''
        self.state = states.LOADING
        self.spawned = time.time()
        self.error = None            # the load-failed message, if it sent one
        self.termination = None      # Termination once asked to go
        self.replaces = None         # the worker this one replaces (recycle), retired once this one accepts
        self.reason = None           # why it retires, for the log
        self.zygote = None           # the Zygote that forks it, if one does

    def key(self):
        """Its key in the pool: the pid, or a placeholder while a zygote has yet to fork it."""
        return self.pid if self.pid is not None else ('pending', id(self))

    def apply(self, event):
        """Moves to the state `event` leads to; False (and no change) when the event does not apply."""
        nxt = states.next_state(self.state, event)
        if nxt is None:
            return False
        self.state = nxt
        return True

    def terminate(self, ask, grace_s, now=None):
        """Ask it to go (`ask` None: it is going already) and SIGKILL it once `grace_s` have passed."""
        if self.termination is None:
            self.termination = Termination(self.pid, ask, grace_s, now=now)

    def kill(self):
        """SIGKILL now; ends a termination in progress too."""
        if self.termination is None:
            self.termination = Termination(self.pid, None, 0)
        self.termination.kill()

    def counters(self):
        return self.gen.sb.worker(self.slot)

    def busy(self):
        sb = self.gen.sb
        for c in range(self.gen.threads):
            if sb.core(self.slot, c)[0]:
                return True
        return False

    def read_status(self):
        """Drains the status pipe -> (messages, at EOF)."""
        msgs = []
        eof = False
        if self.status_fd is not None:
            data, eof = drain(self.status_fd)
            self.status_buf += data
        *lines, self.status_buf = self.status_buf.split(b'\n')
        for line in lines:
            try:
                msgs.append(minijson.loads(line))
            except ValueError:
                pass
        return msgs, eof


def memory(pid):
    """(rss, vsz) in bytes from /proc, (0, 0) if gone (or not forked yet)."""
    if pid is None:
        return 0, 0
    try:
        with open('/proc/%d/statm' % pid, 'rb') as f:
            vsz, rss = f.read().split()[:2]
        return int(rss) * PAGE, int(vsz) * PAGE
    except (OSError, ValueError):
        return 0, 0


def spawn_worker(wid, gen, master_fds, life_r, load_nice=0):
    """Starts worker `wid` of generation `gen` -> WorkerProc. `load_nice`: how much to lower a forked worker's
    priority while it loads its app (load_priority.py; 0 = not at all)."""
    slot = gen.sb.take()
    r, w = os.pipe()
    gen_fds = {l.fd for l in gen.listeners}
    close_fds = [fd for fd in master_fds if fd not in gen_fds] + [r]
    if gen.kind is not None:
        pid = exec_kind_child(gen, wid, gen.sb.offset(slot), w, life_r, close_fds, {}, [])
    else:
        pid = os.fork()
        if pid == 0:
            from . import worker
            worker.start(wid, gen.cfg, gen.listeners, w, life_r, gen.sb.mm, gen.sb.offset(slot), close_fds,
                         load_nice)
            os._exit(1)
    os.close(w)
    os.set_blocking(r, False)
    wp = WorkerProc(wid, gen, slot, pid, r)
    log.log('spawned uWSGI worker %d (pid: %d, cores: %d)' % (wid, pid, gen.threads))
    return wp


def close_all(fds):
    """Closes every fd of `fds`, ignoring the ones already closed (in a child right after fork)."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def exec_kind_child(gen, wid, sb_offset, status_w, life_r, close_fds, extra_env, extra_fds):
    """Forks and execs `RUNTIME SCRIPT` of the generation's kind with the worker contract -> pid. A worker gets its
    id and scoreboard offset; a zygote (zygote.py) gets KAISER_ZYGOTE and its control pipe in `extra_env`/`extra_fds`
    and learns both per worker it forks."""
    cfg = gen.cfg
    argv = gen.kind.argv(cfg)
    env = dict(os.environ)
    env.update({
        'KAISER_WORKER_ID': str(wid),
        'KAISER_LISTEN_FDS': ','.join('%d:%s' % (l.fd, l.proto) for l in gen.listeners),
        'KAISER_STATUS_FD': str(status_w),
        'KAISER_LIFE_FD': str(life_r),
        'KAISER_SCOREBOARD_FD': str(gen.sb.fd),
        'KAISER_SCOREBOARD_OFFSET': str(sb_offset),
        'KAISER_CONFIG': minijson.dumps(cfg),
    })
    env.update(extra_env)
    env.pop('UWSGI_EMPEROR_FD', None)
    pass_fds = [l.fd for l in gen.listeners] + [status_w, life_r, gen.sb.fd] + list(extra_fds)
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            close_all(close_fds)
            for fd in pass_fds:
                os.set_inheritable(fd, True)
            if cfg.get('chdir'):
                os.chdir(cfg['chdir'])
            for k, v in (cfg.get('env') or {}).items():
                env[str(k)] = str(v)
            runtime = argv[0]
            try:
                os.execve(runtime, argv, env) if os.path.sep in runtime else os.execvpe(runtime, argv, env)
            except OSError as e:
                # the worker's own load-failed: the vassal fails to load with the package to install
                msg = gen.kind.missing_runtime(runtime, e.strerror or e)
                os.write(status_w, (minijson.dumps({'act': 'load-failed', 'error': msg}) + '\n').encode())
                os.write(2, (msg + '\n').encode())
                os._exit(22)
        except BaseException as e:
            try:
                os.write(2, ('cannot exec the %s worker %s: %s\n' % (gen.kind.name, ' '.join(argv), e)).encode())
            finally:
                os._exit(127)
    return pid
