/**
 * Test rig for real processes: starts kaiser (or anything) in its own process group, collects its output lines, waits
 * for lines and events with deadlines (no sleeps), and kills every group it started in `cleanupProcesses()`.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync, readFileSync, readdirSync, renameSync, writeFileSync} from 'node:fs';
import {request} from 'node:http';
import {createServer, connect} from 'node:net';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const KAISER_BIN = join(ROOT, 'bin/kaiser.js');
export const PYTHON = '/usr/bin/python3';

const started: Started[] = [];
const tempDirs: string[] = [];

/** A process started by a test. */
export class Started {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters: {match: (line: string) => boolean; resolve: (line: string) => void}[] = [];
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;

  constructor(child: ChildProcess) {
    this.child = child;
    const onData = (stream: NodeJS.ReadableStream | null) => {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) this.#push(line);
      });
    };
    onData(child.stdout);
    onData(child.stderr);
    this.exited = new Promise((resolveExit) => child.on('exit', (code, signal) => resolveExit({code, signal})));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  #push(line: string): void {
    this.lines.push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /** Resolves with the first line (already seen after `fromLine`, or future) matching `pattern`. */
  waitForLine(pattern: RegExp | string, withinMs = 10_000, fromLine = 0): Promise<string> {
    const match = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    const seen = this.lines.slice(fromLine).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return withDeadline(
      new Promise<string>((resolveLine) => this.#waiters.push({match, resolve: resolveLine})),
      withinMs,
      () => `line ${String(pattern)}; output so far:\n${this.lines.slice(-30).join('\n')}`,
    );
  }

  /** Output so far, as one string. */
  output(): string {
    return this.lines.join('\n');
  }

  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone
    }
  }
}

/** Starts a process in its own group, tracked for cleanup. */
export function startProcess(file: string, args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): Started {
  const child = spawn(file, args, {cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe']});
  const s = new Started(child);
  started.push(s);
  return s;
}

const stateDirs: string[] = [];
process.on('exit', () => {
  for (const dir of stateDirs) rmSync(dir, {recursive: true, force: true});
});

/**
 * A tyrant emperor keeps state (its domain claims) in /var/lib/kaiser by default when root: a test's emperor gets a
 * temporary state directory instead (unless the test names one), so tests leave nothing behind on the machine.
 */
function withTestStateDir(args: string[]): string[] {
  if (!args.includes('--emperor-tyrant') || args.includes('--emperor-state-dir')) return args;
  const dir = mkdtempSync(join(tmpdir(), 'kaiser-state-'));
  stateDirs.push(dir);
  return [...args, '--emperor-state-dir', dir];
}

/** Starts `node bin/kaiser.js ARGS`. */
export function startKaiser(args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): Started {
  return startProcess(process.execPath, [KAISER_BIN, ...withTestStateDir(args)], options);
}

/** Rejects with a message naming what was awaited if `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Polls `probe` (every 10 ms) until it returns a truthy value; rejects after `withinMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, withinMs: number, what: string): Promise<T> {
  const until = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes a vassal file the way deploy tools do: to a dotfile first, then renamed into place. */
export function publish(dir: string, name: string, text: string | Buffer): void {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, name));
}

/** A fresh temp dir, removed by cleanupProcesses(). */
export function tempDir(prefix = 'kaiser-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** True when a TCP connect to 127.0.0.1:port succeeds. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect({host: '127.0.0.1', port});
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

/** One HTTP GET on a fresh connection; undefined on any failure. */
export async function httpGet(port: number, path = '/', timeoutMs = 2000): Promise<{status: number; body: string; headers: Headers} | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {signal: AbortSignal.timeout(timeoutMs), headers: {connection: 'close'}});
    return {status: res.status, body: await res.text(), headers: res.headers};
  } catch {
    return undefined;
  }
}

/** One GET of `/` with this Host header (fetch cannot set Host): the front router's answer; rejects if it fails. */
export function getAsHost(port: number, host: string): Promise<{status: number; body: string}> {
  return new Promise((resolveGet, reject) => {
    const req = request({host: '127.0.0.1', port, path: '/', headers: {host}, agent: false}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({status: res.statusCode ?? 0, body}));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits for the first 200 on port. */
export function waitFor200(port: number, withinMs = 10_000, path = '/'): Promise<{status: number; body: string; headers: Headers}> {
  return waitFor(async () => {
    const res = await httpGet(port, path, 1000);
    return res && res.status === 200 ? res : undefined;
  }, withinMs, `HTTP 200 on port ${port}`);
}

/** Process table: pid → {ppid, session}. */
export function processTable(): Map<number, {ppid: number; session: number; state: string}> {
  const table = new Map<number, {ppid: number; session: number; state: string}>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), {state: f[0]!, ppid: Number(f[1]), session: Number(f[3])});
    } catch {
      // gone
    }
  }
  return table;
}

/** pid and all its live (non-zombie) descendants. */
export function processTree(pid: number): number[] {
  const table = processTable();
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    const row = table.get(p);
    if (row && row.state !== 'Z') out.push(p);
    for (const [child, r] of table) if (r.ppid === p) todo.push(child);
  }
  return out;
}

/** True while the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Kills every process group a test started (and their descendants), removes temp dirs. Call in afterEach. */
export async function cleanupProcesses(): Promise<void> {
  const all = started.splice(0);
  const pids = new Set<number>();
  for (const s of all) for (const pid of processTree(s.pid)) pids.add(pid);
  for (const s of all) {
    try {
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await Promise.all(all.map((s) => withDeadline(s.exited, 5000, () => `exit of ${s.pid}`).catch(() => undefined)));
  for (const dir of tempDirs.splice(0)) rmSync(dir, {recursive: true, force: true});
}

/** Reads the emperor stats document from `--emperor-stats 127.0.0.1:PORT` (the server writes it and closes). */
export async function emperorStats<V = Record<string, unknown>>(port: number): Promise<{vassals: V[]; [key: string]: unknown}> {
  const raw = await new Promise<string>((resolveRead, reject) => {
    const socket = connect({host: '127.0.0.1', port});
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolveRead(text));
    socket.on('error', reject);
  });
  return JSON.parse(raw) as {vassals: V[]};
}
