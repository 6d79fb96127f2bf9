/**
 * The emperor's end of the control socket (`--control PATH`): listens on a UNIX stream socket that only the
 * emperor's user may open (0600 in a 0700 directory), reads newline-delimited JSON requests (protocol.ts) and answers
 * each from an `EmperorControl`. It owns nothing of the emperor: every action goes through that interface.
 *
 * Bad input must never hurt the emperor. Garbage, invalid JSON, unknown commands and unknown vassals get a coded
 * `{"ok":false}` answer and the connection stays usable; a line over 64 KiB gets an error and the connection is
 * closed; past MAX_CONNECTIONS a newcomer gets `KAISER_CONTROL_BUSY` and is closed (and closed unanswered while the
 * emperor's descriptor reserve is short, system/descriptors.ts); an idle connection is closed
 * after IDLE_MS; a log follower that stops reading is dropped once BACKLOG_LIMIT_BYTES are queued for it; an
 * exception thrown by the `EmperorControl` (a kaiser bug) is logged and answered `KAISER_CONTROL_INTERNAL`.
 *
 * Start: refuse if a live server answers at PATH, remove a stale socket file, bind under umask 077, chmod 0600.
 * Close: stop accepting → end every connection (followers unsubscribed) → remove the socket file if it is still ours.
 */
import {chmodSync, lstatSync, unlinkSync} from 'node:fs';
import {connect, createServer, type Server, type Socket} from 'node:net';
import {err, ok, type Result} from '../result.js';
import {processDescriptors} from '../system/descriptors.js';
import {ensureControlDir} from './control-path.js';
import {LineReader} from './line-reader.js';
import {didYouMean} from '../config/did-you-mean.js';
import type {OutcomeWatch} from './outcome-watch.js';
import {
  MAX_REQUEST_BYTES,
  controlError,
  encodeLine,
  parseControlRequest,
  type ActionRequest,
  type ActionResult,
  type ControlError,
  type ControlRequest,
  type EmperorStatus,
  type VassalAction,
  type VassalRow,
} from './protocol.js';

const MAX_CONNECTIONS = 64;
const IDLE_MS = 30_000;
const BACKLOG_LIMIT_BYTES = 1024 * 1024;
const PROBE_MS = 1_000;

/** What the control socket may ask of the emperor. Every method returns values; none should throw. */
export interface EmperorControl {
  /** One row per vassal, for `kaiser ls`. */
  rows(): VassalRow[];
  /** The emperor in one object, for `kaiser status`. */
  status(): EmperorStatus;
  /** Reloads a vassal with its current file. The error says why not (e.g. it is held). */
  reload(name: string): Result<void, string>;
  /** Stops a vassal's running instance and starts a fresh one (a held vassal just starts). */
  restart(name: string): Result<void, string>;
  /** Stops a vassal until `start` or a change of its file. */
  stop(name: string): Result<void, string>;
  /** Starts a vassal stopped by `stop` (or retries one backing off now). */
  start(name: string): Result<void, string>;
  /**
   * Starts waiting for the outcome of `action` on `name` (call it right before the action, so no transition is
   * missed). `timeoutMs` undefined: the vassal's own start-timeout plus stop-timeout.
   */
  watchOutcome(name: string, action: VassalAction, timeoutMs: number | undefined): OutcomeWatch;
  /** The last `lines` output lines of a vassal, oldest first; of every vassal, interleaved and prefixed, without a name. */
  logTail(name: string | undefined, lines: number): Result<string[], string>;
  /** Calls `onLine` for every new output line of a vassal (of every vassal, prefixed, without a name); returns the unsubscribe function. */
  followLogs(name: string | undefined, onLine: (line: string) => void): Result<() => void, string>;
}

/** The logger calls the server makes (a winston logger fits). */
export interface ControlLog {
  debug(message: string, fields?: object): unknown;
  info(message: string, fields?: object): unknown;
  warn(message: string, fields?: object): unknown;
  error(message: string, fields?: object): unknown;
}

/** A listening control server. */
export interface ControlServer {
  readonly path: string;
  /** Stops accepting, ends every connection and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/** Listens on `path`. An error (address in use by a live emperor, unusable directory…) is a value. */
export async function startControlServer(path: string, control: EmperorControl, log: ControlLog): Promise<Result<ControlServer, string>> {
  const dir = ensureControlDir(path);
  if (!dir.ok) return dir;
  const cleared = await clearStaleSocket(path);
  if (!cleared.ok) return cleared;

  const connections = new Set<Connection>();
  const descriptors = processDescriptors();
  const server = createServer({allowHalfOpen: false}, (socket) => {
    if (!descriptors.mayOpen()) {
      // The emperor's own descriptor reserve comes first (system/descriptors.ts): closed unanswered.
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    if (connections.size >= MAX_CONNECTIONS) {
      socket.on('error', () => undefined);
      socket.end(encodeLine(failure(controlError('KAISER_CONTROL_BUSY', `more than ${MAX_CONNECTIONS} control connections are open; try again`))));
      return;
    }
    const connection = new Connection(socket, control, log);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  server.on('error', (cause) => log.error('control socket error', {path, error: String(cause)}));

  const listening = await listenOwnerOnly(server, path);
  if (!listening.ok) return listening;
  const inode = listening.value;
  log.info('control socket', {uwsgi: `*** kaiser control socket on ${path} ***`, path});

  let closing: Promise<void> | undefined;
  return ok({
    path,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of connections) connection.end();
        removeIfOurs(path, inode);
      })),
  });
}

/** Binds with umask 077 (no window in which the socket is open to others), then chmods 0600 to be sure. */
function listenOwnerOnly(server: Server, path: string): Promise<Result<number, string>> {
  return new Promise((resolve) => {
    const onError = (cause: NodeJS.ErrnoException) => resolve(err(`cannot listen on ${path}: ${cause.code ?? cause.message}`));
    server.once('error', onError);
    let previous: number | undefined;
    try {
      previous = process.umask(0o077);
    } catch {
      // Worker threads may not change the umask; the 0700 directory and the chmod below still protect the socket.
    }
    try {
      server.listen(path, () => {
        server.off('error', onError);
        try {
          chmodSync(path, 0o600);
          resolve(ok(lstatSync(path).ino));
        } catch (cause) {
          server.close();
          resolve(err(`cannot restrict ${path} to its owner: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`));
        }
      });
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}

/** Refuses a path where a live server answers or that is not a socket; removes a dead socket file. */
async function clearStaleSocket(path: string): Promise<Result<void, string>> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(`cannot inspect ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
  if (!isSocket) return err(`${path} exists and is not a socket: remove it or choose another --control path`);
  if (await answers(path)) return err(`another emperor is already listening on ${path}`);
  try {
    unlinkSync(path);
    return ok(undefined);
  } catch (cause) {
    return err(`cannot remove the stale socket ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
}

/** Whether something accepts connections at `path` (a refused or timed-out connect means stale). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    const done = (alive: boolean) => {
      clearTimeout(timer);
      probe.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), PROBE_MS);
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
}

function removeIfOurs(path: string, inode: number): void {
  try {
    // Another emperor may have replaced a socket it judged stale; never delete its file.
    if (lstatSync(path).ino === inode) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function failure(error: ControlError): object {
  return {ok: false, code: error.code, error: error.error};
}

/** Request lines a client may queue behind one that is still being answered (a `--wait`). */
const MAX_QUEUED_LINES = 64;

/**
 * `no vassal named "shp.ini" (did you mean "shop.ini"?)`: a name without its extension, or a near miss, gets a
 * suggestion; otherwise the known names (the first 20).
 */
export function unknownVassalMessage(name: string, known: readonly string[]): string {
  const sameStem = known.find((candidate) => candidate.replace(/\.(ini|toml)$/, '') === name);
  const hint = sameStem !== undefined ? ` (did you mean "${sameStem}"?)` : didYouMean(name, known);
  if (hint !== '') return `no vassal named ${JSON.stringify(name)}${hint}`;
  const list = known.length === 0 ? 'the emperor has no vassals' : `known: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}`;
  return `no vassal named ${JSON.stringify(name)} (${list})`;
}

/**
 * One client: reads request lines and answers them in order (an action with `wait` is answered when its outcome is
 * known; lines that arrive meanwhile queue behind it); a `logs --follow` makes it a stream.
 */
class Connection {
  readonly #socket: Socket;
  readonly #control: EmperorControl;
  readonly #log: ControlLog;
  readonly #reader = new LineReader(MAX_REQUEST_BYTES);
  readonly #queued: string[] = [];
  /** Ends the waits in progress when the client goes away. */
  readonly #cancels = new Set<() => void>();
  #answering = false;
  #tooLong = false;
  #unfollow: (() => void) | undefined;
  #ended = false;

  constructor(socket: Socket, control: EmperorControl, log: ControlLog) {
    this.#socket = socket;
    this.#control = control;
    this.#log = log;
    socket.setTimeout(IDLE_MS, () => this.end());
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (cause) => this.#log.debug('control connection error', {error: String(cause)}));
    socket.once('close', () => {
      this.#stopFollowing();
      for (const cancel of this.#cancels) cancel();
      this.#cancels.clear();
    });
  }

  /** Ends the connection politely, then for good once the last answer is flushed. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopFollowing();
    this.#socket.end(() => this.#socket.destroy());
  }

  #onData(chunk: Buffer): void {
    if (this.#ended || this.#unfollow !== undefined) return;
    const batch = this.#reader.push(chunk);
    for (const line of batch.lines) if (line.trim() !== '') this.#queued.push(line);
    if (batch.tooLong || this.#queued.length > MAX_QUEUED_LINES) this.#tooLong = true;
    void this.#answerQueued();
  }

  async #answerQueued(): Promise<void> {
    if (this.#answering) return;
    this.#answering = true;
    try {
      for (let line = this.#queued.shift(); line !== undefined; line = this.#queued.shift()) {
        if (this.#ended || this.#unfollow !== undefined) return;
        await this.#answer(line);
      }
      if (this.#tooLong && !this.#ended) {
        this.#send(failure(controlError('KAISER_CONTROL_LINE_TOO_LONG', `a request line may be at most ${MAX_REQUEST_BYTES} bytes, and at most ${MAX_QUEUED_LINES} requests may wait for an answer`)));
        this.end();
      }
    } finally {
      this.#answering = false;
    }
  }

  async #answer(line: string): Promise<void> {
    const request = parseControlRequest(line);
    if (!request.ok) return this.#send(failure(request.error));
    try {
      // A plain answer goes out at once: a `logs --follow` answer must precede the first streamed line.
      const answer = this.#handle(request.value);
      this.#send(answer instanceof Promise ? await answer : answer);
    } catch (cause) {
      this.#log.error('control request failed', {cmd: request.value.cmd, error: String(cause)});
      this.#send(failure(controlError('KAISER_CONTROL_INTERNAL', `internal error while handling "${request.value.cmd}": see the emperor's log`)));
    }
  }

  #handle(request: ControlRequest): object | Promise<object> {
    const control = this.#control;
    switch (request.cmd) {
      case 'ls':
        return {ok: true, vassals: control.rows()};
      case 'status':
        return {ok: true, status: control.status()};
      case 'reload':
      case 'restart':
      case 'stop':
      case 'start': {
        if ('names' in request) return this.#act(request);
        if (!this.#exists(request.name)) return this.#unknownVassal(request.name);
        const done = control[request.cmd](request.name);
        if (!done.ok) return failure(controlError('KAISER_CONTROL_REFUSED', `cannot ${request.cmd} ${request.name}: ${done.error}`));
        this.#log.info('control action', {cmd: request.cmd, vassal: request.name});
        return {ok: true, cmd: request.cmd, name: request.name};
      }
      case 'logs':
        return this.#logs(request);
      default: {
        const never: never = request;
        throw new Error(`Internal error: unknown control request ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * An action on several vassals (or all), answered with one result per vassal; with `wait`, once each has an
   * outcome. Under `all`, a vassal the action does not apply to (held, asleep, invalid…) is skipped, not a failure.
   */
  async #act(request: Extract<ActionRequest, {names: unknown}>): Promise<object> {
    const control = this.#control;
    const cmd: VassalAction = request.cmd;
    const rows = control.rows();
    const known = rows.map((row) => row.name);
    const knownSet = new Set(known);
    const all = request.names === 'all';
    // --all acts on (and answers for) every vassal in name order, whatever order their files were first read in.
    const names = request.names === 'all' ? [...known].sort() : [...new Set(request.names)];
    // A name no vassal has is a mistake in the command: nothing is done, so a typo never half-applies a deploy.
    const unknown = names.filter((name) => !knownSet.has(name));
    if (unknown.length > 0) {
      const message = unknown.map((name) => unknownVassalMessage(name, known)).join('; ');
      return failure(controlError('KAISER_CONTROL_UNKNOWN_VASSAL', `${message}; nothing was done`));
    }
    const timeoutMs = request.wait === undefined || request.wait === 'vassal-default' ? undefined : request.wait.seconds * 1000;
    const results: Promise<ActionResult>[] = [];
    for (const name of names) {
      const watch = request.wait === undefined ? undefined : control.watchOutcome(name, cmd, timeoutMs);
      const done = control[cmd](name);
      if (!done.ok) {
        watch?.cancel();
        results.push(Promise.resolve(all ? {name, ok: true, skipped: done.error} : {name, ok: false, code: 'KAISER_CONTROL_REFUSED', error: `cannot ${cmd} ${name}: ${done.error}`}));
        continue;
      }
      this.#log.info('control action', {cmd, vassal: name});
      if (watch === undefined) {
        results.push(Promise.resolve({name, ok: true}));
        continue;
      }
      this.#cancels.add(watch.cancel);
      watch.afterAction();
      results.push(watch.outcome.finally(() => this.#cancels.delete(watch.cancel)));
    }
    // A wait may outlast the idle timeout; the client's own deadline covers it.
    if (this.#cancels.size > 0) this.#socket.setTimeout(0);
    const settled = await Promise.all(results);
    if (!this.#ended) this.#socket.setTimeout(IDLE_MS);
    return {ok: true, cmd, results: settled};
  }

  #logs(request: Extract<ControlRequest, {cmd: 'logs'}>): object {
    if (request.name !== undefined && !this.#exists(request.name)) return this.#unknownVassal(request.name);
    const whose = request.name ?? 'every vassal';
    const tail = this.#control.logTail(request.name, request.lines);
    if (!tail.ok) return failure(controlError('KAISER_CONTROL_REFUSED', `cannot read the log of ${whose}: ${tail.error}`));
    if (!request.follow) return {ok: true, lines: tail.value};
    const followed = this.#control.followLogs(request.name, (line) => this.#stream(line));
    if (!followed.ok) return failure(controlError('KAISER_CONTROL_REFUSED', `cannot follow the log of ${whose}: ${followed.error}`));
    this.#unfollow = followed.value;
    // A follower may be quiet for hours; it ends by disconnecting.
    this.#socket.setTimeout(0);
    return {ok: true, lines: tail.value};
  }

  #stream(line: string): void {
    if (this.#ended) return;
    // A follower that stops reading must not make the emperor buffer its vassal's output without end.
    if (this.#socket.writableLength > BACKLOG_LIMIT_BYTES) {
      this.#log.warn('dropping a slow log follower', {queuedBytes: this.#socket.writableLength});
      this.#stopFollowing();
      this.#socket.destroy();
      return;
    }
    this.#send({line});
  }

  #exists(name: string): boolean {
    return this.#control.rows().some((row) => row.name === name);
  }

  #unknownVassal(name: string): object {
    return failure(controlError('KAISER_CONTROL_UNKNOWN_VASSAL', unknownVassalMessage(name, this.#control.rows().map((row) => row.name))));
  }

  #send(message: object): void {
    if (this.#ended || this.#socket.destroyed) return;
    this.#socket.write(encodeLine(message));
  }

  #stopFollowing(): void {
    const unfollow = this.#unfollow;
    this.#unfollow = undefined;
    if (unfollow === undefined) return;
    try {
      unfollow();
    } catch (cause) {
      this.#log.error('cannot unsubscribe a log follower', {error: String(cause)});
    }
  }
}
