"""The `uwsgi` module apps import (issue 15): uWSGI's embedded module as far as apps use it outside uWSGI's own
subsystems, so `import uwsgi` feature checks (Django, Flask extensions, Sentry, newrelic) see a uWSGI and the common
calls work: `opt`, `numproc`, `worker_id()`, `masterpid()`, `reload()`, `log()`, `started_on`, `total_requests()`,
`request_id()`, `set_logvar()`, `mem()`, `setprocname()`…

Owns: building the module in a worker before its app loads (`install`), and the per-request state it exposes
(`begin_request`: the environ, the request's log variables). Values follow uWSGI's Python 3 plugin: option values
and names of the host are bytes, repeated options are lists. Calls of subsystems kaiser does not have (spooler,
mules, caches, signals, RPC) are absent, so an app that needs them fails at once with an AttributeError naming the
call, as under a uWSGI built without them.
"""
import os
import socket
import sys
import time
from _thread import _local   # threading.local, without importing threading (offload.py's header says why)
import types

from . import log
from .version import VERSION

# Taken when the master imports this module: forked workers inherit it, as uWSGI's start time is the instance's.
STARTED_ON = int(time.time())

class _Current(_local):
    """The request a thread runs: its environ, how many requests its core finished before it, and what the app or
    the routing chain said about logging it. The class values are the defaults of a new request: `begin_request`
    empties the thread's own values instead of setting each."""
    env = None
    done = 0
    logvars = None
    log_this = False
    skip_log = False


_request = _Current()


def request_state():
    """The calling thread's own values of the current request, for `begin_request` (a request core asks once, on
    its thread)."""
    return _request.__dict__


def begin_request(state, env, done):
    """Called by a request core before it runs the app, with its `request_state()`: the current request's environ,
    how many requests this core finished before it (uWSGI counts a request once it is done); the log variables and
    flags of the request before are forgotten."""
    state.clear()
    state['env'] = env
    state['done'] = done


def skip_log():
    """A routing `donotlog` matched the current request (front.py): it is not logged, whatever else says so."""
    _request.skip_log = True


def log_skipped():
    """Whether the current request is not to be logged (`skip_log`)."""
    return _request.skip_log


def log_this():
    """Whether the app called `uwsgi.log_this_request()` during the current request."""
    return _request.log_this


def logvars():
    """The log variables the app set for the current request (`uwsgi.set_logvar`), or None."""
    return _request.logvars


def options(flat):
    """`uwsgi.opt` from the flat [key, value, key, value, …] list of the config as read, as uWSGI 2.0's Python 3
    plugin builds it: bytes values, True for a flag given without a value on the command line, and for a key given
    more than once the last value (its plugin means to make a list, but looks the str key up as bytes and so always
    overwrites; measured against uWSGI 2.0.21)."""
    opt = {}
    for i in range(0, len(flat) - 1, 2):
        key, value = flat[i], flat[i + 1]
        opt[key] = True if value is None else str(value).encode('utf-8', 'surrogateescape')
    return opt


def install(cfg, worker):
    """Builds the module for `worker` (its id, its scoreboard slot) and puts it in sys.modules['uwsgi']: what every
    worker's module has is COMMON, made once when the runtime host imports this module (issue 13: building its ~40
    names and a closure per call in each worker cost a forked hello worker ~50 kB of private memory); only the
    worker's own values are set here."""
    global _worker
    _worker = worker
    m = types.ModuleType('uwsgi', 'kaiser: the uWSGI embedded module, as far as apps use it')
    m.__dict__.update(COMMON)
    m.hostname = socket.gethostname().encode()
    m.numproc = cfg['processes']
    m.cores = cfg['threads']
    m.buffer_size = cfg['buffer-size']
    m.opt = options(cfg.get('_opt') or [])
    m.magic_table = {}
    m.sockets = [listener.fd for listener in worker.listeners]
    sys.modules['uwsgi'] = m
    return m


_worker = None   # the worker `install` built the module for: what its calls below answer about


def _masterpid():
    return os.getppid()


def _worker_id():
    return _worker.wid


def _request_id():
    return _request.done


def _total_requests_now():
    return _total_requests(_worker.mm)


def _reload():
    return _signal_master('SIGHUP')


def _stop():
    return _signal_master('SIGINT')


def _accepting(accepting=True):
    return None


def _micros():
    return int(time.time() * 1000000)


def _cl():
    return int((_request.env or {}).get('CONTENT_LENGTH') or 0)


def _workers():
    return ({'id': _worker.wid, 'pid': os.getpid(), 'requests': _worker.slot.requests, 'status': 'busy'},)


def _listen_queue(fd=0):
    return 0


def _set_warning_message(message):
    return None


def _total_requests(mm):
    """Finished requests of every worker of this generation, from the shared scoreboard (a retired worker's are
    gone); the scoreboard counts a request as it starts, so the one asking is not counted."""
    import struct
    try:
        threads, slots = struct.unpack_from('<II', mm, 4)
        size = 64 + threads * 32
        return max(0, sum(struct.unpack_from('<Q', mm, 64 + i * size)[0] for i in range(slots)) - 1)
    except (struct.error, TypeError, ValueError):
        return 0


def _signal_master(name):
    import signal
    try:
        os.kill(os.getppid(), getattr(signal, name))
    except OSError:
        return False
    return True


def _log(message):
    log.log(message if isinstance(message, str) else message.decode('utf-8', 'replace'))
    return True


def _log_this_request():
    _request.log_this = True


def _set_logvar(key, value):
    if _request.logvars is None:
        _request.logvars = {}
    _request.logvars[str(key)] = str(value)


def _get_logvar(key):
    """A log variable of the current request, as bytes (uWSGI's Python 3 plugin answers bytes), or None."""
    value = (logvars() or {}).get(key.decode() if isinstance(key, bytes) else str(key))
    return None if value is None else value.encode('utf-8', 'surrogateescape')


def _add_var(key, value):
    env = _request.env
    if env is None:
        return False
    env[key.decode('latin-1') if isinstance(key, bytes) else key] = value.decode('latin-1') if isinstance(value, bytes) else value
    return True


def _setprocname(name):
    """The process title (what `ps` shows): through prctl's PR_SET_NAME and argv[0] where we can."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        buf = ctypes.create_string_buffer(str(name).encode()[:15])
        libc.prctl(15, buf, 0, 0, 0)   # PR_SET_NAME
    except Exception:
        return False
    return True


def _mem():
    """(rss bytes, vsz bytes) of this worker."""
    try:
        with open('/proc/self/statm') as f:
            size, resident = f.read().split()[:2]
        page = os.sysconf('SC_PAGE_SIZE')
        return int(resident) * page, int(size) * page
    except (OSError, ValueError):
        return 0, 0


# The module's names every worker's module has (see install).
COMMON = {
    'version': ('2.0.21-kaiser-' + VERSION).encode(),
    'version_info': (2, 0, 21, 0, 'kaiser'),
    'has_threads': 1,
    'started_on': STARTED_ON,
    'is_a_reload': False,
    'applications': None,
    'mode': None,
    'loop': None,
    'unbit': None,
    'SPOOL_OK': -2,
    'SPOOL_RETRY': -1,
    'SPOOL_IGNORE': 0,
    'masterpid': _masterpid,
    'worker_id': _worker_id,
    'request_id': _request_id,
    'total_requests': _total_requests_now,
    'reload': _reload,
    'stop': _stop,
    'log': _log,
    'log_this_request': _log_this_request,
    'set_logvar': _set_logvar,
    'get_logvar': _get_logvar,
    'add_var': _add_var,
    'accepting': _accepting,
    'setprocname': _setprocname,
    'mem': _mem,
    'micros': _micros,
    'cl': _cl,
    'workers': _workers,
    'listen_queue': _listen_queue,
    'set_warning_message': _set_warning_message,
}
