/**
 * The uWSGI corpus (test/corpus/README.md): real vassal files from public projects, kept as found (`found/`) and as
 * sandboxed runnable copies (`sandbox/`, loopback only, a tiny app standing in for theirs). This module prepares a
 * run (a vassal directory and a work directory per file, ports filled in), probes a vassal (HTTP, or the uwsgi
 * protocol on TCP and UNIX sockets), runs one emperor (real uWSGI's or kaiser's) over all of them, and renders the
 * per-file table. Used by corpus.test.ts (config level, always), corpus-run.int.test.ts (both emperors) and
 * bench/uwsgi-corpus.sh.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {connect, createServer} from 'node:net';
import {dirname, join, resolve} from 'node:path';

export const CORPUS_DIR = resolve('test/corpus');
export const UWSGI_BIN = ['/usr/bin/uwsgi-core', '/usr/bin/uwsgi'].find((path) => existsSync(path));

/** One file of the corpus (corpus.json). */
export interface CorpusEntry {
  readonly id: string;
  readonly repo: string;
  readonly path: string;
  readonly commit: string;
  readonly license: string;
  readonly found: readonly string[];
  readonly notes?: string;
  /** What real uWSGI 2.0.21 made of the sandboxed copy in the last corpus run (bench/uwsgi-corpus.sh). */
  readonly uwsgi: 'serving' | 'no-app' | 'refused' | 'failed';
}

/** A prepared copy of one entry: where its vassal file and work directory are, and where to knock. */
export interface PreparedVassal {
  readonly entry: CorpusEntry;
  readonly vassalFile: string;
  readonly workDir: string;
  readonly http: readonly string[];
  readonly uwsgi: readonly string[];
}

/** What one emperor made of one file. */
export interface VassalOutcome {
  readonly id: string;
  /**
   * `serving` = answered below 500 (the app, or a route such as basicauth's 401); `no-app` = up but answering 5xx
   * (uWSGI without need-app keeps running when the app does not load); `refused` = a config error naming an option;
   * `failed` = none of these.
   */
  readonly status: 'serving' | 'no-app' | 'refused' | 'failed';
  /** HTTP status of the answer, when serving. */
  readonly httpStatus?: number;
  /** Why it does not serve (kaiser's error, or uWSGI's last words). */
  readonly reason?: string;
  readonly warnings?: number;
}

export function loadCorpus(): CorpusEntry[] {
  return JSON.parse(readFileSync(join(CORPUS_DIR, 'corpus.json'), 'utf8')) as CorpusEntry[];
}

/** A free TCP port on 127.0.0.1 (bound and released; the emperors bind it a moment later). */
export async function freePort(): Promise<number> {
  // The kernel may hand out again a port it just gave (nothing holds it between this probe and the vassal's bind):
  // two vassals of one run on one port would make one answer for the other (suspected when #40, 401 alone and in a
  // 16-file run, answered 200 in one full run).
  for (;;) {
    const port = await anyFreePort();
    if (!HANDED_OUT.has(port)) {
      HANDED_OUT.add(port);
      return port;
    }
  }
}

const HANDED_OUT = new Set<number>();

function anyFreePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/**
 * Lays out `entries` under `root`: `root/vassals/<id>.ini` and `root/work/<id>/` (the app, the stand-in commands,
 * a test certificate, and the entry's other sandbox files), with `@@HTTP@@`, `@@UWSGI@@`, `@@PORT@@` (a new port
 * each time) and `@@DIR@@` filled in, and the parent directories of every `@@DIR@@/fs/…` path created.
 */
export async function prepareCorpus(root: string, entries: readonly CorpusEntry[]): Promise<PreparedVassal[]> {
  const vassals = join(root, 'vassals');
  mkdirSync(vassals, {recursive: true});
  mkdirSync(join(root, 'pylib'), {recursive: true});
  copyFileSync(join(CORPUS_DIR, 'app', 'corpusapp.py'), join(root, 'pylib', 'corpusapp.py'));
  const prepared: PreparedVassal[] = [];
  for (const entry of entries) {
    const workDir = join(root, 'work', entry.id);
    const sandbox = join(CORPUS_DIR, 'sandbox', entry.id);
    mkdirSync(workDir, {recursive: true});
    cpSync(sandbox, workDir, {recursive: true, filter: (src) => src !== join(sandbox, 'vassal.ini')});
    for (const name of readdirSync(join(CORPUS_DIR, 'app'))) copyFileSync(join(CORPUS_DIR, 'app', name), join(workDir, name));
    chmodSync(join(workDir, 'manage.py'), 0o755);
    const http: string[] = [];
    const uwsgi: string[] = [];
    const fill = async (text: string): Promise<string> => {
      let out = text.replaceAll('@@DIR@@', workDir);
      for (const [marker, list] of [['@@HTTP@@', http], ['@@UWSGI@@', uwsgi]] as const) {
        if (!out.includes(marker)) continue;
        const address = `127.0.0.1:${await freePort()}`;
        if (!list.includes(address)) list.push(address);
        out = out.replaceAll(marker, address);
      }
      while (out.includes('@@PORT@@')) out = out.replace('@@PORT@@', String(await freePort()));
      for (const match of out.matchAll(new RegExp(`${escape(workDir)}/fs/[^\\s,;'"}=]+`, 'g'))) mkdirSync(dirname(match[0]), {recursive: true});
      return out;
    };
    for (const file of listFiles(workDir)) {
      if (!/\.(ini|template)$/.test(file)) continue;
      writeFileSync(file, await fill(readFileSync(file, 'utf8')));
    }
    const vassalFile = join(vassals, `${entry.id}.ini`);
    writeFileSync(vassalFile, await fill(readFileSync(join(sandbox, 'vassal.ini'), 'utf8')));
    prepared.push({entry, vassalFile, workDir, http, uwsgi});
  }
  return prepared;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((d) => (d.isDirectory() ? listFiles(join(dir, d.name)) : [join(dir, d.name)]));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The HTTP status of `GET /` over HTTP at `address`, or undefined. */
export function probeHttp(address: string, timeoutMs = 2000): Promise<number | undefined> {
  const [host, port] = splitAddress(address);
  return ask({host, port}, `GET / HTTP/1.1\r\nHost: corpus.test\r\nConnection: close\r\n\r\n`, timeoutMs);
}

/** The HTTP status of `GET /` over the uwsgi protocol at a TCP address or UNIX socket path, or undefined. */
export function probeUwsgi(address: string, timeoutMs = 2000): Promise<number | undefined> {
  const vars: [string, string][] = [
    ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/'], ['PATH_INFO', '/'], ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SERVER_NAME', 'corpus.test'], ['SERVER_PORT', '80'], ['HTTP_HOST', 'corpus.test'], ['REMOTE_ADDR', '127.0.0.1'], ['SCRIPT_NAME', ''],
  ];
  const body = Buffer.concat(vars.flatMap(([k, v]) => [u16(Buffer.byteLength(k)), Buffer.from(k), u16(Buffer.byteLength(v)), Buffer.from(v)]));
  const packet = Buffer.concat([Buffer.from([0]), u16(body.length), Buffer.from([0]), body]);
  const target = address.startsWith('/') ? {path: address} : (([host, port]) => ({host, port}))(splitAddress(address));
  return ask(target, packet, timeoutMs);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at) || '127.0.0.1', Number(address.slice(at + 1))];
}

function ask(target: {host: string; port: number} | {path: string}, request: string | Buffer, timeoutMs: number): Promise<number | undefined> {
  return new Promise((done) => {
    const socket = connect(target as never);
    let data = '';
    const finish = (status: number | undefined) => {
      socket.destroy();
      done(status);
    };
    socket.setTimeout(timeoutMs, () => finish(statusOf(data)));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) finish(statusOf(data));
    });
    socket.on('error', () => finish(undefined));
    socket.on('end', () => finish(statusOf(data)));
  });
}

function statusOf(data: string): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Every place `vassal` may answer: its HTTP addresses, its uwsgi addresses, and UNIX sockets in its work directory. */
export function probeTargets(vassal: PreparedVassal): {proto: 'http' | 'uwsgi'; address: string}[] {
  const sockets = listFiles(vassal.workDir).filter((file) => {
    try {
      return statSync(file).isSocket() && !/stats|fifo/.test(file);
    } catch {
      return false;
    }
  });
  return [
    ...vassal.http.map((address) => ({proto: 'http' as const, address})),
    ...vassal.uwsgi.map((address) => ({proto: 'uwsgi' as const, address})),
    ...sockets.map((address) => ({proto: 'uwsgi' as const, address})),
  ];
}

/** The first answer of `vassal` at any of its targets, or undefined. */
export async function probeVassal(vassal: PreparedVassal): Promise<number | undefined> {
  for (const target of probeTargets(vassal)) {
    const status = target.proto === 'http' ? await probeHttp(target.address) : await probeUwsgi(target.address);
    if (status !== undefined) return status;
  }
  return undefined;
}

/** An emperor under test: how to start it over a vassal directory, and how to say why a vassal does not serve. */
export interface EmperorUnderTest {
  readonly name: 'uwsgi' | 'kaiser';
  start(vassalsDir: string, root: string): ChildProcess;
  /** Per id, what the emperor says about vassals that do not serve. */
  explain(failing: readonly PreparedVassal[], root: string): Promise<Map<string, {status: 'refused' | 'failed'; reason: string; warnings?: number}>>;
  /** Warnings per id for serving vassals (kaiser only). */
  warnings?(root: string): Map<string, number>;
}

const CLEAN_ENV = {PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8'};

/**
 * The environment both emperors (and so every vassal) run with: the tiny app is importable from `root/pylib`, as
 * each project's app is importable in its own image.
 */
function corpusEnv(root: string): NodeJS.ProcessEnv {
  return {...CLEAN_ENV, HOME: root, PYTHONPATH: join(root, 'pylib')};
}

/**
 * The plugins a pip-installed uWSGI has built in (buildconf/base.ini), as far as Debian ships them: Debian's
 * uwsgi-core has none built in, so each vassal gets them as the project's own uWSGI would have them.
 */
const PIP_PLUGINS = [
  'python3', 'http', 'logfile', 'syslog', 'rsyslog', 'logsocket', 'router_basicauth', 'router_redirect', 'router_rewrite', 'router_static',
  'router_uwsgi', 'router_http', 'router_cache', 'router_expires', 'router_hash', 'router_metrics', 'cache', 'ping', 'rpc', 'signal',
  'cheaper_busyness', 'transformation_tofile', 'transformation_gzip', 'transformation_chunked', 'transformation_offload',
  'transformation_template', 'symcall',
].join(',');

/** The emperor's output file, `root/<name>-emperor.log`, opened for appending. */
function logFile(root: string, name: string): number {
  return openSync(join(root, `${name}-emperor.log`), 'a');
}

export const UWSGI_EMPEROR: EmperorUnderTest = {
  name: 'uwsgi',
  start(vassalsDir, root) {
    // Debian's uwsgi-core has no request plugin built in: every vassal gets python3 and http, as a package would.
    return spawn(UWSGI_BIN ?? 'uwsgi', ['--emperor', vassalsDir, '--emperor-freq', '1', '--vassal-set', `plugins=${PIP_PLUGINS}`], {
      cwd: root, env: corpusEnv(root), detached: true, stdio: ['ignore', logFile(root, 'uwsgi'), logFile(root, 'uwsgi')],
    });
  },
  async explain(failing, root) {
    const out = new Map<string, {status: 'refused' | 'failed'; reason: string}>();
    for (const vassal of failing) {
      // Run the vassal alone for a few seconds to hear what it says.
      const run = spawnSync(UWSGI_BIN ?? 'uwsgi', ['--set', `plugins=${PIP_PLUGINS}`, '--ini', vassal.vassalFile], {
        cwd: dirname(vassal.vassalFile), env: corpusEnv(root), encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'], killSignal: 'SIGKILL',
      });
      const lines = `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      const telling = lines.filter((l) => /error|unable|invalid|unknown|strict|no such|cannot|refus|missing|GAME OVER|!!!/i.test(l) && !/as root/.test(l));
      const reason = telling.slice(-2).join(' / ') || lines.at(-1) || 'no output';
      out.set(vassal.entry.id, {status: /strict-mode|unknown config directive/.test(reason) ? 'refused' : 'failed', reason});
    }
    return out;
  },
};

export function kaiserEmperor(kaiserBin: string): EmperorUnderTest {
  const rows = (root: string): {name: string; lastError: string | null; warnings?: string[]}[] => {
    const ls = spawnSync(process.execPath, [kaiserBin, 'ls', '--json', '--control', join(root, 'control.sock')], {encoding: 'utf8', timeout: 20_000});
    try {
      return JSON.parse(ls.stdout) as {name: string; lastError: string | null; warnings?: string[]}[];
    } catch {
      return [];
    }
  };
  return {
    name: 'kaiser',
    start(vassalsDir, root) {
      return spawn(process.execPath, [kaiserBin, '--emperor', vassalsDir, '--control', join(root, 'control.sock')], {
        cwd: root, env: corpusEnv(root), detached: true, stdio: ['ignore', logFile(root, 'kaiser'), logFile(root, 'kaiser')],
      });
    },
    async explain(failing, root) {
      const byName = new Map(rows(root).map((row) => [row.name, row]));
      const out = new Map<string, {status: 'refused' | 'failed'; reason: string; warnings?: number}>();
      for (const vassal of failing) {
        const row = byName.get(`${vassal.entry.id}.ini`);
        const error = row?.lastError ?? '';
        const code = /error (KAISER_CONFIG_\w+) (.*)/.exec(error);
        // A traceback says the most in its last line.
        const last = error.trim().split('\n').at(-1) ?? '';
        out.set(vassal.entry.id, code ? {status: 'refused', reason: `${code[1]} ${code[2]}`} : {status: 'failed', reason: last || 'no error reported'});
      }
      return out;
    },
    warnings(root) {
      return new Map(rows(root).map((row) => [row.name.replace(/\.ini$/, ''), row.warnings?.length ?? 0]));
    },
  };
}

/** Starts `emperor` over the prepared vassals, waits until each serves or `withinMs` passes, and stops it. */
export async function runEmperor(emperor: EmperorUnderTest, root: string, vassals: readonly PreparedVassal[], withinMs: number): Promise<VassalOutcome[]> {
  const child = emperor.start(join(root, 'vassals'), root);
  const serving = new Map<string, number>();
  const deadline = Date.now() + withinMs;
  try {
    while (Date.now() < deadline && serving.size < vassals.length) {
      for (const vassal of vassals) {
        if (serving.has(vassal.entry.id)) continue;
        const status = await probeVassal(vassal);
        if (status !== undefined) serving.set(vassal.entry.id, status);
      }
      if (serving.size < vassals.length) await new Promise((r) => setTimeout(r, 500));
    }
    const failing = vassals.filter((v) => !serving.has(v.entry.id));
    const explained = await emperor.explain(failing, root);
    const warnings = emperor.warnings?.(root) ?? new Map<string, number>();
    return vassals.map((v): VassalOutcome => {
      const status = serving.get(v.entry.id);
      const count = warnings.get(v.entry.id);
      const extra = count === undefined ? {} : {warnings: count};
      if (status !== undefined) return {id: v.entry.id, status: status < 500 ? 'serving' : 'no-app', httpStatus: status, ...extra};
      const why = explained.get(v.entry.id) ?? {status: 'failed' as const, reason: 'unknown'};
      return {id: v.entry.id, status: why.status, reason: why.reason, ...extra};
    });
  } finally {
    await stop(child);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGINT');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 15_000);
  await exited;
  clearTimeout(timer);
  // Vassals of a killed emperor may linger a moment in the group: make sure.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // group gone
  }
}

/** The per-file table: id, source, and what each emperor made of it. */
export function renderTable(entries: readonly CorpusEntry[], results: ReadonlyMap<'uwsgi' | 'kaiser', readonly VassalOutcome[]>): string {
  const cell = (o: VassalOutcome | undefined): string => {
    if (o === undefined) return '–';
    const warned = o.warnings ? `, ${o.warnings} warning${o.warnings === 1 ? '' : 's'}` : '';
    if (o.status === 'serving') return `serving (${o.httpStatus})${warned}`;
    if (o.status === 'no-app') return `up, no app (${o.httpStatus})${warned}`;
    return `${o.status}: ${(o.reason ?? '').replace(/\|/g, '\\|').slice(0, 120)}`;
  };
  const lines = ['| # | File | License | uWSGI 2.0.21 | kaiser |', '|---|---|---|---|---|'];
  entries.forEach((e, i) => {
    const u = results.get('uwsgi')?.find((o) => o.id === e.id);
    const k = results.get('kaiser')?.find((o) => o.id === e.id);
    lines.push(`| ${i + 1} | [${e.repo}/${e.path}](https://github.com/${e.repo}/blob/${e.commit}/${e.path.split('/').map(encodeURIComponent).join('/')}) | ${e.license} | ${cell(u)} | ${cell(k)} |`);
  });
  return `${lines.join('\n')}\n`;
}

/** Ids uWSGI serves that kaiser does not. */
export function servedByUwsgiOnly(results: ReadonlyMap<'uwsgi' | 'kaiser', readonly VassalOutcome[]>): string[] {
  // Only answers below 500 count: a uWSGI without its app answering 500 to everything serves nothing.
  const kaiser = new Map((results.get('kaiser') ?? []).map((o) => [o.id, o]));
  return (results.get('uwsgi') ?? []).filter((o) => o.status === 'serving' && kaiser.get(o.id)?.status !== 'serving').map((o) => o.id);
}
