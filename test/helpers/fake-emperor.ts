/**
 * An `Emperor` over a fake world (fake-system.ts) with the options every fake-world test of the emperor uses, fed by a
 * DirectorySource of `FAKE_VASSAL_DIR`, and its log as an array of uWSGI-style lines. emperor.test.ts and
 * containment.test.ts build theirs here; a test adds only what it is about (callbacks, a containment).
 */
import winston from 'winston';
import Transport from 'winston-transport';
import type {Containment} from '../../src/emperor/containment.js';
import {DirectorySource} from '../../src/emperor/directory-source.js';
import {Emperor, type EmperorOptions} from '../../src/emperor/emperor.js';
import type {FakeSystem} from './fake-system.js';

export const FAKE_VASSAL_DIR = '/srv/vassals';
/** Settle (15 ms) and a little more: what the watcher needs to hand a change to the emperor. */
export const SETTLE_MS = 20;

/** A winston transport keeping each line as the operator reads it (the uWSGI-style text where there is one). */
export class LogLines extends Transport {
  readonly lines: string[] = [];
  override log(info: {message: string; uwsgi?: string}, next: () => void): void {
    this.lines.push(info.uwsgi ?? info.message);
    next();
  }
}

export interface FakeEmperor<C extends Containment | undefined> {
  emperor: Emperor;
  log: winston.Logger;
  lines: string[];
  containment: C;
}

/** Builds (does not start) the emperor; `makeContainment` gets the logger, for a Containment of the test's own. */
export function fakeEmperor(sys: FakeSystem, extra?: Partial<EmperorOptions>): FakeEmperor<undefined>;
export function fakeEmperor(sys: FakeSystem, extra: Partial<EmperorOptions> & {makeContainment: (log: winston.Logger) => Containment}): FakeEmperor<Containment>;
export function fakeEmperor(sys: FakeSystem, extra: Partial<EmperorOptions> & {makeContainment?: (log: winston.Logger) => Containment} = {}): FakeEmperor<Containment | undefined> {
  const sink = new LogLines();
  const log = winston.createLogger({level: 'debug', transports: [sink]});
  const {makeContainment, ...rest} = extra;
  const containment = makeContainment?.(log);
  const emperor = new Emperor({
    dir: FAKE_VASSAL_DIR,
    sources: [new DirectorySource({dir: FAKE_VASSAL_DIR, sys, log, rescanMs: 0, ...(containment ? {containment} : {})})],
    system: sys,
    ...(containment ? {containment} : {}),
    statsAddress: undefined,
    reloadMercyMs: 30_000,
    accountingMs: 0,
    spawnConcurrency: 4,
    python: '/usr/bin/python3',
    curseToleranceMs: 10_000,
    zygote: false,
    log,
    version: 'kaiser-test',
    ...rest,
  });
  return {emperor, log, lines: sink.lines, containment};
}
