/**
 * Test harness for the compiled Node worker: spawns `node dist/workers/node/worker.js` the way the Python
 * master does (docs/runtime-protocol.md §3). fd 3 is a real listening TCP socket on 127.0.0.1 (bound here,
 * passed by descriptor number, our copy closed right after the spawn), fd 4 the status pipe, fd 5 the life
 * pipe (closing our end = master gone), fd 6 a scoreboard file sized for the slots. Every wait has a deadline.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import type {Duplex} from 'node:stream';
import {fileURLToPath} from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const WORKER = join(ROOT, 'dist/workers/node/worker.js');
export const APPS = join(ROOT, 'test/fixtures/node-apps');

/** A status message from the worker. */
export interface StatusMessage {
  act: string;
  error?: string;
}

/** A decoded scoreboard slot. */
export interface Slot {
  requests: bigint;
  exceptions: bigint;
  txBytes: bigint;
  runningUs: bigint;
  avgRt: bigint;
  accepting: number;
  cores: {start: number; requests: bigint; readErrors: number; writeErrors: number}[];
}

export interface StartOptions {
  /** `node-app` (default: resolved inside `chdir` = the fixtures directory). */
  app: string;
  /** Extra KAISER_CONFIG keys. */
  config?: Record<string, unknown>;
  /** 1-based worker id (slot position). */
  workerId?: number;
  /** KAISER_LISTEN_FDS protocol of fd 3 (default http). */
  proto?: string;
}

const running = new Set<WorkerProcess>();

/** A spawned worker with its pipes, socket port and scoreboard. */
export class WorkerProcess {
  readonly statuses: StatusMessage[] = [];
  private statusBuffer = '';
  private stderrText = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
  exitInfo: {code: number | null; signal: NodeJS.Signals | null} | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly scoreboardPath: string,
    readonly threads: number,
    readonly workerId: number,
    private readonly tmp: string,
  ) {
    running.add(this);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.stderrText += d;
      this.notify();
    });
    const status = child.stdio[4] as Duplex;
    status.setEncoding('utf8');
    status.on('data', (d: string) => {
      this.statusBuffer += d;
      let nl;
      while ((nl = this.statusBuffer.indexOf('\n')) >= 0) {
        const line = this.statusBuffer.slice(0, nl);
        this.statusBuffer = this.statusBuffer.slice(nl + 1);
        if (line.trim() !== '') this.statuses.push(JSON.parse(line) as StatusMessage);
      }
      this.notify();
    });
    status.on('error', () => undefined);
    this.lifeEnd().on('error', () => undefined);
    this.exited = new Promise((res) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = {code, signal};
        this.notify();
        res({code, signal});
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Everything the worker wrote to stderr so far. */
  get stderr(): string {
    return this.stderrText;
  }

  /** Waits until `predicate()` holds, re-checking on every stderr/status/exit event and every 20 ms. */
  async until<T>(what: string, predicate: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; statuses=${JSON.stringify(this.statuses)} exit=${JSON.stringify(this.exitInfo)}\nstderr:\n${this.stderrText}`);
      }
      await new Promise<void>((res) => {
        const t = setTimeout(done, 20);
        function done(): void {
          clearTimeout(t);
          res();
        }
        this.waiters.add(() => {
          done();
        });
      });
      this.waiters.clear();
    }
  }

  /** Waits for the status message `act`; fails early if the worker exits first. */
  waitStatus(act: string, timeoutMs = 10_000): Promise<StatusMessage> {
    return this.until(`status ${act}`, () => {
      const found = this.statuses.find((m) => m.act === act);
      if (found) return found;
      if (this.exitInfo) throw new Error(`worker exited (${JSON.stringify(this.exitInfo)}) before "${act}"; statuses=${JSON.stringify(this.statuses)}\nstderr:\n${this.stderrText}`);
      return undefined;
    }, timeoutMs);
  }

  /** Waits for the worker to exit. */
  waitExit(timeoutMs = 10_000): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
    return this.until('worker exit', () => this.exitInfo, timeoutMs);
  }

  /** Closes the master's end of the life pipe (as if the master died). */
  closeLifePipe(): void {
    this.lifeEnd().destroy();
  }

  /** Our end of the life pipe (fd 5 of the child). */
  private lifeEnd(): Duplex {
    return (this.child.stdio as unknown as Duplex[])[5]!;
  }

  /** Reads and decodes this worker's scoreboard slot. */
  readSlot(): Slot {
    const size = 64 + this.threads * 32;
    const offset = 64 + (this.workerId - 1) * size;
    const buf = readFileSync(this.scoreboardPath).subarray(offset, offset + size);
    const cores = [];
    for (let c = 0; c < this.threads; c++) {
      const b = 64 + c * 32;
      cores.push({start: buf.readDoubleLE(b), requests: buf.readBigUInt64LE(b + 8), readErrors: buf.readUInt32LE(b + 16), writeErrors: buf.readUInt32LE(b + 20)});
    }
    return {
      requests: buf.readBigUInt64LE(0),
      exceptions: buf.readBigUInt64LE(8),
      txBytes: buf.readBigUInt64LE(16),
      runningUs: buf.readBigUInt64LE(24),
      avgRt: buf.readBigUInt64LE(32),
      accepting: buf.readUInt32LE(40),
      cores,
    };
  }

  /** SIGKILLs the worker (by pid) if it still runs, and removes its temp files. */
  async kill(): Promise<void> {
    running.delete(this);
    if (this.exitInfo === undefined) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.exited;
    }
    rmSync(this.tmp, {recursive: true, force: true});
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Kills every worker a test started and did not kill itself (call from afterEach). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((w) => w.kill()));
}

/** Binds 127.0.0.1:0 and returns the listening server (its fd is inherited by the worker). */
async function listeningSocket(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen({port: 0, host: '127.0.0.1', backlog: 128}, () => res());
  });
  return server;
}

/** Spawns a worker as the master would. */
export async function startWorker(options: StartOptions): Promise<WorkerProcess> {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first`);
  const workerId = options.workerId ?? 1;
  const threads = Number(options.config?.['threads'] ?? 1);
  const tmp = mkdtempSync(join(tmpdir(), 'kaiser-node-worker-'));
  const scoreboardPath = join(tmp, 'scoreboard');
  const scoreboardFd = openSync(scoreboardPath, 'w+');
  ftruncateSync(scoreboardFd, 64 + Math.max(workerId, 2) * (64 + threads * 32));
  const server = await listeningSocket();
  const port = (server.address() as net.AddressInfo).port;
  const socketFd = (server as unknown as {_handle: {fd: number}})._handle.fd;
  const config = {
    'node-app': options.app,
    chdir: APPS,
    env: {},
    'socket-timeout': 4,
    'buffer-size': 4096,
    'disable-logging': false,
    threads: 1,
    ...options.config,
  };
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [WORKER], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe', socketFd, 'pipe', 'pipe', scoreboardFd],
      env: {
        ...process.env,
        KAISER_WORKER_ID: String(workerId),
        KAISER_LISTEN_FDS: `3:${options.proto ?? 'http'}`,
        KAISER_STATUS_FD: '4',
        KAISER_LIFE_FD: '5',
        KAISER_SCOREBOARD_FD: '6',
        KAISER_SCOREBOARD_OFFSET: String(64 + (workerId - 1) * (64 + threads * 32)),
        KAISER_CONFIG: JSON.stringify(config),
      },
    });
  } finally {
    // The child has its own copies now; ours must go or this process would keep accepting too.
    server.close();
    closeSync(scoreboardFd);
  }
  return new WorkerProcess(child, port, scoreboardPath, threads, workerId, tmp);
}

/** A finished HTTP exchange. */
export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection (or through `agent`), with a deadline. */
export function request(
  port: number,
  path: string,
  init: {method?: string; body?: string; headers?: Record<string, string>; agent?: http.Agent; timeoutMs?: number} = {},
): Promise<HttpResult> {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      {host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: init.agent ?? false},
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolvePromise({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString()});
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`request ${path} timed out`));
    }, init.timeoutMs ?? 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(init.body);
  });
}
