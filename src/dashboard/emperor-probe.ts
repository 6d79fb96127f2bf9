/**
 * The emperor's own figures for the dashboard header: resident memory, CPU use since the previous reading (percent
 * of one core) and event-loop lag (the p99 delay of Node's loop monitor over the same interval, in ms).
 */
import {monitorEventLoopDelay, type IntervalHistogram} from 'node:perf_hooks';

/** The emperor process in three numbers. */
export interface EmperorFigures {
  /** Bytes. */
  rss: number;
  /** Percent of one core since the previous reading. */
  cpu: number;
  /** p99 event-loop delay since the previous reading, in ms. */
  loopLagMs: number;
}

/** Reads the figures of the current process; call `stop` when done. */
export interface EmperorProbe {
  read(): EmperorFigures;
  stop(): void;
}

/** Starts measuring this process. */
export function startEmperorProbe(): EmperorProbe {
  const delay: IntervalHistogram = monitorEventLoopDelay({resolution: 20});
  delay.enable();
  let lastCpu = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  return {
    read() {
      const cpu = process.cpuUsage();
      const at = process.hrtime.bigint();
      const elapsedUs = Number(at - lastAt) / 1000;
      const usedUs = cpu.user - lastCpu.user + (cpu.system - lastCpu.system);
      lastCpu = cpu;
      lastAt = at;
      const lagNs = delay.count > 0 ? delay.percentile(99) : 0;
      delay.reset();
      return {
        rss: process.memoryUsage.rss(),
        cpu: elapsedUs > 0 ? Math.round((usedUs / elapsedUs) * 1000) / 10 : 0,
        // The histogram includes the sampling resolution itself; what exceeds it is lag.
        loopLagMs: Math.max(0, Math.round((lagNs / 1e6 - 20) * 10) / 10),
      };
    },
    stop() {
      delay.disable();
    },
  };
}
