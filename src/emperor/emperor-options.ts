/**
 * What an emperor is given (its options, its sources, the world it acts on, who listens to its vassals) and what it
 * tells about them (transitions, snapshots with accounting).
 */
import type {Logger} from '../log/logger.js';
import type {System} from '../system/system.js';
import type {Containment} from './containment.js';
import type {VassalSource} from './definition.js';
import type {PrivilegedPorts} from './privileged-ports.js';
import type {VassalSnapshot} from './vassal.js';

export interface EmperorOptions {
  /** The watched vassal directory (logs; `--vassals-include` paths resolve against it); undefined for fleet only. */
  dir: string | undefined;
  /** Where vassal definitions come from besides `define` calls (the directory source): started and closed here. */
  sources?: readonly VassalSource[];
  statsAddress: string | undefined;
  reloadMercyMs: number;
  accountingMs: number;
  spawnConcurrency: number;
  /** The emperor's `--python` for app-server vassals that do not choose one. */
  python: string | undefined;
  /** Default stop-timeout of app-server vassals. */
  curseToleranceMs: number;
  /** Fork app-server masters from one runtime host (zygote) instead of starting a python per vassal (default true). */
  zygote?: boolean;
  /** `--vassals-include` files (absolute): defaults for every vassal, below the directory's `_defaults.toml`. */
  vassalsInclude?: readonly string[];
  /** `--emperor-tyrant`: every vassal runs as the owner of its file (identity.ts has the rules). */
  tyrant?: boolean;
  /** Tyrant mode: privileged ports each user's vassals may hold (`--emperor-privileged-port`). */
  privilegedPorts?: PrivilegedPorts;
  /** Tyrant mode: more of the emperor's variables passed to tenants (`--emperor-pass-env`; see tenant-env.ts). */
  passEnv?: readonly string[];
  log: Logger;
  version: string;
  /** The world (default: the real one). */
  system?: System;
  /** The boundaries of every per-vassal step (default: a new one; cli.ts shares one with the directory source). */
  containment?: Containment;
  /** Called when a vassal becomes ready with the time since its spawn (for metrics). */
  onVassalReady?: (seconds: number) => void;
  /** Receives every output line of every vassal (the control socket's log book). */
  onVassalOutput?: (name: string, line: string) => void;
  /** Called when a vassal is forgotten after its definition was removed. */
  onVassalRemoved?: (name: string) => void;
  /** Called on every state transition of every vassal (dashboard live updates, history). */
  onVassalTransition?: (transition: VassalTransition) => void;
}

/** One state change of one vassal. */
export interface VassalTransition {
  vassal: string;
  from: string;
  to: string;
  event: string;
  /** Unix milliseconds. */
  at: number;
}

/** A vassal snapshot with what the emperor adds: accounting, source, identity. */
export type EmperorVassalSnapshot = VassalSnapshot & {cpuPercent: number; rssBytes: number; cpuSeconds: number; lastMod: number; source: string; uid?: number; gid?: number};
