/** Fixed host facts and clock for config tests, so magic variables expand to known values. */
import type {HostFacts} from '../../src/config/magic-vars.js';

export const HOST: HostFacts = {
  hostname: 'testhost',
  cpuCount: 4,
  uid: 1000,
  user: 'alice',
  gid: 100,
  group: 'users',
  binary: '/usr/bin/kaiser',
  version: 'kaiser-test',
};

/** 2024-01-01T00:00:00Z. */
export const NOW_MS = 1_704_067_200_000;

/** A vassal context under /srv/vassals with nothing read from the real machine. */
export const VASSAL_CTX = {
  vassalDir: '/srv/vassals',
  env: {HOME: '/home/alice', PORT: '8081'},
  host: HOST,
  nowMs: NOW_MS,
  fileExists: (path: string) => path === '/usr/bin/python3',
} as const;
