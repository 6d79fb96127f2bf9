/**
 * Conformance rig for the language workers of issue 19: starts the same app under kaiser (`kaiser --plugin X
 * --http-socket 127.0.0.1:0 …`) and, where Debian's uWSGI and its plugin are installed, under real uWSGI with the same
 * options (on a unix socket, so no port is guessed); sends the same raw HTTP requests to both and parses the answers,
 * so a test can compare status, app headers and body. Framing headers (Content-Length, Transfer-Encoding,
 * Connection) differ by design: kaiser keeps connections alive, uWSGI's http-socket closes them.
 */
import {existsSync, mkdtempSync} from 'node:fs';
import {connect} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startKaiser, startProcess, waitFor, withDeadline, type Started} from '../../helpers/processes.js';

export const UWSGI = '/usr/bin/uwsgi';
export const UWSGI_PLUGINS = '/usr/lib/uwsgi/plugins';

/** Where a server listens: a TCP port on 127.0.0.1, or a unix socket path. */
export type Target = {port: number} | {path: string};

/** A parsed HTTP response. */
export interface Answer {
  readonly status: number;
  readonly reason: string;
  /** Header names lower-cased, in order, framing headers included. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

/** Headers that say how a response is framed, not what it is: left out of comparisons. */
export const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server']);

/** True when uWSGI and the named plugin (`psgi`, `rack_ruby31`, `cgi` …) are installed. */
export function hasUwsgiPlugin(plugin: string): boolean {
  return existsSync(UWSGI) && existsSync(join(UWSGI_PLUGINS, `${plugin}_plugin.so`));
}

/** Starts kaiser with `args` in `cwd` on 127.0.0.1:0; resolves once it accepts, with its port. */
export async function startKaiserApp(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<{server: Started; target: Target}> {
  const server = startKaiser(['--http-socket', '127.0.0.1:0', ...args], {cwd, ...(env ? {env} : {})});
  const line = await server.waitForLine(/bound to TCP address 127\.0\.0\.1:(\d+)/, 20_000);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
  await server.waitForLine('kaiser is running', 20_000);
  return {server, target: {port}};
}

/** Starts real uWSGI with `args` in `cwd` on a unix socket; resolves once it answers. */
export async function startUwsgiApp(args: string[], cwd: string): Promise<{server: Started; target: Target}> {
  const path = join(mkdtempSync(join(tmpdir(), 'kaiser-uwsgi-')), 'http.sock');
  const server = startProcess(UWSGI, ['--http-socket', path, '--die-on-term', ...args], {cwd});
  const target = {path};
  await waitFor(async () => (existsSync(path) ? exchange(target, 'GET / HTTP/1.0\r\n\r\n').then(() => true, () => false) : false), 20_000, `uWSGI answering on ${path}`);
  return {server, target};
}

/** Sends `request` on a fresh connection and reads until the server closes it; parses the response. */
export function exchange(target: Target, request: string | Buffer, withinMs = 10_000): Promise<Answer> {
  return withDeadline(
    new Promise<Answer>((resolve, reject) => {
      const socket = 'port' in target ? connect({host: '127.0.0.1', port: target.port}) : connect({path: target.path});
      const chunks: Buffer[] = [];
      socket.on('connect', () => socket.write(request));
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => {
        try {
          resolve(parseAnswer(Buffer.concat(chunks)));
        } catch (e) {
          reject(e as Error);
        }
      });
    }),
    withinMs,
    () => `an answer to ${String(request).split('\r\n')[0]}`,
  );
}

/** A uwsgi packet with `vars` in order, as nginx's `uwsgi_pass` builds it (`uwsgi_modifier1`, 0 for WSGI). */
export function uwsgiPacket(vars: readonly (readonly [string, string])[], modifier1 = 0): Buffer {
  const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  const body = Buffer.concat(vars.flatMap(([k, v]) => [u16(Buffer.byteLength(k)), Buffer.from(k), u16(Buffer.byteLength(v)), Buffer.from(v)]));
  return Buffer.concat([Buffer.from([modifier1]), u16(body.length), Buffer.from([0]), body]);
}

/** A request as raw bytes, `Connection: close` so both servers end the exchange. */
export function request(method: string, path: string, opts: {headers?: Record<string, string>; body?: string} = {}): string {
  const headers = {Host: 'test.local', ...(opts.headers ?? {})};
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (opts.body !== undefined) head += `Content-Length: ${Buffer.byteLength(opts.body)}\r\n`;
  return `${head}Connection: close\r\n\r\n${opts.body ?? ''}`;
}

/** Parses one HTTP/1.x response (Content-Length, chunked, or up to the close). */
export function parseAnswer(raw: Buffer): Answer {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers = lines.slice(1).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as const;
  });
  let body = raw.subarray(end + 4);
  if (headers.some(([k, v]) => k === 'transfer-encoding' && v.toLowerCase() === 'chunked')) body = dechunk(body);
  return {status: Number(m[1]), reason: m[2] ?? '', headers, body};
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const le = data.indexOf('\r\n', pos);
    if (le < 0) throw new Error('truncated chunked body');
    const size = parseInt(data.subarray(pos, le).toString('latin1'), 16);
    if (size === 0) return Buffer.concat(out);
    out.push(data.subarray(le + 2, le + 2 + size));
    pos = le + 2 + size + 2;
  }
}

/** What a comparison looks at: status, the app's headers (framing left out), body. */
export function comparable(a: Answer): {status: number; headers: string[]; body: string} {
  return {
    status: a.status,
    headers: a.headers.filter(([k]) => !FRAMING.has(k)).map(([k, v]) => `${k}: ${v}`),
    body: a.body.toString('latin1'),
  };
}

/** Reads the uWSGI stats JSON from a `stats` address (plain TCP: the JSON, then close). */
export async function readStats(port: number): Promise<{workers: Array<{pid: number; requests: number; exceptions: number; harakiri_count: number}>}> {
  const text = await withDeadline(
    new Promise<string>((resolve, reject) => {
      const socket = connect({host: '127.0.0.1', port});
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (data += c));
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
    }),
    5000,
    () => `stats on port ${port}`,
  );
  return JSON.parse(text) as {workers: Array<{pid: number; requests: number; exceptions: number; harakiri_count: number}>};
}

/** What the process features of a language worker need from its fixture app. */
export interface FeatureApp {
  /** kaiser arguments naming the app (`--psgi app.psgi`). */
  readonly args: string[];
  /** Directory the server runs in. */
  readonly cwd: string;
  /** A path answered 200 at once. */
  readonly hello: string;
  /** A path that never answers (sleeps 30 s or more). */
  readonly stuck: string;
  /** A path whose handler raises (counted in the worker's exceptions); none for PHP, whose errors are answers. */
  readonly raises?: string;
}

/**
 * The master's features with this worker: stats and the scoreboard (requests and exceptions counted per worker),
 * harakiri (a stuck request kills the worker, which is respawned), max-requests (a worker recycles itself).
 */
export async function checkProcessFeatures(app: FeatureApp): Promise<void> {
  const {server, target} = await startKaiserApp([...app.args, '--processes', '1', '--harakiri', '2', '--max-requests', '4', '--stats', '127.0.0.1:0'], app.cwd);
  const statsLine = await server.waitForLine(/Stats server enabled on 127\.0\.0\.1:(\d+)/);
  const statsPort = Number(/127\.0\.0\.1:(\d+)/.exec(statsLine)?.[1]);
  const first = (await readStats(statsPort)).workers[0];
  if (first === undefined) throw new Error('no worker in the stats');
  // 3 requests (one raising): counted on the scoreboard
  for (const path of [app.hello, app.hello, app.raises ?? app.hello]) await exchange(target, request('GET', path));
  await waitFor(async () => {
    const w = (await readStats(statsPort)).workers[0];
    return w !== undefined && w.requests >= 3 && w.exceptions >= (app.raises === undefined ? 0 : 1);
  }, 10_000, 'requests and exceptions in the stats');
  // the 4th request reaches max-requests: the worker retires itself and a new one takes over
  await exchange(target, request('GET', app.hello));
  await server.waitForLine(/retired \(max-requests\)/, 20_000);
  await waitFor(async () => {
    const w = (await readStats(statsPort)).workers[0];
    return w !== undefined && w.pid !== first.pid && w.pid > 0;
  }, 20_000, 'a new worker after max-requests');
  // a stuck request: harakiri kills the worker, the client's connection closes, a new worker answers
  await exchange(target, request('GET', app.stuck), 30_000).catch(() => undefined);
  await server.waitForLine(/HARAKIRI ON WORKER 1/, 20_000);
  await waitFor(async () => (await exchange(target, request('GET', app.hello)).catch(() => undefined))?.status === 200, 20_000, 'a worker after harakiri');
  const after = (await readStats(statsPort)).workers[0];
  if ((after?.harakiri_count ?? 0) < 1) throw new Error(`harakiri not counted: ${JSON.stringify(after)}`);
}

/** The files and vassal settings of the emperor scenario. */
export interface VassalScenario {
  /** Files of the two app versions and a broken one, relative to the apps directory. */
  readonly files: Record<string, string>;
  /** The `[uwsgi]` lines naming the app of a variant (paths relative to the apps directory). */
  readonly appLines: (variant: 'v1' | 'v2' | 'broken', appsDir: string) => string;
  /** Bodies of GET / for v1 and v2. */
  readonly bodies: readonly [string, string];
}

/**
 * Under the emperor: the vassal serves, an edit reloads it onto v2 (2 processes, chain reload), and an edit to a
 * broken app fails to load while v2 keeps serving (rollback).
 */
export async function checkVassalLifecycle(scenario: VassalScenario): Promise<void> {
  const {chmodSync, mkdirSync, writeFileSync} = await import('node:fs');
  const {freePort, httpGet, startKaiser: start, tempDir, waitFor200} = await import('../../helpers/processes.js');
  const dir = tempDir();
  const vassals = join(dir, 'vassals');
  const apps = join(dir, 'apps');
  mkdirSync(vassals);
  for (const [name, text] of Object.entries(scenario.files)) {
    const file = join(apps, name);
    mkdirSync(join(file, '..'), {recursive: true});
    writeFileSync(file, text);
    if (text.startsWith('#!')) chmodSync(file, 0o755);
  }
  const port = await freePort();
  const ini = (variant: 'v1' | 'v2' | 'broken') => `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nprocesses = 2\n${scenario.appLines(variant, apps)}\n`;
  writeFileSync(join(vassals, 'app.ini'), ini('v1'));
  const emperor = start(['--emperor', vassals]);
  const first = await waitFor200(port, 30_000);
  if (first.body !== scenario.bodies[0]) throw new Error(`v1 answered ${JSON.stringify(first.body)}`);
  writeFileSync(join(vassals, 'app.ini'), ini('v2'));
  await waitFor(async () => (await httpGet(port))?.body === scenario.bodies[1], 30_000, 'v2 after the reload');
  writeFileSync(join(vassals, 'app.ini'), ini('broken'));
  await emperor.waitForLine(/reload.failed|reload failed/, 30_000);
  const still = await httpGet(port);
  if (still?.body !== scenario.bodies[1]) throw new Error(`after a failed reload: ${JSON.stringify(still?.body)}`);
}
