/**
 * Containment (src/emperor/containment.ts) over a fake world: a throw injected at each per-vassal step, through the
 * fault plan or through the System layer, makes that vassal invalid or backing off with a clear last error, while
 * another vassal stays ready, untouched, and the emperor goes on (a throw reaching jest would fail the test).
 */
import {describe, expect, it} from '@jest/globals';
import winston from 'winston';
import {Containment, faultPlanFrom, VASSAL_STEPS, type VassalStep} from '../../src/emperor/containment.js';
import type {Child, ExitStatus} from '../../src/emperor/child.js';
import {Vassal} from '../../src/emperor/vassal.js';
import type {VassalSpec} from '../../src/config/vassal-spec.js';
import type {VassalMessage} from '../../src/protocol/emperor-pipe.js';
import {FakeSystem, type FakeProcess} from '../helpers/fake-system.js';
import {FAKE_VASSAL_DIR, SETTLE_MS, fakeEmperor} from '../helpers/fake-emperor.js';

const DIR = FAKE_VASSAL_DIR;
const NOTIFY = (program: string) => `exec = ["${program}"]\nready = "notify"\nstop-timeout = 5\n`;

/** An emperor whose plan throws at `faults` (`step:vassal`), with `good.toml` ready beside whatever the test adds. */
async function startEmperor(faults: string, options: {onTransition?: () => void; sys?: FakeSystem} = {}) {
  const sys = options.sys ?? new FakeSystem();
  const {emperor, lines, containment} = fakeEmperor(sys, {
    makeContainment: (log: winston.Logger) => new Containment(log, () => sys.now(), faultPlanFrom(faults)),
    ...(options.onTransition ? {onVassalTransition: options.onTransition} : {}),
  });
  await emperor.start();
  sys.write(`${DIR}/good.toml`, NOTIFY('/opt/good'));
  await sys.advance(SETTLE_MS);
  const good = sys.running('/opt/good')[0]!;
  good.print('READY=1');
  await sys.settle();
  const row = (name: string) => emperor.snapshots().find((s) => s.name === name);
  expect(row('good.toml')?.state).toBe('ready');
  /** The good vassal still serves: same process, never signalled, still ready. */
  const goodIsUntouched = () => {
    expect(row('good.toml')?.state).toBe('ready');
    expect(good.signals).toEqual([]);
    expect(good.hasExited).toBe(false);
    expect(sys.started('/opt/good')).toHaveLength(1);
  };
  return {sys, emperor, containment, lines, row, good, goodIsUntouched};
}

/** Brings `bad.toml` (running /opt/bad, ready by notify) to ready. */
async function readyBad(sys: FakeSystem): Promise<FakeProcess> {
  sys.write(`${DIR}/bad.toml`, NOTIFY('/opt/bad'));
  await sys.advance(SETTLE_MS);
  const bad = sys.running('/opt/bad')[0]!;
  bad.print('READY=1');
  await sys.settle();
  return bad;
}

describe('Containment', () => {
  it('has a boundary for every step the issue names', () => {
    expect([...VASSAL_STEPS]).toEqual(expect.arrayContaining(['read', 'parse', 'define', 'spawn', 'ready', 'output', 'exit', 'accounting', 'timer']));
  });

  it.each<[VassalStep, string]>([
    ['read', 'invalid'],
    ['parse', 'invalid'],
    ['define', 'invalid'],
  ])('makes the vassal invalid when %s throws, naming the internal error', async (step, state) => {
    const {sys, row, containment, lines, goodIsUntouched, emperor} = await startEmperor(`${step}:bad.toml`);
    sys.write(`${DIR}/bad.toml`, NOTIFY('/opt/bad'));
    await sys.advance(SETTLE_MS);
    expect(row('bad.toml')?.state).toBe(state);
    expect(row('bad.toml')?.lastError).toMatch(new RegExp(`KAISER_INTERNAL_ERROR internal error in ${step} of bad.toml: InjectedFault: injected fault`));
    expect(sys.started('/opt/bad')).toHaveLength(0);
    expect(containment.count).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('KAISER_INTERNAL_ERROR'))).toBe(true);
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('backs the vassal off when its launch throws (no process was started)', async () => {
    const {sys, row, goodIsUntouched, emperor} = await startEmperor('spawn:bad.toml');
    sys.write(`${DIR}/bad.toml`, NOTIFY('/opt/bad'));
    await sys.advance(SETTLE_MS);
    expect(row('bad.toml')).toMatchObject({state: 'backoff', lastError: expect.stringContaining('KAISER_VASSAL_SPAWN_FAILED cannot start: InjectedFault')});
    // The retry throws again: backoff again, with a longer delay; the spawn slot was given back each time.
    await sys.advance(1_000);
    expect(row('bad.toml')?.state).toBe('backoff');
    expect(row('bad.toml')?.restarts).toBe(0);
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('stops the instance and backs off when watching its readiness throws', async () => {
    const {sys, row, goodIsUntouched, emperor} = await startEmperor('ready:bad.toml');
    sys.write(`${DIR}/bad.toml`, NOTIFY('/opt/bad'));
    await sys.advance(SETTLE_MS);
    const bad = sys.started('/opt/bad')[0]!;
    expect(bad.signals).toEqual(['SIGTERM']);
    await sys.settle();
    expect(row('bad.toml')).toMatchObject({state: 'backoff', lastError: expect.stringContaining('internal error in ready of bad.toml')});
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('drops the output line whose handling throws, and nothing else', async () => {
    const {sys, row, lines, goodIsUntouched, emperor} = await startEmperor('output:bad.toml');
    sys.write(`${DIR}/bad.toml`, NOTIFY('/opt/bad'));
    await sys.advance(SETTLE_MS);
    const bad = sys.running('/opt/bad')[0]!;
    bad.print('a line that cannot be handled');
    bad.print('and another');
    bad.print('READY=1'); // dropped too: every line of this vassal throws
    await sys.settle();
    expect(row('bad.toml')?.state).toBe('starting');
    expect(bad.signals).toEqual([]);
    expect(lines.filter((l) => l.includes('internal error in output of bad.toml'))).toHaveLength(1); // rate-limited
    expect(lines.some((l) => l.includes('a line that cannot be handled'))).toBe(false);
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('still leaves a dead instance behind when handling its exit throws', async () => {
    const {sys, row, goodIsUntouched, emperor} = await startEmperor('exit:bad.toml');
    const bad = await readyBad(sys);
    expect(row('bad.toml')?.state).toBe('ready');
    bad.exit({code: 1, signal: null});
    await sys.settle();
    expect(row('bad.toml')).toMatchObject({state: 'backoff', lastError: expect.stringContaining('internal error in exit of bad.toml')});
    // It is started again after its backoff, as after any failure.
    await sys.advance(1_000);
    expect(sys.started('/opt/bad')).toHaveLength(2);
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('reaches stopped when handling the exit of a removed vassal throws (removal and shutdown still finish)', async () => {
    const {sys, emperor, goodIsUntouched} = await startEmperor('exit:bad.toml');
    await readyBad(sys);
    sys.remove(`${DIR}/bad.toml`);
    await sys.advance(SETTLE_MS);
    expect(emperor.vassal('bad.toml')).toBeUndefined();
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('skips one vassal whose accounting throws and samples the others', async () => {
    const {sys, emperor, row, lines, goodIsUntouched} = await startEmperor('accounting:bad.toml');
    await readyBad(sys);
    await emperor.sampleAccounting();
    expect(lines.some((l) => l.includes('internal error in accounting of bad.toml'))).toBe(true);
    expect(row('bad.toml')?.state).toBe('ready');
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('backs off again when the retry timer throws', async () => {
    const {sys, row, goodIsUntouched, emperor} = await startEmperor('timer:bad.toml');
    sys.write(`${DIR}/bad.toml`, NOTIFY('/opt/bad'));
    await sys.advance(SETTLE_MS);
    sys.running('/opt/bad')[0]!.exit({code: 1, signal: null});
    await sys.settle();
    expect(row('bad.toml')?.state).toBe('backoff');
    await sys.advance(1_000);
    expect(row('bad.toml')).toMatchObject({state: 'backoff', lastError: expect.stringContaining('internal error in timer of bad.toml')});
    expect(sys.started('/opt/bad')).toHaveLength(1);
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('stops the instance when a report on its emperor pipe throws', () => {
    // An app-server vassal over fake deps (the master's pipe cannot be faked through the FakeSystem's spawner).
    let onMessage: ((message: VassalMessage) => void) | undefined;
    const child: Child = {
      pid: 4242,
      exited: new Promise<ExitStatus>(() => undefined),
      onLine: () => undefined,
      onMessage: (listener) => void (onMessage = listener),
      send: () => true,
      killGroup: () => undefined,
    };
    const reported: string[] = [];
    const vassal = new Vassal('bad.ini', {
      launch: () => child,
      now: () => 0,
      setTimer: () => () => undefined,
      log: winston.createLogger({silent: true}),
      groups: {add: () => undefined, remove: () => undefined},
      serverConfigFor: () => ({}),
      requestSlot: (grant) => {
        grant();
        return () => undefined;
      },
      releaseSlot: () => undefined,
      onTransition: () => undefined,
      onOutput: () => undefined,
      reportFault: (_vassal, step, error) => {
        reported.push(`${step}: ${String(error)}`);
        return `KAISER_INTERNAL_ERROR internal error in ${step} of bad.ini`;
      },
      checkpoint: (_vassal, step) => faultPlanFrom('pipe:bad.ini')!(step, 'bad.ini'),
    });
    const spec = {kind: 'app-server', name: 'bad.ini', file: '/v/bad.ini', dir: '/v', python: 'python3', serverConfig: {}, stopTimeoutMs: 10_000, startTimeoutMs: 60_000};
    vassal.onConfigChanged(spec as unknown as VassalSpec);
    expect(vassal.state.id).toBe('starting');
    onMessage!({kind: 'byte', byte: 5}); // ACCEPTING
    expect(reported).toEqual([expect.stringContaining('pipe: InjectedFault')]);
    expect(vassal.snapshot().lastError).toContain('internal error in pipe of bad.ini');
    expect(vassal.state.id).toBe('stopping'); // a master is asked over its pipe, then signalled at stop-timeout
  });

  it('contains faults of the System layer: a read that throws, a spawn that throws', async () => {
    const sys = new FakeSystem();
    sys.failingReads.add(`${DIR}/unreadable.toml`);
    sys.failingSpawns.add('/opt/unspawnable');
    const {row, goodIsUntouched, emperor} = await startEmperor('', {sys});
    sys.write(`${DIR}/unreadable.toml`, NOTIFY('/opt/x'));
    sys.write(`${DIR}/unspawnable.toml`, NOTIFY('/opt/unspawnable'));
    await sys.advance(SETTLE_MS);
    expect(row('unreadable.toml')).toMatchObject({state: 'invalid', lastError: expect.stringContaining('internal error in read of unreadable.toml: injected read failure')});
    expect(row('unspawnable.toml')).toMatchObject({state: 'backoff', lastError: expect.stringContaining('cannot start: injected spawn failure')});
    goodIsUntouched();
    await emperor.shutdown();
  });

  it('keeps transitions going when a consumer of them throws', async () => {
    let calls = 0;
    const {sys, row, emperor} = await startEmperor('', {
      onTransition: () => {
        calls += 1;
        throw new Error('a consumer bug');
      },
    });
    const bad = await readyBad(sys);
    expect(row('bad.toml')?.state).toBe('ready');
    bad.exit({code: 0, signal: null});
    await sys.settle();
    // The exit was handled (a new instance is on its way) although every consumer call threw.
    expect(['waiting', 'starting']).toContain(row('bad.toml')?.state);
    expect(sys.started('/opt/bad').length).toBeGreaterThanOrEqual(1);
    expect(calls).toBeGreaterThan(4);
    await emperor.shutdown();
  });
});
