"""Where the code a forked vassal runs lies in the runtime host's memory (issue 13, mass hosting).

Python 3.11 writes to every code object it runs (its reference count when a frame starts, the warm-up counter, the
quickened instructions' caches), so each page holding code that a forked master or worker runs becomes a private
copy in that process. Imported module by module, the ~230 functions a hello vassal's master and WSGI worker run to
start and serve (HOT) lie on ~80 and ~110 pages of the host among code a vassal never runs. `lay_out()` gives them
fresh copies of their code objects, made one after the other so that they lie together (the originals are kept: the
space they would free would be reused by the children's first allocations, copying those pages anyway).
Measured (bench/fork-memory.py, N = 8; bench/README.md, "The mass-hosting regression"): Private_Dirty per forked
master ~-60 kB, per worker ~-140 kB. A function missing from HOT only loses this; a name that no longer resolves is
skipped (test_code_layout fails when more than a tenth of HOT does not resolve, and names them).

HOT: (module, 'qualname ...'), recorded with `sys.setprofile` in a forked master and its worker (bench/fork-memory.py
--record) from the spawn to the first request served, and grouped by who runs them: the master only before it forks
its worker, the master before and after, both, the master only after, the worker only (in the order they first ran
within a group). A page of code the master ran before the fork is shared by the two; when either runs code on it
again, both hold a private copy. Grouped, the master's start-up code stays shared and each process copies only pages
of code it runs itself (Private_Dirty per forked master and worker ~-40 kB each against first-run order, N = 1,
alternating).
"""
import sys
import types

HOT = (
    # the master before it forks its worker
    ('_kaiser.host_fork', 'become_master restore_dispositions join_cgroups drop_privileges'),
    ('json', 'dumps'),
    ('json.encoder', 'JSONEncoder.encode JSONEncoder.iterencode'),
    ('_kaiser.host_fork', 'replace_environ'),
    ('os', '_Environ.__iter__ _Environ.__delitem__ _Environ.__setitem__'),
    ('_kaiser.master', 'main'),
    ('_kaiser.config', 'parse'),
    ('_kaiser.minijson', '_array _number _digits'),
    ('_kaiser.log', 'setup'),
    ('_kaiser.log', 'loggers_needed'),
    ('_kaiser.master', 'Master.__init__'),
    ('_kaiser.event_loop', 'Loop.__init__'),
    ('_kaiser.pool', 'WorkerPool.__init__'),
    ('_kaiser.dormant', 'DormantReloader.__init__ DormantControls.__init__ DormantCheaper.__init__'),
    ('_kaiser.dormant', 'DormantCheapMode.__init__'),
    ('_kaiser.master', 'Master.wake_parts'),
    ('_kaiser.dormant', 'StandIn.needed'),
    ('_kaiser.master', 'Master.start'),
    ('_kaiser.config', 'name'),
    ('_kaiser.signals', 'SignalPipe.__init__'),
    ('collections.abc', 'MutableMapping.pop'),
    ('_kaiser.emperor_link', 'EmperorLink.__init__'),
    ('_kaiser.emperor_pipe', 'EmperorPipe.__init__'),
    ('_kaiser.dormant', 'cheaper_problem'),
    ('_kaiser.config', 'socket_specs'),
    ('_kaiser.sockets', 'bind_all bind parse_address Listener.__init__'),
    ('_kaiser.master', 'Master.configure'),
    ('_kaiser.dormant', 'DormantControls.configure NoJobs.configure DormantCheaper.configure DormantCheapMode.rearm'),
    ('_kaiser.emperor_link', 'EmperorLink.configure'),
    ('_kaiser.master', 'Master.unsubscribe'),
    ('_kaiser.emperor_link', 'EmperorLink.spawned'),
    ('_kaiser.worker_proc', 'Generation.__init__'),
    ('_kaiser.scoreboard', 'Scoreboard.__init__ _create'),
    ('_kaiser.worker_proc', 'exec_kind'),
    ('_kaiser.loader', 'preload'),
    ('_kaiser.dormant', 'DormantCheaper.initial_ids'),
    ('_kaiser.master', 'Master.master_fds'),
    ('_kaiser.signals', 'SignalPipe.fds'),
    ('_kaiser.event_loop', 'Loop.fileno'),
    ('_kaiser.dormant', 'DormantReloader.listeners'),
    ('_kaiser.pool', 'WorkerPool.status_fds'),
    ('_kaiser.dormant', 'DormantControls.fds'),
    ('_kaiser.pool', 'WorkerPool.load_nice'),
    ('_kaiser.worker_proc', 'spawn_worker'),
    ('_kaiser.scoreboard', 'Scoreboard.take'),
    # the master before and after
    ('_kaiser.minijson', 'loads _skip _value _object _open _string _check_plain _next_item'),
    ('_kaiser.event_loop', 'Loop.add'),
    ('_kaiser.emperor_pipe', 'EmperorPipe.send EmperorPipe._write'),
    ('_kaiser.pool', 'WorkerPool.spawn'),
    # the master and the worker
    ('collections.abc', 'Mapping.get'),
    ('os', '_Environ.__getitem__'),
    ('_kaiser.minijson', 'dumps _key _quote _wrap'),
    ('importlib._bootstrap', 'ModuleSpec.parent _handle_fromlist'),
    ('_kaiser.procname', 'title_for uwsgi_title set_title enabled set_cmdline argv_area set_comm'),
    ('_kaiser.log', 'log'),
    ('_kaiser.heap', 'trim_where_it_pays trim prepare'),
    ('_kaiser.scoreboard', 'Scoreboard.offset'),
    # the master after
    ('_kaiser.worker_proc', 'WorkerProc.__init__'),
    ('_kaiser.pool', 'WorkerPool.totals_of WorkerTotals.__init__'),
    ('_kaiser.event_loop', 'Loop.run'),
    ('_kaiser.master', 'Master.timeout'),
    ('_kaiser.pool', 'WorkerPool.deadlines'),
    ('_kaiser.dormant', 'DormantReloader.deadlines DormantCheaper.deadlines DormantCheapMode.deadlines'),
    ('_kaiser.emperor_link', 'EmperorLink.deadlines'),
    ('_kaiser.dormant', 'NoJobs.deadlines NoJobs.next_at'),
    ('_kaiser.pool', 'WorkerPool.on_status'),
    ('_kaiser.worker_proc', 'WorkerProc.read_status'),
    ('_kaiser.nonblocking', 'drain'),
    ('_kaiser.pool', 'WorkerPool.handle WorkerPool._on_loaded WorkerPool._on_accepting'),
    ('_kaiser.worker_proc', 'WorkerProc.apply'),
    ('_kaiser.worker_states', 'next_state'),
    ('_kaiser.dormant', 'DormantReloader.on_worker_ready'),
    ('_kaiser.pool', 'WorkerPool.generation_ready WorkerPool.of_generation'),
    ('_kaiser.master', 'Master.on_started'),
    ('_kaiser.emperor_link', 'EmperorLink.accepting'),
    ('_kaiser.dormant', 'DormantReloader.run_queued'),
    ('_kaiser.master', 'Master.tick'),
    ('_kaiser.pool', 'WorkerPool.check'),
    ('_kaiser.worker_limits', 'check'),
    ('_kaiser.dormant', 'DormantReloader.in_progress'),
    ('_kaiser.worker_limits', 'lifetime_of'),
    ('_kaiser.dormant', 'DormantReloader.check DormantControls.check_touch DormantCheaper.tick DormantCheapMode.check'),
    ('_kaiser.emperor_link', 'EmperorLink.check'),
    ('_kaiser.dormant', 'NoJobs.tick'),
    ('_kaiser.pool', 'WorkerPool._on_first_request'),
    ('_kaiser.master', 'Master.on_first_request'),
    ('_kaiser.emperor_link', 'EmperorLink.on_first_request'),
    # the worker
    ('_kaiser.worker', 'start'),
    ('_kaiser.worker_proc', 'close_all'),
    ('_kaiser.worker', 'run_site Worker.__init__ max_requests_of'),
    ('_kaiser.scoreboard', 'SlotWriter.__init__'),
    ('_kaiser.load_priority', 'lower'),
    ('_kaiser.worker', 'Worker.run'),
    ('_kaiser.loader', 'prepare'),
    ('_kaiser.uwsgi_module', 'install options'),
    ('_kaiser.loader', 'load'),
    ('posixpath', 'abspath isabs _get_sep normpath'),
    ('genericpath', 'isfile'),
    ('posixpath', 'dirname'),
    ('_kaiser.loader', 'mangle'),
    ('_kaiser.front', 'wrap'),
    ('_kaiser.worker', 'Worker.send'),
    ('_kaiser.wsgi', 'configure'),
    ('_kaiser.offload', 'start'),
    ('_kaiser.core', 'Core.__init__'),
    ('_kaiser.turns', 'Shared.__init__'),
    ('_kaiser.serving', 'template'),
    ('_kaiser.scoreboard', 'SlotWriter.core_off'),
    ('_kaiser.uwsgi_module', 'request_state'),
    ('_kaiser.log', 'RequestLog.__init__'),
    ('_kaiser.request_log', 'policy _has_donotlog'),
    ('_kaiser.core', 'idle_timeouts'),
    ('_kaiser.worker', 'Worker.full_priority'),
    ('_kaiser.load_priority', 'restore'),
    ('_kaiser.scoreboard', 'SlotWriter.set_accepting SlotWriter.flush'),
    ('_kaiser.worker', 'Worker._core_main'),
    ('_kaiser.core', 'Core.run Core.handle Core.accept_batch Core.accept'),
    ('_kaiser.serving', 'Conn.__init__'),
    ('_kaiser.core', 'Core.readable'),
    ('_kaiser.serving', 'process _http_head'),
    ('_kaiser.http', 'parse_head'),
    ('_kaiser.uwsgi_environ', 'decode_path'),
    ('_kaiser.http', 'header_key is_token'),
    ('_kaiser.serving', '_run'),
    ('_kaiser.wsgi', 'Exchange.__init__'),
    ('_kaiser.serving', 'begin'),
    ('_kaiser.uwsgi_module', 'begin_request'),
    ('_kaiser.wsgi', 'run Exchange.start_response Exchange.head'),
    ('_kaiser.http', 'response_head'),
    ('_kaiser.wsgi', 'Exchange._send'),
    ('_kaiser.client_io', 'send_all'),
    ('_kaiser.serving', 'account'),
    ('_kaiser.log', 'RequestLog.request RequestLog.date RequestLog.line'),
    ('_kaiser.worker', 'Worker.first_request'),
    ('_kaiser.core', 'Core.close Core.drop'),
    ('_kaiser.log', 'RequestLog.flush'),
)

_originals = []   # the code objects and functions lay_out replaced, kept alive (see above)


def hot_functions():
    """The functions of HOT in the modules already imported -> (functions, names of those modules that do not
    resolve). A module not imported is skipped: it has nothing in the host to lay out."""
    found, missing = [], []
    for module_name, names in HOT:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for qualname in names.split():
            fn = _resolve(module, qualname)
            if fn is None:
                missing.append('%s:%s' % (module_name, qualname))
            else:
                found.append(fn)
    return found, missing


def _resolve(module, qualname):
    obj = module
    for part in qualname.split('.'):
        obj = vars(obj).get(part) if obj is not None and hasattr(obj, '__dict__') else None
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    elif isinstance(obj, property):
        obj = obj.fget
    return obj if type(obj) is types.FunctionType else None


def lay_out():
    """Copies the code of HOT's functions (nested code included) into one stretch of memory, then the functions
    themselves (`move_functions`); returns how many functions."""
    functions, _ = hot_functions()
    for fn in functions:
        _originals.append(fn.__code__)
        fn.__code__ = _copy(fn.__code__)
    move_functions()
    return len(functions)


def move_functions():
    """Gives each function of HOT a new function object, made one after the other, in place of the old one where it
    is defined (module or class) and in every module's namespace (`from x import f`); returns how many moved.

    Calling a function writes to its object (its reference count, for the frame), and the functions a vassal runs
    were spread over ~45 modules' worth of the host's heap: together they share a few pages instead (Private_Dirty
    per forked master ~-50 kB, per worker ~-70 kB, N = 1, alternating). A reference the scan does not reach (a
    table, a closure, a bound method made at import) keeps the old object, which runs the same code."""
    moved = {}       # id(old) -> (old, new)
    for module_name, names in HOT:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for qualname in names.split():
            *path, name = qualname.split('.')
            owner = module
            for part in path:
                owner = vars(owner).get(part) if hasattr(owner, '__dict__') else None
            attr = vars(owner).get(name) if hasattr(owner, '__dict__') else None
            wrapper = type(attr) if isinstance(attr, (staticmethod, classmethod)) else None
            fn = attr.__func__ if wrapper else attr
            if type(fn) is not types.FunctionType or id(fn) in moved:
                continue
            new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
            new.__kwdefaults__ = fn.__kwdefaults__
            new.__qualname__ = fn.__qualname__
            new.__module__ = fn.__module__
            new.__doc__ = fn.__doc__
            new.__dict__.update(fn.__dict__)
            moved[id(fn)] = (fn, new)
            setattr(owner, name, wrapper(new) if wrapper else new)
    for module in list(sys.modules.values()):
        namespace = getattr(module, '__dict__', None)
        if type(namespace) is not dict:
            continue
        for key, value in list(namespace.items()):
            pair = moved.get(id(value))
            if pair is not None and pair[0] is value:
                namespace[key] = pair[1]
    _originals.extend(old for old, _ in moved.values())
    return len(moved)


def _copy(code):
    consts = code.co_consts
    if any(type(c) is types.CodeType for c in consts):
        return code.replace(co_consts=tuple(_copy(c) if type(c) is types.CodeType else c for c in consts))
    return code.replace()
