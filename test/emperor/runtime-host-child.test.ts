/** A master forked by the runtime host, state by state, without a host: the IPC messages are method calls here. */
import {describe, expect, it} from '@jest/globals';
import {HostChildImpl} from '../../src/emperor/runtime-host-child.js';

/** A pid no process has (above the kernel's pid_max), so signals to its group are harmless ESRCHs. */
const NO_SUCH_PID = 4_194_305;

describe('HostChildImpl', () => {
  it('has no pid until the host reports the fork, and holds pipe bytes until then', async () => {
    const child = new HostChildImpl();
    expect(child.pid).toBe(-1);
    expect(child.send(Buffer.from([1]))).toBe(true);
    child.attach(NO_SUCH_PID, 'output', undefined);
    expect(child.pid).toBe(NO_SUCH_PID);
    expect(await child.pidReady).toBe(NO_SUCH_PID);
  });

  it('reports the status the host reaped at once when it has no output to drain', async () => {
    const child = new HostChildImpl();
    child.attach(NO_SUCH_PID, 'output', undefined);
    child.exit({code: 3, signal: null});
    expect(await child.exited).toEqual({code: 3, signal: null});
    expect(child.send(Buffer.from([1]))).toBe(false);
    expect(child.pid).toBe(NO_SUCH_PID);
  });

  it('exits 127 when the spawn failed before a fork, or the host died before it', async () => {
    const failed = new HostChildImpl();
    failed.fail();
    expect(await failed.pidReady).toBe(-1);
    expect(await failed.exited).toEqual({code: 127, signal: null});
    const early = new HostChildImpl();
    early.orphan();
    expect(await early.exited).toEqual({code: 127, signal: null});
  });

  it('outlives its host: orphaned, it exits without a status once its pipe is gone', async () => {
    const child = new HostChildImpl();
    child.attach(NO_SUCH_PID, 'output', undefined);
    child.orphan();
    expect(await child.exited).toEqual({code: null, signal: null});
    child.exit({code: 0, signal: null});
    expect(await child.exited).toEqual({code: null, signal: null});
  });
});
