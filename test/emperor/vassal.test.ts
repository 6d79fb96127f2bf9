/** The vassal state machine, edge by edge, with a fake world: no processes, time moves only when told. */
import {describe, expect, it} from '@jest/globals';
import winston from 'winston';
import type {VassalSpec} from '../../src/config/vassal-spec.js';
import type {Child, ExitStatus} from '../../src/emperor/child.js';
import {Vassal} from '../../src/emperor/vassal.js';
import type {VassalMessage} from '../../src/protocol/emperor-pipe.js';

class FakeChild implements Child {
  static nextPid = 1000;
  readonly pid = FakeChild.nextPid++;
  readonly signals: NodeJS.Signals[] = [];
  readonly sent: Buffer[] = [];
  #exit!: (status: ExitStatus) => void;
  readonly exited = new Promise<ExitStatus>((resolve) => (this.#exit = resolve));
  readonly #lines: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  readonly #messages: ((m: VassalMessage) => void)[] = [];
  onLine(l: (line: string, stream: 'stdout' | 'stderr') => void): void {
    this.#lines.push(l);
  }
  onMessage(l: (m: VassalMessage) => void): void {
    this.#messages.push(l);
  }
  send(bytes: Buffer): boolean {
    this.sent.push(bytes);
    return true;
  }
  killGroup(signal: NodeJS.Signals): void {
    this.signals.push(signal);
  }
  print(line: string): void {
    this.#lines.forEach((l) => l(line, 'stdout'));
  }
  event(event: {event: string; error?: string}): void {
    this.#messages.forEach((l) => l({kind: 'event', event}));
  }
  byte(byte: number): void {
    this.#messages.forEach((l) => l({kind: 'byte', byte}));
  }
  exit(status: ExitStatus): Promise<void> {
    this.#exit(status);
    return flush();
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

class FakeWorld {
  time = 0;
  readonly children: FakeChild[] = [];
  readonly #timers: {at: number; fn: () => void; live: boolean}[] = [];
  slotsInUse = 0;

  deps() {
    return {
      launch: () => {
        const child = new FakeChild();
        this.children.push(child);
        return child;
      },
      now: () => this.time,
      setTimer: (ms: number, fn: () => void) => {
        const timer = {at: this.time + ms, fn, live: true};
        this.#timers.push(timer);
        return () => void (timer.live = false);
      },
      log: winston.createLogger({silent: true}),
      groups: {add: () => undefined, remove: () => undefined},
      serverConfigFor: (spec: {serverConfig: Record<string, unknown>}) => ({...spec.serverConfig, _internal: true}),
      requestSlot: (grant: () => void) => {
        this.slotsInUse += 1;
        grant();
        return () => undefined;
      },
      releaseSlot: () => void (this.slotsInUse -= 1),
      onTransition: () => undefined,
      onOutput: () => undefined,
    };
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.time = due.at;
      due.live = false;
      due.fn();
    }
    this.time = until;
  }

  get last(): FakeChild {
    return this.children[this.children.length - 1]!;
  }
}

function commandSpec(): VassalSpec {
  return {
    kind: 'command',
    name: 'web.toml',
    file: '/v/web.toml',
    dir: '/v',
    argv: ['/bin/true'],
    cwd: '/v',
    env: {},
    ready: {kind: 'notify'},
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 10_000,
    startTimeoutMs: 60_000,
    sockets: [],
  } as unknown as VassalSpec;
}

function appSpec(): VassalSpec {
  return {kind: 'app-server', name: 'app.ini', file: '/v/app.ini', dir: '/v', python: 'python3', serverConfig: {processes: 1}, stopTimeoutMs: 10_000, startTimeoutMs: 60_000} as unknown as VassalSpec;
}

/** A vassal in a fresh fake world, given its first config. */
function configured(name: string, spec: VassalSpec): {world: FakeWorld; v: Vassal} {
  const world = new FakeWorld();
  const v = new Vassal(name, world.deps());
  v.onConfigChanged(spec);
  return {world, v};
}

describe('Vassal', () => {
  it('spawns when configured and becomes ready on READY=1', () => {
    const {world, v} = configured('web.toml', commandSpec());
    expect(v.state.id).toBe('starting');
    world.last.print('READY=1');
    expect(v.state.id).toBe('ready');
    expect(world.slotsInUse).toBe(0);
  });

  it('backs off 1 s, 2 s, 4 s for a vassal that dies before it is ready, not sooner', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    await world.last.exit({code: 1, signal: null});
    expect(v.state.id).toBe('backoff');
    world.advance(999);
    expect(world.children).toHaveLength(1);
    world.advance(1);
    expect(world.children).toHaveLength(2);
    await world.last.exit({code: 1, signal: null});
    world.advance(1999);
    expect(world.children).toHaveLength(2);
    world.advance(1);
    expect(world.children).toHaveLength(3);
    await world.last.exit({code: 1, signal: null});
    world.advance(3999);
    expect(world.children).toHaveLength(3);
    world.advance(1);
    expect(world.children).toHaveLength(4);
  });

  it('respawns a ready vassal at once every time it crashes, and backs off only deaths before ready', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    for (let i = 0; i < 3; i++) {
      world.last.print('READY=1');
      await world.last.exit({code: null, signal: 'SIGKILL'});
      expect(v.state.id).toBe('starting');
    }
    expect(world.children).toHaveLength(4);
    await world.last.exit({code: 1, signal: null});
    expect(v.state.id).toBe('backoff');
  });

  it('never respawns a vassal that exits 26 (exiled)', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    world.last.print('READY=1');
    await world.last.exit({code: 26, signal: null});
    expect(v.state.id).toBe('stopped');
  });

  it('asks the program to stop, then SIGKILLs the group after stop-timeout', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    world.last.print('READY=1');
    const stopped = v.remove('removed');
    expect(world.last.signals).toEqual(['SIGTERM']);
    world.advance(9_999);
    expect(world.last.signals).toEqual(['SIGTERM']);
    world.advance(1);
    expect(world.last.signals).toEqual(['SIGTERM', 'SIGKILL']);
    await world.last.exit({code: null, signal: 'SIGKILL'});
    await stopped;
    expect(v.state.id).toBe('stopped');
  });

  it('keeps a running vassal on its last good config when the file breaks', () => {
    const {world, v} = configured('web.toml', commandSpec());
    world.last.print('READY=1');
    v.onConfigInvalid('broken');
    expect(v.state.id).toBe('ready');
  });

  it('starts a backing-off vassal at once when its file is fixed', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    await world.last.exit({code: 1, signal: null});
    expect(v.state.id).toBe('backoff');
    v.onConfigChanged(commandSpec());
    expect(v.state.id).toBe('starting');
    expect(world.children).toHaveLength(2);
  });

  it('reloads an app-server vassal in place: config packet, reload byte, ready again on ACCEPTING', () => {
    const {world, v} = configured('app.ini', appSpec());
    world.last.byte(5);
    expect(v.state.id).toBe('ready');
    v.onConfigChanged(appSpec());
    expect(v.state.id).toBe('reloading');
    expect(world.children).toHaveLength(1);
    expect(world.last.sent.map((b) => b[0])).toEqual([115, 1]);
    world.last.byte(5);
    expect(v.state.id).toBe('ready');
  });

  it('stays serving and reports reload-failed when the new app does not load', () => {
    const {world, v} = configured('app.ini', appSpec());
    world.last.byte(5);
    v.reload();
    expect(v.state.id).toBe('reloading');
    world.last.event({event: 'reload-failed', error: 'SyntaxError in app.py'});
    expect(v.state.id).toBe('reload-failed');
    expect(v.snapshot().lastError).toContain('SyntaxError');
    expect(world.last.signals).toEqual([]);
    v.reload();
    world.last.byte(5);
    expect(v.state.id).toBe('ready');
  });
});

describe('Vassal: limits and refusals', () => {
  it('backs off a ready vassal whose exit the emperor explains (over memory-limit), with that as its last error', async () => {
    const world = new FakeWorld();
    const v = new Vassal('web.toml', {...world.deps(), exitReason: () => 'killed: over memory-limit 64 MB'});
    v.onConfigChanged(commandSpec());
    world.last.print('READY=1');
    expect(v.state.id).toBe('ready');
    await world.last.exit({code: null, signal: 'SIGKILL'});
    expect(v.state.id).toBe('backoff');
    expect(v.snapshot().lastError).toBe('killed: over memory-limit 64 MB');
    world.advance(999);
    expect(world.children).toHaveLength(1);
    world.advance(1);
    expect(world.children).toHaveLength(2);
  });

  it('stops a running vassal refused with stop (tyrant owner change) and shows the error', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    world.last.print('READY=1');
    v.onConfigInvalid('KAISER_TYRANT_ROOT_OWNED …', {stop: true});
    expect(v.state.id).toBe('stopping');
    expect(world.last.signals).toEqual(['SIGTERM']);
    await world.last.exit({code: 0, signal: null});
    expect(v.state).toEqual({id: 'invalid', error: 'KAISER_TYRANT_ROOT_OWNED …'});
    world.advance(120_000);
    expect(world.children).toHaveLength(1);
  });

  it('restarts (not reloads in place) an app-server vassal when asked to, e.g. for a new uid', async () => {
    const {world, v} = configured('app.ini', appSpec());
    world.last.byte(5);
    expect(v.state.id).toBe('ready');
    v.onConfigChanged(appSpec(), {restart: true});
    expect(v.state.id).toBe('stopping');
    await world.last.exit({code: 0, signal: null});
    expect(world.children).toHaveLength(2);
    expect(v.state.id).toBe('starting');
  });
});

describe('Vassal: config changes while an app-server master starts', () => {
  it('reloads in place once ready instead of stopping the master', () => {
    const {world, v} = configured('app.ini', appSpec());
    v.onConfigChanged(appSpec());
    expect(world.last.signals).toEqual([]);
    expect(world.last.sent).toEqual([]);
    world.last.byte(5);
    expect(v.state.id).toBe('reloading');
    expect(world.last.sent.map((b) => b[0])).toEqual([115, 1]);
    expect(world.children).toHaveLength(1);
  });
});

describe('Vassal: reload and restart, state by state', () => {
  it('reload stops and starts a ready command vassal, starts a backing-off one at once, and leaves a held one down', async () => {
    const {world, v} = configured('web.toml', commandSpec());
    world.last.print('READY=1');
    v.reload();
    expect(v.state.id).toBe('stopping');
    expect(world.last.signals).toEqual(['SIGTERM']);
    await world.last.exit({code: 0, signal: null});
    expect(v.state.id).toBe('starting');
    await world.last.exit({code: 1, signal: null});
    expect(v.state.id).toBe('backoff');
    v.reload();
    expect(v.state.id).toBe('starting');
    expect(world.children).toHaveLength(3);
    world.last.print('READY=1');
    const held = v.hold();
    await world.last.exit({code: 0, signal: null});
    await held;
    v.reload();
    expect(v.state.id).toBe('held');
    expect(world.children).toHaveLength(3);
  });

  it('restart stops an app-server master instead of reloading it in place, and starts a held vassal', async () => {
    const {world, v} = configured('app.ini', appSpec());
    world.last.byte(5);
    v.restart();
    expect(v.state.id).toBe('stopping');
    expect(world.last.sent.map((b) => b[0])).not.toContain(115); // no config packet: not a reload in place
    await world.last.exit({code: 0, signal: null});
    expect(v.state.id).toBe('starting');
    expect(world.children).toHaveLength(2);
    world.last.byte(5);
    void v.hold(); // never resolves: the restart turns the stop into a start
    v.restart();
    await world.last.exit({code: 0, signal: null});
    expect(v.state.id).toBe('starting');
    expect(world.children).toHaveLength(3);
    world.last.byte(5);
    const held = v.hold();
    await world.last.exit({code: 0, signal: null});
    await held;
    expect(v.state.id).toBe('held');
    v.restart();
    expect(v.state.id).toBe('starting');
    expect(world.children).toHaveLength(4);
  });

  it('neither reload nor restart touches a vassal whose file is invalid', () => {
    const world = new FakeWorld();
    const v = new Vassal('web.toml', world.deps());
    v.onConfigInvalid('bad line 3');
    v.reload();
    v.restart();
    expect(v.state).toEqual({id: 'invalid', error: 'bad line 3'});
    expect(world.children).toHaveLength(0);
  });
});
