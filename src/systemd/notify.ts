/**
 * sd_notify for the emperor: READY=1, STATUS=…, RELOADING=1, STOPPING=1 and the WATCHDOG=1 keep-alive.
 *
 * Node cannot send unix datagrams (dgram has no AF_UNIX) and kaiser avoids native addons, so when $NOTIFY_SOCKET is
 * set one small python3 helper is started: it reads JSON strings, one per line, on its stdin, sends each as one
 * datagram to NOTIFY_SOCKET (a path, or `@name` for the abstract namespace), and exits at stdin EOF, which also
 * happens when the emperor dies. The datagrams carry the emperor's pid as sender credentials when the helper may
 * (root: the system units say NotifyAccess=main), and every message says MAINPID=<our pid>, so systemd learns that
 * the emperor, not the helper, is the service.
 * Without NOTIFY_SOCKET every method is a no-op and nothing is spawned.
 *
 *   (new) ──NOTIFY_SOCKET set──► open ──close()──► closed        (new) ──unset──► disabled (no-op forever)
 *   open: ready() | status() | reloading() | stopping() write one line each; startWatchdog() arms the timer
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {monitorEventLoopDelay, type IntervalHistogram} from 'node:perf_hooks';
import {terminate} from '../util/terminate.js';

/**
 * Reads JSON lines, sends each as a datagram; SIGINT is ignored so Ctrl-C cannot lose the STOPPING=1 message. Each
 * datagram carries the emperor's pid as its sender credentials (SCM_CREDENTIALS), as `systemd-notify` does for its
 * parent: root may send with another pid of its own, so systemd accepts it under NotifyAccess=main. Without that
 * privilege (EPERM) it sends as itself, which systemd accepts only under NotifyAccess=all (user units).
 */
const HELPER_SCRIPT = `
import json, os, signal, socket, struct, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
address = sys.argv[1]
if address.startswith('@'):
    address = '\\0' + address[1:]
main_pid = int(sys.argv[2])
creds = [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack('3i', main_pid, os.getuid(), os.getgid()))]
as_main = main_pid > 0
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    try:
        data = json.loads(line).encode('utf-8')
        if as_main:
            try:
                sock.sendmsg([data], creds, 0, address)
                continue
            except PermissionError:
                as_main = False
        sock.sendto(data, address)
    except Exception as error:
        sys.stderr.write('%s\\n' % error)
        sys.stderr.flush()
`;

const DEFAULT_PYTHON = '/usr/bin/python3';
const CLOSE_GRACE_MS = 1_000;
/** Event-loop delay sampling resolution for the watchdog's health check. */
const LOOP_RESOLUTION_MS = 10;

/** What a notifier reports problems to (a winston Logger fits). */
export interface NotifyLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface NotifierOptions {
  /** The environment to read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** The pid systemd should treat as the service's main process. Default: process.pid. */
  pid?: number;
  /** The python3 to run the helper with. Default: /usr/bin/python3, else `python3` on PATH. */
  python?: string;
  log?: NotifyLog;
}

/** The input of the watchdog's health check, in milliseconds. */
export interface LoopHealth {
  /** How far the beat timer fired after it was due. */
  timerLateMs: number;
  /** The longest single event-loop stall measured since the previous beat. */
  maxLoopDelayMs: number;
  watchdogMs: number;
}

/** A beat is skipped when the loop stalled for more than half the watchdog period: systemd should notice. */
export function isLoopHealthy({timerLateMs, maxLoopDelayMs, watchdogMs}: LoopHealth): boolean {
  return Math.max(timerLateMs, maxLoopDelayMs) <= watchdogMs / 2;
}

/** The watchdog period systemd asked for, if it is meant for `pid`. */
export function watchdogPeriodMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return undefined;
  return usec / 1000;
}

/** CLOCK_MONOTONIC in microseconds (libuv's hrtime reads CLOCK_MONOTONIC on Linux), as systemd's MONOTONIC_USEC. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** The emperor's line to systemd. Build with `Notifier.fromEnvironment()`. */
export class Notifier {
  readonly #pid: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: NotifyLog | undefined;
  #helper: ChildProcess | undefined;
  #helperExited: Promise<void> = Promise.resolve();
  #watchdogTimer: NodeJS.Timeout | undefined;
  #loopDelay: IntervalHistogram | undefined;

  private constructor(env: NodeJS.ProcessEnv, pid: number, log: NotifyLog | undefined) {
    this.#env = env;
    this.#pid = pid;
    this.#log = log;
  }

  /** A notifier for this process: starts the helper when NOTIFY_SOCKET is set, otherwise a no-op one. */
  static fromEnvironment(options: NotifierOptions = {}): Notifier {
    const env = options.env ?? process.env;
    const notifier = new Notifier(env, options.pid ?? process.pid, options.log);
    const socket = env['NOTIFY_SOCKET'];
    if (socket) notifier.#startHelper(socket, options.python ?? (existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : 'python3'));
    return notifier;
  }

  /** True when messages go somewhere (NOTIFY_SOCKET was set and the helper has not failed). */
  get isEnabled(): boolean {
    return this.#helper !== undefined;
  }

  /** Startup (or a reload) is complete. */
  ready(): void {
    this.#send('READY=1');
  }

  /** A free-form status line, shown by `systemctl status`. */
  status(text: string): void {
    // One line: systemd splits the datagram on newlines into assignments.
    this.#send(`STATUS=${text.replace(/\n/g, ' ')}`);
  }

  /** A reload has begun; send `ready()` when it is done. */
  reloading(): void {
    this.#send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`);
  }

  /** Shutdown has begun. */
  stopping(): void {
    this.#send('STOPPING=1');
  }

  /**
   * Sends WATCHDOG=1 every WATCHDOG_USEC/2 while the event loop is healthy, if systemd asked for a watchdog for our
   * pid. Returns whether the watchdog runs. Idempotent.
   */
  startWatchdog(): boolean {
    if (!this.#helper) return false;
    if (this.#watchdogTimer) return true;
    const watchdogMs = watchdogPeriodMs(this.#env, this.#pid);
    if (watchdogMs === undefined) return false;
    const intervalMs = Math.max(1, Math.floor(watchdogMs / 2));
    const loopDelay = monitorEventLoopDelay({resolution: LOOP_RESOLUTION_MS});
    loopDelay.enable();
    this.#loopDelay = loopDelay;
    let dueAt = performance.now() + intervalMs;
    this.#watchdogTimer = setInterval(() => {
      const now = performance.now();
      const health = {timerLateMs: now - dueAt, maxLoopDelayMs: loopDelay.max / 1e6, watchdogMs};
      dueAt = now + intervalMs;
      loopDelay.reset();
      if (isLoopHealthy(health)) this.#send('WATCHDOG=1');
      else this.#log?.warn('event loop stalled; skipping a watchdog beat', {stalledMs: Math.round(Math.max(health.timerLateMs, health.maxLoopDelayMs)), watchdogMs});
    }, intervalMs);
    this.#watchdogTimer.unref();
    // The first beat now: the period starts when the service starts, not when our first interval ends.
    this.#send('WATCHDOG=1');
    return true;
  }

  /** Stops the watchdog, closes the helper's stdin and waits (briefly) for it to send what is queued and exit. */
  async close(): Promise<void> {
    clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
    this.#loopDelay?.disable();
    this.#loopDelay = undefined;
    const helper = this.#helper;
    if (!helper) return;
    this.#helper = undefined;
    await terminate(this.#helperExited, {ask: () => helper.stdin?.end(), graceMs: CLOSE_GRACE_MS, force: () => helper.kill('SIGKILL')});
  }

  #startHelper(socket: string, python: string): void {
    const env = {...this.#env};
    delete env['NOTIFY_SOCKET'];
    const helper = spawn(python, ['-c', HELPER_SCRIPT, socket, String(this.#pid)], {stdio: ['pipe', 'ignore', 'pipe'], env});
    this.#helper = helper;
    this.#helperExited = new Promise((resolve) => helper.once('close', () => resolve()));
    helper.on('error', (error: NodeJS.ErrnoException) => {
      this.#log?.warn('cannot start the sd_notify helper; not notifying systemd', {python, error: error.code ?? error.message});
      if (this.#helper === helper) this.#helper = undefined;
    });
    helper.on('exit', (code, signal) => {
      if (this.#helper !== helper) return;
      this.#helper = undefined;
      this.#log?.warn('sd_notify helper exited; not notifying systemd', {code, signal});
    });
    helper.stdin?.on('error', () => undefined);
    helper.stderr?.setEncoding('utf8');
    helper.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) this.#log?.warn('sd_notify failed', {socket, error: line});
    });
    // Neither the helper nor its pipes may keep the emperor alive.
    helper.unref();
    for (const stream of [helper.stdin, helper.stderr]) (stream as unknown as {unref?: () => void} | null)?.unref?.();
  }

  #send(message: string): void {
    this.#helper?.stdin?.write(`${JSON.stringify(`${message}\nMAINPID=${this.#pid}`)}\n`);
  }
}
