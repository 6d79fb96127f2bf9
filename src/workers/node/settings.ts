/**
 * The master → worker contract of docs/runtime-protocol.md §3, read from the environment: inherited file
 * descriptors (`KAISER_LISTEN_FDS`, `KAISER_STATUS_FD`, `KAISER_LIFE_FD`, `KAISER_SCOREBOARD_FD`), the slot
 * offset, the worker id and the few `KAISER_CONFIG` options a Node worker uses. Pure parsing: nothing here
 * touches a descriptor, so a bad value is reported (as `load-failed`) before anything starts.
 */

/** One inherited listening socket: `3:http` in `KAISER_LISTEN_FDS`. */
export interface ListenFd {
  readonly fd: number;
  /** `http` is served; anything else (`uwsgi`) is refused by the worker. */
  readonly proto: string;
}

/** The `KAISER_CONFIG` options the Node worker honours (canonical names of src/options.ts). */
export interface NodeWorkerConfig {
  /** `node-app`: the app module, resolved against the cwd after `chdir`. */
  readonly nodeApp: string | null;
  /** `chdir`: directory to enter before loading the app. */
  readonly chdir: string | null;
  /** `env`: variables set in `process.env` before loading the app. */
  readonly env: Readonly<Record<string, string>>;
  /** `socket-timeout` in milliseconds: headers/request read timeout and keep-alive idle timeout. */
  readonly socketTimeoutMs: number;
  /** `buffer-size`: largest request head in bytes (Node `maxHeaderSize`; larger gets 431). */
  readonly bufferSize: number;
  /** `disable-logging`: no request log lines. */
  readonly disableLogging: boolean;
  /** `threads`: request cores of this worker's scoreboard slot. */
  readonly threads: number;
  /** `listen`: backlog; re-applied because Node's `listen({fd})` calls listen(2) again (default 511). */
  readonly backlog: number;
  /** `_name`: the vassal's name, for the process title (`kaiser worker 2 shop.ini`); empty for a standalone server. */
  readonly name: string;
}

/** Everything the worker was handed by its master. */
export interface WorkerSettings {
  readonly workerId: number;
  readonly listenFds: readonly ListenFd[];
  readonly lifeFd: number | undefined;
  readonly scoreboardFd: number | undefined;
  readonly scoreboardOffset: number;
  readonly config: NodeWorkerConfig;
}

/** A variable of the contract is missing or malformed. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses an optional descriptor variable (`KAISER_STATUS_FD=4`); undefined when unset or empty. */
export function readFdVar(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return parseNonNegativeInt(raw, name);
}

/** Parses the whole contract; throws SettingsError naming the faulty variable. */
export function readWorkerSettings(env: Env): WorkerSettings {
  const workerId = env['KAISER_WORKER_ID'] ? parseNonNegativeInt(env['KAISER_WORKER_ID'], 'KAISER_WORKER_ID') : 1;
  const scoreboardFd = readFdVar(env, 'KAISER_SCOREBOARD_FD');
  const offsetRaw = env['KAISER_SCOREBOARD_OFFSET'];
  let scoreboardOffset = 0;
  if (offsetRaw !== undefined && offsetRaw.trim() !== '') scoreboardOffset = parseNonNegativeInt(offsetRaw, 'KAISER_SCOREBOARD_OFFSET');
  else if (scoreboardFd !== undefined) throw new SettingsError('KAISER_SCOREBOARD_FD is set but KAISER_SCOREBOARD_OFFSET is not');
  return {
    workerId,
    listenFds: parseListenFds(env['KAISER_LISTEN_FDS'] ?? ''),
    lifeFd: readFdVar(env, 'KAISER_LIFE_FD'),
    scoreboardFd,
    scoreboardOffset,
    config: parseConfig(env['KAISER_CONFIG']),
  };
}

/** `3:http,4:uwsgi` → [{fd: 3, proto: 'http'}, {fd: 4, proto: 'uwsgi'}]; a bare `3` means http. */
export function parseListenFds(raw: string): ListenFd[] {
  const out: ListenFd[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const [fdText = '', proto = 'http'] = item.split(':', 2);
    out.push({fd: parseNonNegativeInt(fdText, `KAISER_LISTEN_FDS item "${item}"`), proto: proto.trim().toLowerCase() || 'http'});
  }
  return out;
}

function parseConfig(raw: string | undefined): NodeWorkerConfig {
  let json: unknown = {};
  if (raw !== undefined && raw.trim() !== '') {
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new SettingsError(`KAISER_CONFIG is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new SettingsError('KAISER_CONFIG must be a JSON object');
  const c = json as Record<string, unknown>;
  return {
    nodeApp: optString(c, 'node-app'),
    chdir: optString(c, 'chdir'),
    env: parseEnvOption(c['env']),
    socketTimeoutMs: Math.round(optNumber(c, 'socket-timeout', 4, 0) * 1000),
    bufferSize: Math.floor(optNumber(c, 'buffer-size', 4096, 1)),
    disableLogging: c['disable-logging'] === true,
    threads: Math.max(1, Math.floor(optNumber(c, 'threads', 1, 1))),
    backlog: Math.floor(optNumber(c, 'listen', 100, 1)),
    name: typeof c['_name'] === 'string' && c['_name'] !== 'kaiser' ? c['_name'] : '',
  };
}

/** `env` is an object per §1; `["K=V", …]` (the raw multi form) is accepted too. */
function parseEnvOption(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || value === undefined) return out;
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = String(item);
      const eq = text.indexOf('=');
      if (eq <= 0) throw new SettingsError(`KAISER_CONFIG env item "${text}" is not KEY=VALUE`);
      out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  if (typeof value !== 'object') throw new SettingsError('KAISER_CONFIG env must be an object');
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = v === null || v === undefined ? '' : String(v);
  return out;
}

function optString(c: Record<string, unknown>, key: string): string | null {
  const v = c[key];
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'string') throw new SettingsError(`KAISER_CONFIG ${key} must be a string`);
  return v;
}

function optNumber(c: Record<string, unknown>, key: string, fallback: number, min: number): number {
  const v = c[key];
  if (v === null || v === undefined) return fallback;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min) throw new SettingsError(`KAISER_CONFIG ${key} must be a number >= ${min}`);
  return n;
}

function parseNonNegativeInt(raw: string, what: string): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw new SettingsError(`${what}: "${raw}" is not a non-negative integer`);
  return Number(text);
}
