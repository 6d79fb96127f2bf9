/** terminate(): ask, grace, force, with a hand-moved clock. */
import {describe, expect, it} from '@jest/globals';
import {terminate} from '../../src/util/terminate.js';

function clock() {
  const timers: {at: number; fn: () => void; live: boolean}[] = [];
  let now = 0;
  return {
    setTimer: (ms: number, fn: () => void) => {
      const timer = {at: now + ms, fn, live: true};
      timers.push(timer);
      return () => void (timer.live = false);
    },
    advance(ms: number) {
      now += ms;
      for (const t of timers) {
        if (!t.live || t.at > now) continue;
        t.live = false;
        t.fn();
      }
    },
    pending: () => timers.filter((t) => t.live).length,
  };
}

describe('terminate', () => {
  it('asks first, and forces only once the grace is over', async () => {
    const c = clock();
    const steps: string[] = [];
    let exit!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (exit = resolve));
    const done = terminate(exited, {ask: () => steps.push('ask'), graceMs: 1000, force: () => steps.push('force'), setTimer: c.setTimer});
    expect(steps).toEqual(['ask']);
    c.advance(999);
    expect(steps).toEqual(['ask']);
    c.advance(1);
    expect(steps).toEqual(['ask', 'force']);
    exit(137);
    expect(await done).toBe(137);
  });

  it('never forces a process that exited within its grace, and leaves no timer behind', async () => {
    const c = clock();
    let forced = false;
    const done = terminate(Promise.resolve(0), {ask: () => undefined, graceMs: 1000, force: () => (forced = true), setTimer: c.setTimer});
    expect(await done).toBe(0);
    expect(c.pending()).toBe(0);
    c.advance(5000);
    expect(forced).toBe(false);
  });
});
