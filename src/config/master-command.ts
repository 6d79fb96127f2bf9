/**
 * How an app-server master is started when it is exec'd (by the emperor, or by the standalone launcher; the runtime
 * host forks masters instead): `python3 [-S] start_master.py`, its configuration in KAISER_CONFIG.
 *
 * An ASGI vassal's master runs without `site` (`-S`): the master itself imports only the stdlib, and what site.py
 * imports and runs (the .pth files of dist-packages, sitecustomize) would live in the master and, rewritten by the
 * worker that uses the same modules, again in the worker. The worker runs site.py itself after the fork
 * (worker.py `run_site`), so the app sees the sys.path, .pth effects and builtins it would see under uvicorn. Issue
 * 17: a 1-worker FastAPI vassal 0.37 MB less private memory, and fewer of python3's clean pages in the master
 * (bench/asgi-pss-ab.py, bench/results/asgi-pss-ab.20261207-1930.txt). Left as is for the other kinds: a master
 * forking several WSGI workers shares site's modules with all of them, where each worker would import its own copy.
 */
import {fileURLToPath} from 'node:url';

export const MASTER_SCRIPT = fileURLToPath(new URL('../server/python/start_master.py', import.meta.url));

/** The interpreter's arguments for a master serving `config` (the KAISER_CONFIG object). */
export function masterArgs(config: Record<string, unknown>): string[] {
  return config['asgi'] ? ['-S', MASTER_SCRIPT] : [MASTER_SCRIPT];
}
