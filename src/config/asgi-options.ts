/**
 * Checks of an ASGI app server's options (`asgi = "module:app"`, issue 17) that the option table's types cannot
 * express: the app names a module (not a file), the enumerated values of `asgi-loop` and `asgi-lifespan`, and
 * `threads`, which an ASGI worker has no use for (one event loop per worker: concurrency comes from
 * `asgi-max-concurrency` and `processes`). Called by `checkServerOptions` for every app server.
 */
import {configError, type Diagnostic} from './diagnostic.js';
import {keyLocator, type OptionCheck} from './option-check.js';

/** The values `asgi-loop` takes. */
export const ASGI_LOOPS = ['auto', 'asyncio', 'uvloop'] as const;
/** The values `asgi-lifespan` takes. */
export const ASGI_LIFESPANS = ['auto', 'on', 'off'] as const;

// a dotted module path, optionally `:attr` (dotted, or a factory call `attr()`)
const APP_REF = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(\(\))?)?$/;

/** Problems of the ASGI options in `values` (none when `asgi` is not set). */
export const checkAsgiOptions: OptionCheck = (values, where, origins) => {
  const app = values.get('asgi');
  if (app === undefined) return [];
  const at = keyLocator(where, origins);
  const problems: Diagnostic[] = [];
  if (typeof app !== 'string' || !APP_REF.test(app)) {
    problems.push(configError(at('asgi'), 'KAISER_CONFIG_BAD_VALUE', {
      key: 'asgi',
      reason: `expected MODULE:APP as uvicorn takes it (e.g. main:app, with chdir or pythonpath for where it lives), got ${JSON.stringify(app)}`,
    }));
  }
  for (const [key, allowed] of [['asgi-loop', ASGI_LOOPS], ['asgi-lifespan', ASGI_LIFESPANS]] as const) {
    const value = values.get(key);
    if (value !== undefined && !(allowed as readonly unknown[]).includes(value)) {
      problems.push(configError(at(key), 'KAISER_CONFIG_BAD_VALUE', {key, reason: `expected ${allowed.join(', ')}, got ${JSON.stringify(value)}`}));
    }
  }
  const threads = values.get('threads');
  if (typeof threads === 'number' && threads > 1) {
    problems.push(configError(at('threads'), 'KAISER_CONFIG_CONFLICT', {
      key: 'threads', other: 'asgi', reason: 'an ASGI worker runs one event loop; use processes, and asgi-max-concurrency for requests in flight per worker',
    }));
  }
  return problems;
};
