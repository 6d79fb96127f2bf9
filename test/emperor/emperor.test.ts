/**
 * The emperor over a fake world (test/helpers/fake-system.ts): the directory source reads files from a map, vassals
 * are fake processes that do what the test says, time moves only when told. Each test is one story of a vassal file:
 * added, changed, broken, renamed, removed, crashing, and the emperor's shutdown.
 */
import {describe, expect, it} from '@jest/globals';
import type {VassalTransition} from '../../src/emperor/emperor.js';
import {FAKE_VASSAL_DIR, SETTLE_MS, fakeEmperor} from '../helpers/fake-emperor.js';
import {FakeSystem, type FakeProcess} from '../helpers/fake-system.js';

const DIR = FAKE_VASSAL_DIR;

/** A command vassal running `program`, ready when it prints READY=1, stopped within 5 s unless said otherwise. */
function commandVassal(program: string, extra = ''): string {
  return `exec = ["${program}"]\nready = "notify"\n${extra.includes('stop-timeout') ? '' : 'stop-timeout = 5\n'}${extra}`;
}

async function startEmperor(sys = new FakeSystem()) {
  const transitions: VassalTransition[] = [];
  const removed: string[] = [];
  const {emperor, lines} = fakeEmperor(sys, {
    onVassalTransition: (t) => void transitions.push(t),
    onVassalRemoved: (name) => void removed.push(name),
  });
  await emperor.start();
  const stateOf = (name: string) => emperor.vassal(name)?.state.id;
  const history = (name: string) => transitions.filter((t) => t.vassal === name).map((t) => t.to);
  return {sys, emperor, lines, transitions, removed, stateOf, history};
}

/** The one running process of `program`. */
function only(sys: FakeSystem, program: string): FakeProcess {
  const running = sys.running(program);
  expect(running).toHaveLength(1);
  return running[0]!;
}

describe('Emperor', () => {
  it('starts a vassal when its file appears and serves it once it is ready', async () => {
    const {sys, stateOf, emperor} = await startEmperor();
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web'));
    await sys.advance(SETTLE_MS);
    expect(stateOf('web.toml')).toBe('starting');
    only(sys, '/opt/web').print('READY=1');
    await sys.settle();
    expect(stateOf('web.toml')).toBe('ready');
    expect(emperor.census()).toEqual({total: 1, ready: 1, failing: 0});
    await emperor.shutdown();
  });

  it('restarts a vassal on a change of its file or a touch, and leaves it alone when the watcher reports it unchanged', async () => {
    const {sys, stateOf, emperor} = await startEmperor();
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web'));
    await sys.advance(SETTLE_MS);
    const first = only(sys, '/opt/web');
    first.print('READY=1');
    await sys.advance(1_000);
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web', 'env = {MODE = "new"}\n'));
    await sys.advance(SETTLE_MS);
    expect(first.signals).toEqual(['SIGTERM']);
    const second = only(sys, '/opt/web');
    expect(second).not.toBe(first);
    expect(second.options.env?.['MODE']).toBe('new');
    second.print('READY=1');
    await sys.settle();
    expect(stateOf('web.toml')).toBe('ready');
    // Reported again with the same inode, size, mtime and owner (a rescan): not even read again.
    const reads = sys.reads.length;
    sys.poke(`${DIR}/web.toml`);
    await sys.advance(SETTLE_MS);
    expect(sys.reads.length).toBe(reads);
    expect(sys.started('/opt/web')).toHaveLength(2);
    // The same content, newer (touch): a reload.
    await sys.advance(1_000);
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web', 'env = {MODE = "new"}\n'));
    await sys.advance(SETTLE_MS);
    expect(second.signals).toEqual(['SIGTERM']);
    expect(sys.started('/opt/web')).toHaveLength(3);
    await emperor.shutdown();
  });

  it('keeps a running vassal on its last good config when its file breaks, and applies the fixed file', async () => {
    const {sys, stateOf, emperor, lines} = await startEmperor();
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web'));
    await sys.advance(SETTLE_MS);
    only(sys, '/opt/web').print('READY=1');
    await sys.advance(5_000);
    sys.write(`${DIR}/web.toml`, 'exec = ["/opt/web"\n');
    // Perhaps half-written: looked at again for 2 s before it is reported.
    await sys.advance(1_000);
    expect(lines.some((l) => l.includes('invalid vassal web.toml'))).toBe(false);
    await sys.advance(1_500);
    expect(lines.filter((l) => l.includes('invalid vassal web.toml'))).toHaveLength(1);
    expect(stateOf('web.toml')).toBe('ready');
    expect(sys.started('/opt/web')).toHaveLength(1);
    expect(emperor.snapshots()[0]?.lastError).toMatch(/web\.toml:\d+/);
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web2'));
    await sys.advance(SETTLE_MS);
    only(sys, '/opt/web2').print('READY=1');
    await sys.settle();
    expect(stateOf('web.toml')).toBe('ready');
    await emperor.shutdown();
  });

  it('shows a vassal whose first file is broken as invalid, and starts it once the file is fixed', async () => {
    const {sys, stateOf, emperor} = await startEmperor();
    sys.write(`${DIR}/web.toml`, 'exec = 42\n');
    await sys.advance(3_000);
    expect(stateOf('web.toml')).toBe('invalid');
    expect(emperor.census()).toEqual({total: 1, ready: 0, failing: 1});
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web'));
    await sys.advance(SETTLE_MS);
    expect(stateOf('web.toml')).toBe('starting');
    await emperor.shutdown();
  });

  it('stops a vassal whose file is removed and forgets it once its process is gone', async () => {
    const {sys, stateOf, emperor, removed} = await startEmperor();
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web'));
    await sys.advance(SETTLE_MS);
    const web = only(sys, '/opt/web');
    web.print('READY=1');
    web.ignore('SIGTERM');
    sys.remove(`${DIR}/web.toml`);
    await sys.advance(SETTLE_MS);
    expect(stateOf('web.toml')).toBe('stopping');
    // stop-timeout = 5: then the group is killed.
    await sys.advance(4_900);
    expect(web.signals).toEqual(['SIGTERM']);
    await sys.advance(200);
    expect(web.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(stateOf('web.toml')).toBeUndefined();
    expect(removed).toEqual(['web.toml']);
    await emperor.shutdown();
  });

  it('treats a rename as a stop of the old name before the new one starts', async () => {
    const {sys, stateOf, emperor, history} = await startEmperor();
    sys.write(`${DIR}/a.toml`, commandVassal('/opt/app'));
    await sys.advance(SETTLE_MS);
    const old = only(sys, '/opt/app');
    old.print('READY=1');
    old.ignore('SIGTERM');
    sys.rename(`${DIR}/a.toml`, `${DIR}/b.toml`);
    await sys.advance(SETTLE_MS);
    // The old instance is asked to stop; the new name waits for it.
    expect(old.signals).toEqual(['SIGTERM']);
    expect(sys.started('/opt/app')).toHaveLength(1);
    old.exit({code: 0, signal: null});
    await sys.settle();
    expect(sys.running('/opt/app')).toHaveLength(1);
    expect(stateOf('a.toml')).toBeUndefined();
    expect(stateOf('b.toml')).toBe('starting');
    expect(history('a.toml')).toEqual(['waiting', 'starting', 'ready', 'stopping', 'stopped']);
    await emperor.shutdown();
  });

  it('backs off a vassal that dies before it is ready: 1 s, then 2 s', async () => {
    const {sys, stateOf, emperor} = await startEmperor();
    sys.write(`${DIR}/web.toml`, commandVassal('/opt/web'));
    await sys.advance(SETTLE_MS);
    only(sys, '/opt/web').exit({code: 1, signal: null});
    await sys.settle();
    expect(stateOf('web.toml')).toBe('backoff');
    await sys.advance(999);
    expect(sys.started('/opt/web')).toHaveLength(1);
    await sys.advance(1);
    only(sys, '/opt/web').exit({code: 1, signal: null});
    await sys.advance(1_999);
    expect(sys.started('/opt/web')).toHaveLength(2);
    await sys.advance(1);
    expect(sys.started('/opt/web')).toHaveLength(3);
    expect(emperor.snapshots()[0]).toMatchObject({state: 'starting', restarts: 2, lastError: 'exited before ready (exit code 1)'});
    await emperor.shutdown();
  });

  it('shuts down every vassal in parallel, SIGKILLs one that ignores its stop past reload-mercy, and closes the reaper', async () => {
    const {sys, emperor, lines} = await startEmperor();
    sys.write(`${DIR}/a.toml`, commandVassal('/opt/a', 'stop-timeout = 60\n'));
    sys.write(`${DIR}/b.toml`, commandVassal('/opt/b'));
    await sys.advance(SETTLE_MS);
    const a = only(sys, '/opt/a');
    const b = only(sys, '/opt/b');
    a.print('READY=1');
    b.print('READY=1');
    a.ignore('SIGTERM');
    const reaper = only(sys, '/bin/sh');
    let done = false;
    void emperor.shutdown().then(() => (done = true));
    await sys.settle();
    expect(b.hasExited).toBe(true);
    expect(a.signals).toEqual(['SIGTERM']);
    await sys.advance(30_000);
    expect(a.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(lines).toContain('[emperor] NO MERCY for vassal a.toml !!!');
    await sys.settle();
    expect(done).toBe(true);
    expect(reaper.hasExited).toBe(true);
  });
});
