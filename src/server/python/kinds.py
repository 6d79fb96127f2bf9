"""Worker kinds: which option picks a vassal's language, and how the master starts its workers.

One table, one row per language. Python WSGI apps and the CGI and PHP bridges run in workers
forked from the master (worker.py; they share its interpreter pages). The other languages run
in workers exec'd with the contract of docs/runtime-protocol.md §3: the master forks, and the
child execs `RUNTIME SCRIPT` (for the rows marked `zygote`, once per generation: that process loads the app and
forks the workers, zygote.py) where RUNTIME is the config's runtime option (`perl-bin`…) or the
default command looked up on PATH, and SCRIPT the language's worker under `dist/workers/`.
The `plugin` option and the modifier1 options do not choose anything: the app option does,
as the first row whose option is set.

A runtime that cannot be exec'd is reported as the worker's `load-failed` with the Debian
package that provides it, so the vassal fails to load (exit 22, or `reload-failed` on a
reload) with a message an operator can act on.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
# src/server/python → src/workers (dist/server/python → dist/workers after the build)
WORKERS_DIR = os.path.normpath(os.path.join(HERE, '..', '..', 'workers'))


class ExecKind:
    """A language served by an exec'd worker."""
    __slots__ = ('name', 'app_key', 'runtime_key', 'runtime', 'script', 'debian', 'zygote')

    def __init__(self, name, app_key, runtime_key, runtime, script, debian, zygote=False):
        self.name = name                # language name in logs
        self.app_key = app_key          # the option naming the app (selects the kind)
        self.runtime_key = runtime_key  # the option (or internal key) overriding the runtime
        self.runtime = runtime          # default runtime command, looked up on PATH
        self.script = script            # worker script, relative to WORKERS_DIR (or an absolute `_…` key)
        self.debian = debian            # Debian package(s) providing the runtime
        self.zygote = zygote            # its script can be a zygote (zygote.py): load once, fork the workers

    def argv(self, cfg):
        runtime = cfg.get(self.runtime_key) or self.runtime
        script = cfg.get(self.script) if self.script.startswith('_') else os.path.join(WORKERS_DIR, self.script)
        return [str(runtime), str(script)]

    def missing_runtime(self, runtime, err):
        return ('%s apps need %s: cannot run %r (%s); install the Debian package %s, or set %s to its path'
                % (self.name, self.runtime, runtime, err, self.debian, self.runtime_key.lstrip('_')))


# Forked kinds (Python WSGI, cgi, php) have no row: worker.py loads them in the forked child.
# Lua has no zygote: Lua 5.1 marks objects in their headers, so a forked worker's first collection copies the
# whole heap and a zygote would only add one more interpreter (measured: no saving).
EXEC_KINDS = (
    ExecKind('node', 'node-app', '_node', 'node', '_node_worker', 'nodejs'),
    ExecKind('psgi', 'psgi', 'perl-bin', 'perl', 'psgi/worker.pl', 'perl', zygote=True),
    ExecKind('rack', 'rack', 'ruby-bin', 'ruby', 'rack/worker.rb', 'ruby (and ruby-rack)', zygote=True),
    ExecKind('lua', 'lua', 'lua-bin', 'lua5.1', 'lua/worker.lua', 'lua5.1 (and lua-posix)'),
)


def exec_kind(cfg):
    """The ExecKind serving `cfg`, or None when its workers are forked Python workers."""
    for kind in EXEC_KINDS:
        if cfg.get(kind.app_key):
            return kind
    return None
