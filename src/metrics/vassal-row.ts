/**
 * One emperor snapshot as the metrics see it. `up` is `SERVING` (emperor/vassal-states.ts), the same group the front
 * router proxies to: a vassal in a graceful reload still answers requests, so it is up.
 */
import type {EmperorVassalSnapshot} from '../emperor/emperor-options.js';
import {SERVING} from '../emperor/vassal-states.js';
import type {VassalMetricsRow} from './metrics.js';

/** The metrics row of a vassal snapshot; `nowMs` (unix ms) gives its uptime. */
export function metricsRowOf(s: EmperorVassalSnapshot, nowMs = Date.now()): VassalMetricsRow {
  const app = s.appStats;
  return {
    name: s.name,
    kind: s.kind,
    state: s.state,
    up: SERVING.has(s.state),
    restarts: s.restarts,
    cpuSeconds: s.cpuSeconds,
    rssBytes: s.rssBytes,
    uptimeSeconds: s.pid > 0 && s.readyAt > 0 ? (nowMs - s.readyAt) / 1000 : 0,
    lastExitCode: s.lastExit?.code ?? null,
    ...(app ? {requests: app.requests, inflight: app.inflight, workers: app.workers, busyWorkers: app.busy, harakiri: app.harakiri} : {}),
  };
}
