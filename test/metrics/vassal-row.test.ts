/** The metrics row of a vassal: `kaiser_vassal_up` agrees with the router on which vassals serve. */
import {describe, expect, it} from '@jest/globals';
import type {EmperorVassalSnapshot} from '../../src/emperor/emperor-options.js';
import {SERVING, VASSAL_STATE_IDS, type VassalStateId} from '../../src/emperor/vassal-states.js';
import {metricsRowOf} from '../../src/metrics/vassal-row.js';
import {isServingState} from '../../src/router/pool-table.js';

function snapshot(state: VassalStateId): EmperorVassalSnapshot {
  const running = state !== 'waiting' && state !== 'on-demand' && state !== 'backoff' && state !== 'invalid' && state !== 'held' && state !== 'stopped';
  return {
    name: 'shop.ini', kind: 'app-server', state, pid: running ? 4242 : -1, born: 1_000, lastSpawn: 1_000, readyAt: running ? 2_000 : 0, restarts: 0,
    failures: 0, loyal: true, lastLoyal: 0, accepting: state === 'ready' || state === 'reload-failed', lastHeartbeat: 0, nextRetryAt: 0,
    lastExit: undefined, lastError: undefined, file: '/srv/vassals/shop.ini', appStats: undefined, cpuPercent: 0, rssBytes: 0, cpuSeconds: 0,
    lastMod: 0, source: '/srv/vassals',
  };
}

describe('metricsRowOf', () => {
  it('reports a vassal up during a graceful reload, while its old workers serve', () => {
    expect(metricsRowOf(snapshot('reloading'), 12_000)).toMatchObject({state: 'reloading', up: true, uptimeSeconds: 10});
    expect(metricsRowOf(snapshot('replacing')).up).toBe(true);
  });

  it('reports up exactly the states the router proxies to', () => {
    for (const state of VASSAL_STATE_IDS) expect([state, metricsRowOf(snapshot(state)).up]).toEqual([state, SERVING.has(state)]);
    for (const state of VASSAL_STATE_IDS) expect([state, metricsRowOf(snapshot(state)).up]).toEqual([state, isServingState(state)]);
  });
});
