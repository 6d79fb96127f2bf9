/**
 * What the emperor passes on from every vassal: each transition to the spawner (held sockets, on-demand wake-ups)
 * and to the consumers (control socket, dashboard, metrics), each output line to the emperor's log, the vassal's log
 * file and the consumers. Every hand-off runs inside a boundary (containment.ts): a consumer's throw is reported and
 * the transition or the line goes on to the others, so no consumer can stop a vassal's state machine.
 */
import {logVassalLine, type Logger} from '../log/logger.js';
import type {System} from '../system/system.js';
import type {Containment} from './containment.js';
import type {EmperorOptions} from './emperor-options.js';
import type {Spawner} from './spawner.js';
import type {VassalCore} from './vassal-core.js';
import type {VassalLogs} from './vassal-logs.js';

export interface VassalRelayParts {
  options: Pick<EmperorOptions, 'onVassalTransition' | 'onVassalReady' | 'onVassalOutput'>;
  spawner: Spawner;
  sys: System;
  log: Logger;
  logs: VassalLogs;
  containment: Containment;
}

/** Relays the transitions and the output of every vassal. */
export class VassalRelay {
  readonly #p: VassalRelayParts;

  constructor(parts: VassalRelayParts) {
    this.#p = parts;
  }

  /** `vassal` went from `from` to its current state on `event`. */
  transition(vassal: VassalCore, from: string, event: string): void {
    const {options, spawner, sys, containment} = this.#p;
    const to = vassal.state.id;
    containment.run({component: 'spawner', vassal: vassal.name, step: 'transition'}, () => spawner.onTransition(vassal.name, from, to, vassal.spec));
    containment.run({component: 'consumer', vassal: vassal.name, step: 'transition'}, () => {
      options.onVassalTransition?.({vassal: vassal.name, from, to, event, at: sys.now()});
      if (from !== 'starting' || to !== 'ready') return;
      const snap = vassal.snapshot();
      options.onVassalReady?.((snap.readyAt - snap.lastSpawn) / 1000);
    });
  }

  /** One line of `name`'s output (already within its output budget, util/output-budget.ts). */
  output(name: string, line: string): void {
    logVassalLine(this.#p.log, name, line);
    this.#p.logs.write(name, line);
    this.#p.containment.run({component: 'consumer', vassal: name, step: 'output'}, () => this.#p.options.onVassalOutput?.(name, line));
  }
}
