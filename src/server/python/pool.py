"""Worker processes as the master sees them: generations, spawning (fork for Python, fork+exec
for the languages of kinds.py per docs/runtime-protocol.md §3), status messages and memory figures.

Owns: the WorkerProc record, the Generation (config + listening sockets + scoreboard that a
set of workers was started with), fd hygiene in children, reading status pipes.
"""
import _signal as signal
import os
import time

from . import log
from .scoreboard import Scoreboard
from . import minijson
from . import kinds

PAGE = os.sysconf('SC_PAGE_SIZE')


class Generation:
    counter = 0

    def __init__(self, cfg, listeners):
        Generation.counter += 1
        self.number = Generation.counter
        self.cfg = cfg
        self.listeners = listeners
        self.sb = Scoreboard(2 * cfg['processes'], cfg['threads'])
        self.threads = cfg['threads']
        self.kind = kinds.exec_kind(cfg)   # None: forked Python worker


class WorkerProc:
    def __init__(self, wid, gen, slot, pid, status_fd):
        self.id = wid
        self.gen = gen
        self.slot = slot
        self.pid = pid
        self.status_fd = status_fd
        self.buf = b''
        self.state = 'loading'       # loading → ready → retiring; 'killed' when aborted
        self.spawned = time.time()
        self.error = None
        self.deadline = None
        self.harakiri = False
        self.replaces = None         # the worker this one replaces (recycle), retired once we accept
        self.reason = None

    def counters(self):
        return self.gen.sb.worker(self.slot)

    def busy(self):
        sb = self.gen.sb
        for c in range(self.gen.threads):
            if sb.core(self.slot, c)[0]:
                return True
        return False

    def read_status(self):
        """Drain the status pipe; -> list of messages; None at EOF."""
        msgs = []
        eof = False
        while self.status_fd is not None:
            try:
                d = os.read(self.status_fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                d = b''
            if not d:
                eof = True
                break
            self.buf += d
        *lines, self.buf = self.buf.split(b'\n')
        for line in lines:
            try:
                msgs.append(minijson.loads(line))
            except ValueError:
                pass
        return msgs, eof

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


def memory(pid):
    """(rss, vsz) in bytes from /proc, (0, 0) if gone."""
    try:
        with open('/proc/%d/statm' % pid, 'rb') as f:
            vsz, rss = f.read().split()[:2]
        return int(rss) * PAGE, int(vsz) * PAGE
    except (OSError, ValueError):
        return 0, 0


def spawn(wid, gen, master_fds, life_r):
    """Start worker `wid` of generation `gen`. Returns a WorkerProc."""
    slot = gen.sb.take()
    r, w = os.pipe()
    gen_fds = {l.fd for l in gen.listeners}
    close_fds = [fd for fd in master_fds if fd not in gen_fds] + [r]
    if gen.kind is not None:
        pid = _spawn_exec(wid, gen, slot, w, life_r, close_fds)
    else:
        pid = os.fork()
        if pid == 0:
            from . import worker
            worker.start(wid, gen.cfg, gen.listeners, w, life_r, gen.sb.mm, gen.sb.offset(slot), close_fds)
            os._exit(1)
    os.close(w)
    os.set_blocking(r, False)
    wp = WorkerProc(wid, gen, slot, pid, r)
    log.log('spawned uWSGI worker %d (pid: %d, cores: %d)' % (wid, pid, gen.threads))
    return wp


def _spawn_exec(wid, gen, slot, status_w, life_r, close_fds):
    cfg = gen.cfg
    argv = gen.kind.argv(cfg)
    env = dict(os.environ)
    env.update({
        'KAISER_WORKER_ID': str(wid),
        'KAISER_LISTEN_FDS': ','.join('%d:%s' % (l.fd, l.proto) for l in gen.listeners),
        'KAISER_STATUS_FD': str(status_w),
        'KAISER_LIFE_FD': str(life_r),
        'KAISER_SCOREBOARD_FD': str(gen.sb.fd),
        'KAISER_SCOREBOARD_OFFSET': str(gen.sb.offset(slot)),
        'KAISER_CONFIG': minijson.dumps(cfg),
    })
    env.pop('UWSGI_EMPEROR_FD', None)
    pass_fds = [l.fd for l in gen.listeners] + [status_w, life_r, gen.sb.fd]
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            for fd in close_fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
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
