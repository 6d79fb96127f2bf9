/**
 * Everything a vassal does to the world, injectable for tests (test/emperor/vassal.test.ts gives a fake). One object
 * serves every vassal (methods that need to know which one take it as an argument): a thousand vassals share it
 * instead of a thousand sets of closures.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import type {Logger} from '../log/logger.js';
import type {System} from '../system/system.js';
import type {Child, ExitStatus} from './child.js';
import type {VassalStep} from './containment.js';
import type {Containment} from './containment.js';
import type {VassalLimits} from './limits.js';
import type {SpawnSlots} from './spawn-slots.js';
import type {Spawner} from './spawner.js';
import type {VassalCore} from './vassal-core.js';
import type {VassalRelay} from './vassal-relay.js';
import {serverConfigFor} from './child-spec.js';
import type {VassalEventName, VassalStateId} from './vassal-states.js';

/** A started instance. A child forked by the runtime host learns its pid a moment later: it then has `pidReady`. */
export type LaunchedChild = Child & {readonly pidReady?: Promise<number>};

export interface VassalDeps {
  /** Starts an instance of `vassal` running `spec` (its pid is known before any of its output, messages or exit). */
  launch(vassal: VassalCore, spec: VassalSpec): LaunchedChild;
  /** Unix milliseconds. */
  now(): number;
  setTimer(ms: number, fn: () => void): () => void;
  log: Logger;
  /** Process-group bookkeeping for the no-orphan guarantee. */
  groups: {add(pgid: number): void; remove(pgid: number): void};
  /** The full KAISER_CONFIG of an app-server vassal (its options plus the emperor's internals), for reloads. */
  serverConfigFor(spec: VassalSpec & {kind: 'app-server'}): Record<string, unknown>;
  /** Asks the emperor for a spawn slot; `grant` is called when one is free. Returns a cancel function. */
  requestSlot(grant: () => void): () => void;
  releaseSlot(): void;
  /** Notified on every transition. */
  onTransition(vassal: VassalCore, from: VassalStateId, event: VassalEventName): void;
  /** Receives every output line of the vassal. */
  onOutput(vassal: VassalCore, line: string, stream: 'stdout' | 'stderr'): void;
  /**
   * Why a child really ended, when the emperor knows better than the exit status (killed over its memory-limit).
   * A reason makes the exit a failure (backoff) even after READY, and becomes the vassal's last error.
   */
  exitReason?(vassal: VassalCore, child: Child, exit: ExitStatus): string | undefined;
  /**
   * Reports a throw inside one of the vassal's steps (a kaiser bug, containment.ts) and returns the one-line text
   * for its last error. Without it the throw is only logged.
   */
  reportFault?(vassal: VassalCore, step: VassalStep, error: unknown): string;
  /** Throws when a test planned a fault at `step` for this vassal (containment.ts). */
  checkpoint?(vassal: VassalCore, step: VassalStep): void;
}

/** The emperor's parts every vassal's effects go through. */
export interface VassalDepsParts {
  spawner: Pick<Spawner, 'launch'>;
  sys: Pick<System, 'now' | 'setTimer'>;
  log: Logger;
  groups: VassalDeps['groups'];
  slots: Pick<SpawnSlots, 'request' | 'release'>;
  relay: Pick<VassalRelay, 'transition' | 'output'>;
  limits: Pick<VassalLimits, 'exitReason'>;
  containment: Pick<Containment, 'report' | 'checkpoint'>;
}

/** The emperor's `VassalDeps`: one object for all of its vassals, made once. */
export function makeVassalDeps(p: VassalDepsParts): VassalDeps {
  return {
    launch: (vassal, spec) => p.spawner.launch(vassal.name, spec),
    now: () => p.sys.now(),
    setTimer: (ms, fn) => p.sys.setTimer(ms, fn),
    log: p.log,
    groups: p.groups,
    serverConfigFor: (spec) => serverConfigFor(spec),
    requestSlot: (grant) => p.slots.request(grant),
    releaseSlot: () => p.slots.release(),
    onTransition: (vassal, from, event) => p.relay.transition(vassal, from, event),
    onOutput: (vassal, line) => p.relay.output(vassal.name, line),
    exitReason: (vassal, child) => p.limits.exitReason(vassal.name, vassal.spec, child),
    reportFault: (vassal, step, error) => p.containment.report({component: 'vassal', vassal: vassal.name, step}, error),
    checkpoint: (vassal, step) => p.containment.checkpoint(step, vassal.name),
  };
}
