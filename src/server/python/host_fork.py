"""Forking an app-server master in the runtime host (docs/runtime-protocol.md §5), and what the child does before
it becomes an ordinary master: a new session, the signal dispositions of a fresh interpreter, its output on the
socketpair the emperor reads, its cgroups (memory-limit / cpu-limit, joined as root), its uid/gid, no fd of the
host's but its emperor pipe and inherited sockets, the vassal's environment and cwd; then `master.main(config)`.

Every page the child writes here is a private copy in each vassal (issue 13, mass hosting), so the child changes only
what differs from the host: the dispositions through `_signal` (the `signal` module's enum conversions of 64 handlers
copied ~190 kB), and the environment entry by entry (os.environ.clear() then update() copied ~600 kB; measured with
/proc/self/smaps_rollup after each step). The host empties the type attribute cache before each fork (see
fork_master).
"""
import json
import _signal
import os
import resource  # noqa: F401  (load_priority.allow_return_as_root, in masters forked for a uid: shared from here)
import socket
import sys
import time
import traceback

from . import load_priority
from . import master as _master

# Dispositions a fresh interpreter starts with, restored in every forked master. Taken at import, before the host
# installs its own handlers.
ORIGINAL_DISPOSITIONS = {}
for _s in _signal.valid_signals():
    try:
        ORIGINAL_DISPOSITIONS[_s] = _signal.getsignal(_s)
    except (OSError, ValueError):
        pass

MASTER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'start_master.py')
STRIP_ENV = ('NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_UNIQUE_ID', 'UWSGI_EMPEROR_FD')


def fork_master(msg, inherit, close_in_child):
    """Forks a master for the spawn message `msg` -> (pid, output fd, emperor pipe fd): the parent's ends of the
    child's stdout/stderr socketpair and of its emperor pipe. `close_in_child()` releases the host's own objects
    (epoll, channel) in the child."""
    out_p, out_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pipe_p, pipe_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out_p, out_c, pipe_p, pipe_c = out_p.detach(), out_c.detach(), pipe_p.detach(), pipe_c.detach()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    # The interpreter's attribute-lookup cache holds a reference to each name it caches: a child's lookup that
    # replaces an entry the host filled writes to the host's name string too (its reference count), copying that
    # string's page. Emptied here, the child's lookups only fill free entries (issue 13: Private_Dirty of a forked
    # master and its worker ~130 kB lower each).
    sys._clear_type_cache()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            close_in_child()
            code = become_master(msg, out_c, pipe_c, inherit)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            try:
                os.write(2, ('kaiser host: cannot start the master:\n%s' % traceback.format_exc()).encode())
            except OSError:
                pass
        finally:
            os._exit(code if isinstance(code, int) else 1)
    os.close(out_c)
    os.close(pipe_c)
    return pid, out_p, pipe_p


def wants_load_nice(config):
    """Whether the vassal asks its new workers to load at a lower priority (`load-nice` > 0): only then is a tenant's
    RLIMIT_NICE raised, which also lets its processes return to the emperor's nice value after an operator's renice.
    A `load-nice` added by a later edit takes effect at the next restart of the vassal, not at a reload in place."""
    try:
        return int(config.get('load-nice') or 0) > 0
    except (TypeError, ValueError):
        return False


def become_master(msg, out_fd, pipe_fd, inherit):
    """In the forked child: become a fresh master process, then run the master in-process."""
    os.setsid()
    _signal.set_wakeup_fd(-1)
    restore_dispositions()
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    join_cgroups(msg.get('cgroup_procs') or [])
    if msg.get('uid') is not None and wants_load_nice(msg.get('config') or {}):
        load_priority.allow_return_as_root()   # its workers may load at a lower priority and return from it
    drop_privileges(msg.get('uid'), msg.get('gid'))
    keep = {0, 1, 2, pipe_fd} | set(inherit.values())
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.set_inheritable(pipe_fd, False)
    env = {str(k): str(v) for k, v in (msg.get('env') or {}).items()}
    for k in STRIP_ENV:
        env.pop(k, None)
    config = dict(msg.get('config') or {})
    env['KAISER_CONFIG'] = json.dumps(config)
    env['UWSGI_EMPEROR_FD'] = str(pipe_fd)
    replace_environ(env)
    if 'TZ' in env:
        time.tzset()
    for p in reversed([p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]):
        if p not in sys.path:
            sys.path.insert(0, p)
    sys.argv = [MASTER_SCRIPT]
    os.chdir(msg.get('cwd') or '/')
    if inherit:
        config['_inherit'] = inherit
    return _master.main(config)


def restore_dispositions():
    """The dispositions of a fresh interpreter (ORIGINAL_DISPOSITIONS; one not set from Python: SIG_DFL), set where
    the host's differ."""
    for s, h in ORIGINAL_DISPOSITIONS.items():
        try:
            if h is None or _signal.getsignal(s) != h:
                _signal.signal(s, h if h is not None else _signal.SIG_DFL)
        except (OSError, ValueError, TypeError):
            pass


def replace_environ(env):
    """os.environ (and the C environment) becomes `env`: keys it lacks are removed, changed values set."""
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def join_cgroups(procs_files):
    """memory-limit / cpu-limit: join the vassal's cgroups (as root) before the master or a worker exists."""
    pid = str(os.getpid())
    for path in procs_files:
        # An error propagates: the master must not run outside its limits (the emperor sees exit 1 before ready).
        with open(path, 'w') as f:
            f.write(pid)


def drop_privileges(uid, gid):
    """uid/gid and tyrant mode: groups first, then the gid, then the uid (after which nothing can be changed back)."""
    if uid is None and gid is None:
        return
    os.setgroups([])
    if gid is not None:
        os.setgid(int(gid))
    if uid is not None:
        os.setuid(int(uid))
    if (uid is not None and os.getuid() != int(uid)) or (gid is not None and os.getgid() != int(gid)):
        raise RuntimeError('privileges not dropped: uid %d gid %d' % (os.getuid(), os.getgid()))
