/**
 * Starting the bundled Python master (src/server/python/start_master.py) in tests: its own process
 * group, stderr captured line by line, waits on log lines with deadlines, and a kill of the whole
 * group at the end of each test file.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {request as httpRequest} from 'node:http';
import {connect} from 'node:net';
import {runtimeConfig, type RuntimeConfig} from './runtime-config.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const MASTER = join(ROOT, 'src/server/python/start_master.py');
export const APPS = join(ROOT, 'test/fixtures/apps');
export const PYTHON = '/usr/bin/python3';

const running = new Set<Master>();
const tmpDirs: string[] = [];

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kaiser-server-test-'));
  tmpDirs.push(d);
  return d;
}

export class Master {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly waiters: Array<() => void> = [];
  private partial = '';

  constructor(cfg: RuntimeConfig, extraEnv: Record<string, string> = {}, stdio: Array<'pipe' | 'ignore' | number> = ['ignore', 'ignore', 'pipe']) {
    this.proc = spawn(PYTHON, [MASTER], {
      env: {...process.env, ...extraEnv, KAISER_CONFIG: JSON.stringify(cfg)},
      detached: true,
      stdio: stdio as never,
    });
    running.add(this);
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stderr?.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      if (process.env.KAISER_TEST_LOG) for (const p of parts) process.stderr.write(`[master] ${p}\n`);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code) => {
        running.delete(this);
        resolve(code);
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Waits for a log line matching `re` at or after line index `from`. */
  async waitFor(re: RegExp, timeoutMs = 10000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) {
        const m = re.exec(this.lines[i] ?? '');
        if (m) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; log:\n${this.lines.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  /** TCP port of the n-th bound socket, from `uwsgi socket N bound to TCP address HOST:PORT`. */
  async port(n = 0): Promise<number> {
    const m = await this.waitFor(new RegExp(`socket ${n} bound to TCP address [^ ]+:(\\d+)`));
    return Number(m[1]);
  }

  async ready(): Promise<void> {
    await this.waitFor(/kaiser is running/);
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  kill(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export async function startMaster(overrides: RuntimeConfig, extraEnv: Record<string, string> = {}): Promise<{m: Master; port: number}> {
  const m = new Master(runtimeConfig({'http-socket': ['127.0.0.1:0'], ...overrides}), extraEnv);
  const port = await m.port(0);
  await m.ready();
  return {m, port};
}

export async function cleanup(): Promise<void> {
  for (const m of [...running]) {
    m.kill();
    await m.exited;
  }
  for (const d of tmpDirs.splice(0)) rmSync(d, {recursive: true, force: true});
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request on a fresh connection. */
export function get(port: number, path: string, opts: {method?: string; body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number} = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false}, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks)}));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes and reads until the server closes (or `idleMs` without data). */
export function raw(port: number, data: Buffer | string, idleMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.setTimeout(idleMs, () => s.end());
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.write(data);
  });
}

/** Reads the stats document. */
export function readStats(port: number): Promise<string> {
  return raw(port, '', 3000).then((b) => b.toString('utf8'));
}

/** Polls `fn` until it returns a truthy value, with a deadline. */
export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
