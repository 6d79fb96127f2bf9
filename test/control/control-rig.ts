/**
 * Test rig for the control socket: a fake `EmperorControl` that records what it is asked, a raw line-level client
 * that waits for answers (never for time), an output capture with waiters, and a temp dir per test.
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {err, ok, type Result} from '../../src/result.js';
import type {EmperorControl, ControlLog} from '../../src/control/server.js';
import type {ActionResult, EmperorStatus, VassalAction, VassalRow} from '../../src/control/protocol.js';
import type {OutcomeWatch} from '../../src/control/outcome-watch.js';

/** A row with sensible values, overridable. */
export function row(name: string, fields: Partial<VassalRow> = {}): VassalRow {
  return {
    name,
    kind: 'app-server',
    state: 'ready',
    pid: 4242,
    cpu: 1.5,
    rss: 25 * 1024 * 1024,
    uptime: 3725,
    restarts: 2,
    sockets: ['http=127.0.0.1:8080'],
    lastError: null,
    source: 'dir',
    ...fields,
  };
}

/** An `EmperorControl` that records calls; `emit` feeds log followers. */
export class FakeEmperor implements EmperorControl {
  vassals: VassalRow[] = [row('shop.ini'), row('blog.ini', {state: 'backoff', pid: -1, lastError: 'exited with code 1\ntraceback…'})];
  readonly actions: string[] = [];
  readonly logs = new Map<string, string[]>([['shop.ini', ['line 1', 'line 2', 'line 3']]]);
  readonly followers = new Set<(line: string) => void>();
  throwOnLs = false;
  #onFollowChange: (() => void)[] = [];

  rows(): VassalRow[] {
    if (this.throwOnLs) throw new Error('boom');
    return this.vassals;
  }
  status(): EmperorStatus {
    return {pid: 99, uptime: 61, rss: 40 * 1024 * 1024, version: 'kaiser-test', dir: '/srv/vassals', vassals: 2, ready: 1, failing: 1, held: 0};
  }
  reload(name: string): Result<void, string> {
    return this.#act('reload', name);
  }
  stop(name: string): Result<void, string> {
    return this.#act('stop', name);
  }
  start(name: string): Result<void, string> {
    if (name === 'shop.ini') return err('it is already running');
    return this.#act('start', name);
  }
  /** What `logs` without a name gets. */
  allLines: string[] = [];
  /** `name lines` of every tail asked for; `(all)` without a name. */
  readonly tails: string[] = [];
  logTail(name: string | undefined, lines: number): Result<string[], string> {
    this.tails.push(`${name ?? '(all)'} ${lines}`);
    if (name === undefined) return ok(this.allLines.slice(-lines));
    return ok((this.logs.get(name) ?? []).slice(-lines).slice(0, lines));
  }
  followLogs(_name: string, onLine: (line: string) => void): Result<() => void, string> {
    this.followers.add(onLine);
    this.#changed();
    return ok(() => {
      this.followers.delete(onLine);
      this.#changed();
    });
  }
  emit(line: string): void {
    for (const follower of this.followers) follower(line);
  }
  /** Resolves once the number of followers is `count`. */
  followersAre(count: number): Promise<void> {
    if (this.followers.size === count) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.followers.size !== count) return;
        this.#onFollowChange = this.#onFollowChange.filter((fn) => fn !== check);
        resolve();
      };
      this.#onFollowChange.push(check);
    });
  }
  #changed(): void {
    for (const fn of [...this.#onFollowChange]) fn();
  }
  restart(name: string): Result<void, string> {
    if (name === 'blog.ini') return err('it is stopping');
    return this.#act('restart', name);
  }
  /** The outcome each `--wait` gets, by vassal name; a name without one waits until `settle`. */
  readonly outcomes = new Map<string, ActionResult>();
  /** `action name timeoutMs|default`, one per wait asked for. */
  readonly waits: string[] = [];
  readonly #pending = new Map<string, (result: ActionResult) => void>();
  watchOutcome(name: string, action: VassalAction, timeoutMs: number | undefined): OutcomeWatch {
    this.waits.push(`${action} ${name} ${timeoutMs ?? 'default'}`);
    let resolve: (result: ActionResult) => void = () => undefined;
    const outcome = new Promise<ActionResult>((r) => (resolve = r));
    return {
      outcome,
      afterAction: () => {
        const preset = this.outcomes.get(name);
        if (preset) resolve(preset);
        else this.#pending.set(name, resolve);
      },
      cancel: () => void this.#pending.delete(name),
    };
  }
  /** Ends a pending wait of `name` with `result`; false if none is pending. */
  settle(name: string, result: ActionResult): boolean {
    const resolve = this.#pending.get(name);
    this.#pending.delete(name);
    resolve?.(result);
    return resolve !== undefined;
  }
  #act(what: string, name: string): Result<void, string> {
    this.actions.push(`${what} ${name}`);
    return ok(undefined);
  }
}

/** A logger that keeps messages. */
export function captureLog(): ControlLog & {messages: string[]} {
  const messages: string[] = [];
  const keep = (message: string) => void messages.push(message);
  return {messages, debug: keep, info: keep, warn: keep, error: keep};
}

/** A raw connection that collects answer lines and lets a test wait for the n-th or for the close. */
export class RawClient {
  readonly socket: Socket;
  readonly lines: string[] = [];
  readonly closed: Promise<void>;
  #rest = '';
  #waiters: {count: number; resolve: () => void}[] = [];

  constructor(path: string) {
    this.socket = connect(path);
    this.socket.on('error', () => undefined);
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      const parts = (this.#rest + chunk).split('\n');
      this.#rest = parts.pop() ?? '';
      this.lines.push(...parts);
      this.#wake();
    });
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    void this.closed.then(() => this.#wake(true));
  }

  /** Resolves with the first `count` answers as objects (rejects if the connection closes first). */
  async answers(count: number): Promise<Record<string, unknown>[]> {
    if (this.lines.length < count) {
      await new Promise<void>((resolve, reject) => {
        this.#waiters.push({count, resolve});
        void this.closed.then(() => {
          if (this.lines.length < count) reject(new Error(`connection closed after ${this.lines.length} of ${count} lines: ${this.lines.join(' | ')}`));
        });
      });
    }
    return this.lines.slice(0, count).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(closed = false): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (this.lines.length >= w.count || closed) {
        if (this.lines.length >= w.count) w.resolve();
        return false;
      }
      return true;
    });
  }
}

/** Sends one request line and returns the first answer. */
export async function ask(path: string, request: string | object): Promise<Record<string, unknown>> {
  const client = new RawClient(path);
  client.send(typeof request === 'string' ? request : `${JSON.stringify(request)}\n`);
  const [answer] = await client.answers(1);
  client.close();
  return answer ?? {};
}

/** Collects writes; `waitFor` resolves once the text contains a string. */
export class Capture {
  text = '';
  readonly isTTY: boolean;
  #waiters: {needle: string; resolve: () => void}[] = [];

  constructor(isTTY = false) {
    this.isTTY = isTTY;
  }

  write(chunk: string): boolean {
    this.text += chunk;
    this.#waiters = this.#waiters.filter((w) => {
      if (!this.text.includes(w.needle)) return true;
      w.resolve();
      return false;
    });
    return true;
  }

  waitFor(needle: string): Promise<void> {
    if (this.text.includes(needle)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({needle, resolve}));
  }
}

const dirs: string[] = [];

/** A fresh temp dir, removed by `removeTempDirs`. Short, since UNIX socket paths are limited to 107 bytes. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kctl-'));
  dirs.push(dir);
  return dir;
}

/** Removes every dir `tempDir` made. */
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true});
}
