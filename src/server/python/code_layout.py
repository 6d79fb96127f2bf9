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

HOT: (module, 'qualname ...') in the order they first run, recorded with `sys.setprofile` in a forked master and
its worker (bench/fork-memory.py --record) from the spawn to the first request served.
"""
import sys
import types

HOT = (
    ('random', 'Random.seed'),
    ('threading', '_after_fork RLock _enumerate Thread._reset_internal_locks Event._at_fork_reinit '
        'Condition._at_fork_reinit'),
    ('_weakrefset', 'WeakSet.__iter__ _IterationGuard.__init__ _IterationGuard.__enter__ _IterationGuard.__exit__ '
        'WeakSet._commit_removals'),
    ('_kaiser.host_fork', 'become_master restore_dispositions join_cgroups drop_privileges replace_environ'),
    ('json', 'dumps'),
    ('json.encoder', 'JSONEncoder.encode JSONEncoder.iterencode'),
    ('os', '_Environ.__iter__ _Environ.__delitem__ _Environ.__getitem__ _Environ.__setitem__'),
    ('collections.abc', 'Mapping.get MutableMapping.pop'),
    ('_kaiser.master', 'main Master.__init__ Master.start Master.configure Master.unsubscribe Master.master_fds '
        'Master.timeout Master.tick Master.on_started Master.on_first_request'),
    ('_kaiser.minijson', 'dumps _key _quote _wrap loads _skip _value _object _open _string _check_plain _array _next_item '
        '_number _digits'),
    ('_kaiser.config', 'parse name socket_specs'),
    ('_kaiser.log', 'setup log RequestLog.__init__ RequestLog.request RequestLog.date RequestLog.line RequestLog.flush'),
    ('importlib._bootstrap', 'ModuleSpec.parent _handle_fromlist'),
    ('_kaiser.loggers', 'needed'),
    ('_kaiser.procname', 'title_for uwsgi_title set_title enabled set_cmdline argv_area set_comm'),
    ('_kaiser.event_loop', 'Loop.__init__ Loop.add Loop.fileno Loop.run'),
    ('_kaiser.pool', 'WorkerPool.__init__ WorkerPool.spawn WorkerPool.status_fds WorkerPool.load_nice WorkerPool.totals_of '
        'WorkerTotals.__init__ WorkerPool.deadlines WorkerPool.on_status WorkerPool.handle '
        'WorkerPool._on_loaded WorkerPool.check WorkerPool._on_accepting WorkerPool.generation_ready '
        'WorkerPool.of_generation WorkerPool._on_first_request'),
    ('_kaiser.zygote', 'Zygotes.__init__ Zygotes.fds'),
    ('_kaiser.reload', 'Reloader.__init__ Reloader.listeners Reloader.deadlines Reloader.check Reloader.on_worker_ready '
        'Reloader.run_queued Reloader.in_progress'),
    ('_kaiser.controls', 'Controls.__init__ Controls.configure Controls._close_stats Controls._close_fifos Controls.fds '
        'Controls.check_touch'),
    ('_kaiser.daemons', 'Daemons.__init__ Daemons.configure parse Daemons.deadlines Daemons.tick'),
    ('_kaiser.cron', 'Cron.__init__ Cron.configure parse Cron.next_at Cron.tick'),
    ('_kaiser.cheaper', 'Cheaper.__init__ problem Options.__init__ Cheaper.configure Cheaper.initial_ids Cheaper.deadlines '
        'Cheaper.tick'),
    ('_kaiser.cheap_mode', 'CheapMode.__init__ IdleWatch.__init__ CheapMode.rearm CheapMode.deadlines CheapMode.check'),
    ('_kaiser.signals', 'SignalPipe.__init__ SignalPipe.fds'),
    ('_kaiser.emperor_link', 'EmperorLink.__init__ EmperorLink.configure EmperorLink.spawned EmperorLink.deadlines '
        'EmperorLink.check EmperorLink.accepting EmperorLink.on_first_request'),
    ('_kaiser.emperor_pipe', 'EmperorPipe.__init__ EmperorPipe.send EmperorPipe._write'),
    ('_kaiser.sockets', 'bind_all bind parse_address Listener.__init__'),
    ('_kaiser.subscriber', 'Subscriber.from_config'),
    ('_kaiser.worker_proc', 'Generation.__init__ spawn_worker WorkerProc.__init__ WorkerProc.read_status WorkerProc.apply '
        'close_all'),
    ('_kaiser.scoreboard', 'Scoreboard.__init__ _create Scoreboard.take Scoreboard.offset SlotWriter.__init__ '
        'SlotWriter.core_off SlotWriter.set_accepting SlotWriter.flush'),
    ('_kaiser.kinds', 'exec_kind'),
    ('_kaiser.loader', 'preload prepare load mangle'),
    ('_kaiser.heap', 'trim_where_it_pays trim prepare'),
    ('_kaiser.nonblocking', 'drain'),
    ('_kaiser.worker_limits', 'check lifetime_of'),
    ('_kaiser.worker_states', 'next_state'),
    ('_kaiser.worker', 'start run_site Worker.__init__ max_requests_of Worker.run Worker.send Worker.full_priority '
        'Worker._core_main Worker.first_request'),
    ('_kaiser.load_priority', 'lower restore'),
    ('_kaiser.uwsgi_module', 'install options request_state begin_request'),
    ('posixpath', 'abspath isabs _get_sep normpath dirname'),
    ('genericpath', 'isfile'),
    ('_kaiser.front', 'wrap added_headers'),
    ('_kaiser.routing', 'rules ordered_entries'),
    ('_kaiser.mounts', 'Mounts.from_config'),
    ('_kaiser.static_files', 'StaticFiles.from_config'),
    ('_kaiser.wsgi', 'configure Exchange.__init__ run Exchange.start_response Exchange.head Exchange._send'),
    ('_kaiser.offload', 'start'),
    ('_kaiser.core', 'Core.__init__ idle_timeouts Core.run Core.accept_batch Core.accept Core.readable Core.close '
        'Core.drop'),
    ('_kaiser.serving', 'template Conn.__init__ process _http_head _run begin account'),
    ('_kaiser.request_log', 'policy _has_donotlog'),
    ('_kaiser.http', 'parse_head header_key is_token response_head'),
    ('_kaiser.uwsgi_environ', 'decode_path'),
    ('_kaiser.client_io', 'send_all'),
)

_originals = []   # the code objects lay_out replaced, kept alive (see above)


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
    """Copies the code of HOT's functions (nested code included) into one stretch of memory; returns how many."""
    functions, _ = hot_functions()
    for fn in functions:
        _originals.append(fn.__code__)
        fn.__code__ = _copy(fn.__code__)
    return len(functions)


def _copy(code):
    consts = code.co_consts
    if any(type(c) is types.CodeType for c in consts):
        return code.replace(co_consts=tuple(_copy(c) if type(c) is types.CodeType else c for c in consts))
    return code.replace()
