// Copies the non-TypeScript runtime files (the bundled Python server, the Perl/Ruby/Lua workers) next to the
// compiled JavaScript, and byte-compiles the Python server there.
import {spawnSync} from 'node:child_process';
import {cpSync, existsSync, mkdirSync, readdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist/server'), {recursive: true});
cpSync(join(root, 'src/server/python'), join(root, 'dist/server/python'), {
  recursive: true,
  filter: (src) => !src.includes('__pycache__'),
});
// Byte-compiled once here, because a master or worker that compiles its modules from source keeps the parser's and
// compiler's freed memory as holes in its heap: 0.65 MB more private memory in an ASGI master and 1.1 MB in its
// worker (issue 17, bench/asgi.py PSS). Vassals rarely write __pycache__ themselves: they run as users who cannot
// write here, or under PYTHONDONTWRITEBYTECODE. Checked-hash .pyc files stay valid when npm resets the files' mtimes,
// and an edited source is still seen. Without a python at build time the modules are compiled at run time as before.
// Compiled as `python3 -OO` would (no docstrings; the server has no assert and reads no __doc__) but written under
// the plain .pyc name that every interpreter loads: the docstrings were 0.15 MB of a 1-worker FastAPI vassal's
// private memory, in its master and its worker (issue 17, bench/asgi-pss-ab.py); the app's own modules are untouched.
// An edited source is compiled at run time, docstrings and all.
const COMPILE = `
import importlib.util, os, py_compile, sys
for d, _, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith('.py'):
            source = os.path.join(d, name)
            py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True, optimize=2,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
`;
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const compiled = spawnSync(python, ['-c', COMPILE, join(root, 'dist/server/python')], {stdio: 'inherit'});
if (compiled.status !== 0) console.warn(`copy-runtime: ${python} failed to byte-compile; the Python server is compiled at run time`);
cpSync(join(root, 'src/dashboard/public'), join(root, 'dist/dashboard/public'), {recursive: true});
// Workers written in their own language (src/workers/psgi/worker.pl, …): everything but TypeScript and docs.
for (const entry of readdirSync(join(root, 'src/workers'), {withFileTypes: true})) {
  if (!entry.isDirectory()) continue;
  cpSync(join(root, 'src/workers', entry.name), join(root, 'dist/workers', entry.name), {
    recursive: true,
    filter: (src) => !/\.(ts|md)$/.test(src),
  });
}
