/**
 * Vassal definitions and what the emperor remembers of each: a definition is what a source (the vassal directory,
 * a fleet store) says a vassal is (its text and version); the record is the emperor's memory of the last one seen.
 * `planDefinition` decides, without I/O or a clock of its own, what a new definition means for the vassal:
 *
 *   unchanged  same text, defaults, owner and version as last time, nothing pending: nothing to do
 *   recheck    it does not parse, but it changed less than 2 s ago: perhaps half-written, look again shortly
 *   invalid    it cannot be read or does not parse: a running vassal keeps its last good config
 *   apply      a good spec: place, prepare and hand it to the vassal (which reloads only if it differs)
 *
 * Sources reach the emperor only through the narrow `VassalSink` (define / undefine / defaults), so the emperor
 * never learns where definitions come from.
 */
import {createHash} from 'node:crypto';
import type {ConfigFs} from '../config/config-fs.js';
import {formatDiagnostic} from '../config/diagnostic.js';
import {loadVassalSpec, type VassalSpec, type VassalSpecContext} from '../config/vassal-spec.js';
import type {Identity} from './identity.js';
import {ownerConfigFs} from './owner-config-fs.js';
import type {Vassal} from './vassal.js';

/** A vassal definition from any source: a file of the watched directory, or a fleet store. */
export interface VassalDefinition {
  /** Where it comes from, shown by `kaiser ls` (the vassal directory, or e.g. `etcd://host:2379/prefix`). */
  source: string;
  /** Name shown in diagnostics; its extension (.ini, .toml) picks the format; `%p` and friends derive from it. */
  path: string;
  /** Directory that relative paths resolve against, and the working directory of app-server vassals. */
  dir: string;
  text: Buffer;
  /** Change marker (file mtime, store revision): a different version with the same text still reloads (`touch`). */
  version: number;
  /** Unix ms of the last change, for the half-written grace. */
  changedAt: number;
  /** Set when the definition could not be read at all (`path: error CODE message`). */
  error?: string;
  /** Reads the definition again (after a half-written grace or a bind failure); without it, the same one is retried. */
  recheck?: () => void;
  /** The owner of the vassal file (tyrant mode runs the vassal as it); undefined for sources without files. */
  owner?: Identity;
  /** Vassals this one replaces (a rename): stopped once this one is good and holds its sockets, before it starts. */
  replaces?: readonly string[];
}

/** One defaults file as read (`_defaults.toml` of the directory, a `--vassals-include` file). */
export interface DefaultsFile {
  file: string;
  text: Buffer;
  /** Its owner (tyrant mode applies only one owned by root or the emperor's user). */
  owner?: Identity;
}

/** Where sources deliver what they read: the emperor, seen through its narrowest side. */
export interface VassalSink {
  /** Adds or updates vassal `name`. Resolves once the definition has been acted on. */
  define(name: string, def: VassalDefinition): Promise<void>;
  /** The definition of `name` is gone: stop the vassal and forget it. Resolves once it is stopped. */
  undefine(name: string): Promise<void>;
  /**
   * The directory's defaults file appeared, changed or vanished (undefined): every vassal is re-evaluated against it
   * if the effective defaults changed. `vassalDir` resolves its relative paths.
   */
  defineDefaults(file: DefaultsFile | undefined, vassalDir: string): Promise<void>;
  /** Names a source in stats (`emperor` of the stats document, in the order registered). */
  registerSource(source: string): void;
}

/** Something that feeds the emperor definitions for as long as it runs. */
export interface VassalSource {
  /** Starts feeding `sink`; resolves after the first complete pass. */
  start(sink: VassalSink): Promise<void>;
  /** Stops feeding (first step of the emperor's shutdown). */
  close(): Promise<void>;
}

/** Work the emperor will do again for a vassal: read it again (half-written), or bind its sockets again. */
export interface PendingRetry {
  reason: 'recheck' | 'rebind';
  cancel: () => void;
}

/** What the emperor remembers of one vassal beside the vassal itself. */
export interface VassalRecord {
  readonly vassal: Vassal;
  readonly source: string;
  /** The last definition seen, to re-evaluate the vassal when the defaults change. */
  definition: VassalDefinition;
  /** Of the last definition: text, defaults and owner (or its read error), with `version` the change marker. */
  digest: string;
  version: number;
  /** False once its definition is gone (the vassal is stopping, then forgotten). */
  present: boolean;
  /** A retry scheduled for this vassal; a definition with one pending is never `unchanged`. */
  pending: PendingRetry | undefined;
  /** The effective spec and placement last applied: a defaults change that leaves both alone reloads nothing. */
  applied: string | undefined;
  /** The last error logged for this vassal, so a broken file is reported once per change. */
  lastReported: string | undefined;
  /** The digest whose config warnings were last logged (each change of the file logs them once). */
  warnedFor?: string;
  /** The file owner seen last (tyrant mode stops a vassal whose owner changes to a refused one). */
  owner: Identity | undefined;
}

/** What planning needs besides the record and the definition. */
export interface DefinitionContext {
  /** Vassal defaults, lowest precedence first, and a hash that changes with them. */
  defaults: {readonly files: readonly DefaultsFile[]; readonly hash: string};
  /** How specs are loaded (python, curse tolerance, %t clock…), except what comes from the definition. */
  spec: Omit<VassalSpecContext, 'vassalDir' | 'defaults'>;
  /** Tyrant mode: what a file owned by `owner` may read while it is parsed (includes, `@(file)`): what its owner can. */
  readsAs?: (owner: Identity) => ConfigFs;
  /** Unix ms now, for the half-written grace. */
  now: number;
}

/**
 * How an emperor parses definitions: its python and curse tolerance; in tyrant mode (`tenantEnv` given) a tenant's
 * `$(VAR)` sees only the tenants' environment (tenant-env.ts) and its file reads only what its owner can read.
 */
export function planningContext(python: string | undefined, curseToleranceMs: number, tenantEnv: Readonly<Record<string, string>> | undefined): Omit<DefinitionContext, 'defaults' | 'now'> {
  return {
    spec: {...(python === undefined ? {} : {python}), curseToleranceMs, ...(tenantEnv ? {env: tenantEnv} : {})},
    ...(tenantEnv ? {readsAs: ownerConfigFs} : {}),
  };
}

/** A file that fails to parse this soon after it changed may be half-written. */
const HALF_WRITTEN_WINDOW_MS = 2_000;
/** How soon a perhaps half-written file is looked at again. */
export const HALF_WRITTEN_RECHECK_MS = 200;

/** What a definition means for its vassal. */
export type DefinitionPlan =
  | {kind: 'unchanged'}
  | {kind: 'recheck'; digest: string; afterMs: number}
  | {kind: 'invalid'; digest: string; error: string}
  | {kind: 'apply'; digest: string; spec: VassalSpec};

/** Decides what `definition` means for the vassal `record` remembers (undefined: a new vassal). Pure. */
export function planDefinition(record: VassalRecord | undefined, definition: VassalDefinition, context: DefinitionContext): DefinitionPlan {
  const digest = digestOf(definition, context.defaults.hash);
  if (record && record.present && record.pending === undefined && record.digest === digest && record.version === definition.version) {
    return {kind: 'unchanged'};
  }
  let error = definition.error;
  if (error === undefined) {
    const fs = definition.owner !== undefined && context.readsAs ? {fs: context.readsAs(definition.owner)} : {};
    const loaded = loadVassalSpec(definition.path, definition.text, {...context.spec, ...fs, vassalDir: definition.dir, defaults: context.defaults.files});
    if (loaded.ok) return {kind: 'apply', digest, spec: loaded.value};
    error = loaded.error.map(formatDiagnostic).join('\n');
  }
  if (definition.recheck && context.now - definition.changedAt < HALF_WRITTEN_WINDOW_MS) {
    // Perhaps still being written: look again shortly; report only once the file is stable.
    return {kind: 'recheck', digest, afterMs: HALF_WRITTEN_RECHECK_MS};
  }
  return {kind: 'invalid', digest, error};
}

/** True when a file that had an owner now has another one (a chown: tyrant mode stops a vassal refused for it). */
export function ownerChangedBetween(previous: Identity | undefined, next: Identity | undefined): boolean {
  return previous !== undefined && next !== undefined && (previous.uid !== next.uid || previous.gid !== next.gid);
}

/** The definition's text, the defaults and the owner (a chown changes no mtime, and tyrant mode must see it). */
function digestOf(definition: VassalDefinition, defaultsHash: string): string {
  if (definition.error !== undefined) return definition.error;
  const owner = definition.owner === undefined ? '' : `${definition.owner.uid}:${definition.owner.gid}`;
  return createHash('sha1').update(definition.text).update(defaultsHash).update(owner).digest('hex');
}
