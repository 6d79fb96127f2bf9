/** The watchdog's pure decisions: whose watchdog it is, and when the loop is too stalled to claim health. */
import {describe, expect, it} from '@jest/globals';
import {isLoopHealthy, monotonicUsec, watchdogPeriodMs} from '../../src/systemd/notify.js';

describe('watchdogPeriodMs', () => {
  it('reads WATCHDOG_USEC when WATCHDOG_PID is unset or ours', () => {
    expect(watchdogPeriodMs({WATCHDOG_USEC: '30000000'}, 42)).toBe(30_000);
    expect(watchdogPeriodMs({WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42'}, 42)).toBe(30_000);
  });

  it('ignores a watchdog meant for another pid, and missing or malformed periods', () => {
    expect(watchdogPeriodMs({WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7'}, 42)).toBeUndefined();
    expect(watchdogPeriodMs({}, 42)).toBeUndefined();
    expect(watchdogPeriodMs({WATCHDOG_USEC: '0'}, 42)).toBeUndefined();
    expect(watchdogPeriodMs({WATCHDOG_USEC: 'soon'}, 42)).toBeUndefined();
  });
});

describe('isLoopHealthy', () => {
  it('skips a beat once the loop stalled for more than half the watchdog period', () => {
    expect(isLoopHealthy({timerLateMs: 5, maxLoopDelayMs: 12, watchdogMs: 30_000})).toBe(true);
    expect(isLoopHealthy({timerLateMs: 15_001, maxLoopDelayMs: 0, watchdogMs: 30_000})).toBe(false);
    expect(isLoopHealthy({timerLateMs: 0, maxLoopDelayMs: 16_000, watchdogMs: 30_000})).toBe(false);
  });
});

describe('monotonicUsec', () => {
  it('counts microseconds on a clock that does not go back', () => {
    const a = monotonicUsec();
    const b = monotonicUsec();
    expect(b >= a).toBe(true);
  });
});
