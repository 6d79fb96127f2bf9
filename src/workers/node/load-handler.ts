/**
 * Loads the `node-app` module and recognises its handler. Accepted default exports (ESM `export default` or
 * CJS `module.exports`, also a transpiled CJS `exports.default`):
 *   - a Node http handler `(req, res) => …` (may return a promise);
 *   - an object with `fetch(request: Request) => Response | Promise<Response>` (web-standard, as Hono, itty…).
 * Anything else is an {@link AppLoadError} naming the file and what was found.
 */
import {statSync} from 'node:fs';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {resolve} from 'node:path';
import {pathToFileURL} from 'node:url';

/** A Node http request listener. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** A web-standard fetch handler, called with its owner object as `this`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** The recognised app. */
export type AppHandler =
  | {readonly kind: 'node'; readonly file: string; readonly handle: NodeHandler}
  | {readonly kind: 'fetch'; readonly file: string; readonly fetch: FetchHandler};

/** The app could not be loaded; `message` is what the master reports (it may carry the import's stack). */
export class AppLoadError extends Error {
  override readonly name = 'AppLoadError';
}

/**
 * Imports `nodeApp` (resolved against the current directory, i.e. after `chdir`) and returns its handler.
 * @throws AppLoadError when the file is missing, fails to import, or exports no usable handler
 */
export async function loadHandler(nodeApp: string): Promise<AppHandler> {
  const file = resolve(nodeApp);
  try {
    if (!statSync(file).isFile()) throw new AppLoadError(`node-app ${file}: not a regular file`);
  } catch (err) {
    if (err instanceof AppLoadError) throw err;
    throw new AppLoadError(`node-app ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    throw new AppLoadError(`node-app ${file}: failed to import:\n${detail}`);
  }
  return recogniseHandler(file, mod);
}

/** Picks the handler out of an imported module namespace (exported for unit tests). */
export function recogniseHandler(file: string, mod: Record<string, unknown>): AppHandler {
  let value = mod['default'];
  // TypeScript/Babel CJS output: module.exports = {__esModule: true, default: handler}.
  if (isObject(value) && value['__esModule'] === true && 'default' in value) value = value['default'];

  if (typeof value === 'function') {
    if (/^class[\s{]/.test(Function.prototype.toString.call(value))) {
      throw new AppLoadError(`node-app ${file}: the default export is a class; export an instance with a fetch() method, or a (req, res) function`);
    }
    return {kind: 'node', file, handle: value as NodeHandler};
  }
  if (isObject(value) && typeof value['fetch'] === 'function') {
    const owner = value;
    const fetch = value['fetch'] as FetchHandler;
    return {kind: 'fetch', file, fetch: (request) => fetch.call(owner, request)};
  }
  throw new AppLoadError(
    `node-app ${file}: the default export must be a (req, res) => … function or an object with a fetch(request) method, but it is ${describeValue(value, mod)}`,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object';
}

function describeValue(value: unknown, mod: Record<string, unknown>): string {
  if (value === undefined) {
    const named = Object.keys(mod).filter((k) => k !== 'default' && k !== 'module.exports');
    return named.length === 0 ? 'missing (the module exports nothing)' : `missing (named exports only: ${named.join(', ')})`;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    const fetchNote = 'fetch' in value ? `; its fetch is a ${typeof (value as Record<string, unknown>)['fetch']}` : '';
    return `an object with ${keys.length === 0 ? 'no keys' : `keys ${keys.slice(0, 10).join(', ')}`}${fetchNote}`;
  }
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  return `a ${typeof value} (${String(value)})`;
}
