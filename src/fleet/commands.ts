/**
 * `kaiser fleet put|ls|rm|hosts|drain|history|rollback`: manage a fleet from anywhere that reaches its etcd. Writes go
 * through transactions on the vassal's meta record, so two operators putting at once never lose a history entry.
 * Returns the exit code (only cli.ts exits): 0 done, 1 etcd unreachable or the request refused, 2 usage error.
 *
 * Endpoints: `--etcd HOST:PORT[,…]` (or an `etcd://…/PREFIX` URL), else `$KAISER_ETCD`; prefix: `--prefix P`, else
 * `$KAISER_FLEET_PREFIX`, else the URL's, else `/kaiser`.
 */
import {readFileSync} from 'node:fs';
import {basename, dirname, resolve} from 'node:path';
import {collectOptions} from '../config/collect-options.js';
import {collectRulesOf, parseConfigFile} from '../config/config-file.js';
import {formatDiagnostic, hasErrors} from '../config/diagnostic.js';
import {currentHostFacts} from '../config/magic-vars.js';
import {EXIT} from '../exit-codes.js';
import {err, ok, type Result} from '../result.js';
import {FleetKeys, isFleetVassalName, isFleetWord, parseClaimRecord, parseHistoryEntry, parseHostRecord, parseVassalMeta, type HistoryEntry, type VassalMeta} from './fleet-keys.js';
import {DEFAULT_FLEET_PREFIX, isFleetUrl, normalizePrefix, parseEndpoints, parseFleetUrl, type FleetAddress} from './fleet-url.js';
import {EtcdStore, type FleetStore} from './store.js';

/** One row of `kaiser fleet ls --json`: a replica, where it runs, its state and revision (null: not claimed). */
export interface FleetLsRow {
  name: string;
  replica: number;
  host: string;
  state: string;
  revision: number | null;
  /** The vassal's newest revision. */
  current: number;
}

export interface FleetCommandEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: {write(text: string): unknown};
  readonly stderr: {write(text: string): unknown};
  readonly cwd?: string;
  /** Default: etcd at the resolved address. */
  readonly openStore?: (address: FleetAddress) => FleetStore;
}

export const FLEET_USAGE = `usage: kaiser fleet COMMAND [--etcd HOST:PORT[,…]] [--prefix P] [--json]
  put FILE [--replicas N] [--hosts a,b] [--tags t,u] [--singleton]
                      store a vassal file (a new revision)
  ls                  every vassal: where each replica runs, its state, revision
  rm NAME             remove a vassal (its replicas stop; its history stays)
  hosts               the emperors of the fleet, their tags and replica counts
  drain HOST [--undo] move every replica off HOST (keep it empty until --undo)
  history NAME        the stored revisions of a vassal
  rollback NAME [REV] put revision REV again, as a new revision (default: the
                      one before the current)
endpoints: --etcd or KAISER_ETCD; prefix: --prefix or KAISER_FLEET_PREFIX
(default ${DEFAULT_FLEET_PREFIX})
`;

/**
 * How long one etcd call of a fleet command may take, across the endpoints it tries (etcdctl's is 5 s): an operator's
 * command waits out a busy member or a slow first connection rather than fail (seen in CI at load 9: ten `fleet put`
 * at once, one ran out of the emperors' 3 s with its last attempt still resolving the endpoint's address).
 */
const CLI_DEADLINE_MS = 10_000;
const BOOLS = new Set(['json', 'singleton', 'undo', 'help']);
const VALUED = new Set(['etcd', 'prefix', 'replicas', 'hosts', 'tags']);

interface FleetArgs {
  readonly command: string;
  readonly positionals: string[];
  readonly values: Map<string, string>;
  readonly bools: Set<string>;
}

function parseArgs(args: readonly string[]): Result<FleetArgs, string> {
  const [command, ...rest] = args;
  const parsed: FleetArgs = {command: command ?? '', positionals: [], values: new Map(), bools: new Set()};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '-h') parsed.bools.add('help');
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (BOOLS.has(name)) parsed.bools.add(name);
      else if (VALUED.has(name)) {
        const value = eq === -1 ? rest[++i] : arg.slice(eq + 1);
        if (value === undefined) return err(`option --${name} needs a value`);
        parsed.values.set(name, value);
      } else return err(`unknown option "${arg}"`);
    } else parsed.positionals.push(arg);
  }
  return ok(parsed);
}

/** Where the fleet is, from flags and environment. */
export function resolveFleetAddress(values: ReadonlyMap<string, string>, env: Readonly<Record<string, string | undefined>>): Result<FleetAddress, string> {
  const endpointsText = values.get('etcd') ?? env['KAISER_ETCD'];
  if (endpointsText === undefined || endpointsText === '') return err('no etcd endpoints: give --etcd HOST:PORT[,…] or set KAISER_ETCD');
  let endpoints: string[];
  let prefix = DEFAULT_FLEET_PREFIX;
  if (isFleetUrl(endpointsText)) {
    const url = parseFleetUrl(endpointsText);
    if (!url.ok) return url;
    endpoints = [...url.value.endpoints];
    prefix = url.value.prefix;
  } else {
    const parsed = parseEndpoints(endpointsText);
    if (!parsed.ok) return parsed;
    endpoints = parsed.value;
  }
  const prefixText = values.get('prefix') ?? env['KAISER_FLEET_PREFIX'];
  if (prefixText !== undefined && prefixText !== '') {
    const normalized = normalizePrefix(prefixText);
    if (!normalized.ok) return normalized;
    prefix = normalized.value;
  }
  return ok({endpoints, prefix});
}

type Handler = (args: FleetArgs, store: FleetStore, keys: FleetKeys, io: FleetCommandEnv) => Promise<number>;

const POSITIONALS: Record<string, [min: number, max: number]> = {put: [1, 1], ls: [0, 0], rm: [1, 1], hosts: [0, 0], drain: [1, 1], history: [1, 1], rollback: [1, 2]};

/** Runs `kaiser fleet …` and resolves with the exit code. Never rejects. */
export async function runFleetCommand(args: readonly string[], io: FleetCommandEnv): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(FLEET_USAGE);
    return EXIT.OK;
  }
  const parsed = parseArgs(args);
  if (!parsed.ok) {
    io.stderr.write(`kaiser fleet: ${parsed.error}\n${FLEET_USAGE}`);
    return EXIT.USAGE;
  }
  const a = parsed.value;
  if (a.bools.has('help') || a.command === '' || a.command === 'help') {
    io.stdout.write(FLEET_USAGE);
    return a.command === '' && !a.bools.has('help') ? EXIT.USAGE : EXIT.OK;
  }
  const handler = HANDLERS[a.command];
  const arity = POSITIONALS[a.command];
  if (handler === undefined || arity === undefined) {
    io.stderr.write(`kaiser fleet: unknown command "${a.command}"\n${FLEET_USAGE}`);
    return EXIT.USAGE;
  }
  if (a.positionals.length < arity[0] || a.positionals.length > arity[1]) {
    io.stderr.write(`kaiser fleet ${a.command}: wrong number of arguments\n${FLEET_USAGE}`);
    return EXIT.USAGE;
  }
  const address = resolveFleetAddress(a.values, io.env);
  if (!address.ok) {
    io.stderr.write(`kaiser fleet: ${address.error}\n`);
    return EXIT.USAGE;
  }
  const store = (io.openStore ?? ((addr) => new EtcdStore(addr.endpoints, {deadlineMs: CLI_DEADLINE_MS})))(address.value);
  try {
    return await handler(a, store, new FleetKeys(address.value.prefix), io);
  } catch (error) {
    io.stderr.write(`kaiser fleet ${a.command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.FAILURE;
  } finally {
    store.close();
  }
}

function splitWords(text: string | undefined): string[] {
  return (text ?? '').split(',').map((w) => w.trim()).filter((w) => w !== '');
}

/** Placement keys written in the vassal file itself (`replicas = 3`), overridden by the command line. */
function placementFromFile(file: string, text: Buffer): Result<Partial<Pick<VassalMeta, 'replicas' | 'hosts' | 'tags' | 'singleton'>>, string> {
  const parsed = parseConfigFile(basename(file), text, {cwd: dirname(file), env: process.env, host: currentHostFacts('kaiser'), nowMs: Date.now()});
  if (!parsed.ok) return err(parsed.error.map(formatDiagnostic).join('\n'));
  const collected = collectOptions(parsed.value.entries, {scopes: ['command', 'server', 'vassal'], context: 'a fleet vassal', ...collectRulesOf(parsed.value)});
  if (hasErrors(collected.diagnostics)) return err(collected.diagnostics.map(formatDiagnostic).join('\n'));
  const v = collected.values;
  const out: {replicas?: number; hosts?: string[]; tags?: string[]; singleton?: boolean} = {};
  if (typeof v.get('replicas') === 'number') out.replicas = v.get('replicas') as number;
  if (typeof v.get('singleton') === 'boolean') out.singleton = v.get('singleton') as boolean;
  if (typeof v.get('hosts') === 'string') out.hosts = splitWords(v.get('hosts') as string);
  if (typeof v.get('tags') === 'string') out.tags = splitWords(v.get('tags') as string);
  return ok(out);
}

/** Stores `text` as the next revision of `name` (put, rollback, the benchmark). Retries when another writer got in between. */
export async function storeRevision(store: FleetStore, keys: FleetKeys, name: string, text: string | Buffer, placement: Omit<VassalMeta, 'seq' | 'at' | 'file'>, cause: string): Promise<number> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await store.get(keys.meta(name));
    const metaKv = current.kvs[0];
    const oldMeta = metaKv ? parseVassalMeta(metaKv.value) : undefined;
    let lastSeq = oldMeta?.seq ?? 0;
    if (oldMeta === undefined) {
      // Removed and put again: continue the history rather than overwrite it.
      const history = await store.get(keys.history(name), {prefix: true});
      for (const kv of history.kvs) lastSeq = Math.max(lastSeq, parseHistoryEntry(kv.value)?.seq ?? 0);
    }
    const meta: VassalMeta = {file: name, seq: lastSeq + 1, at: Date.now(), ...placement};
    const entry: HistoryEntry = {seq: meta.seq, text: Buffer.from(text).toString('utf8'), meta, cause};
    const res = await store.txn(
      [metaKv ? {key: keys.meta(name), target: 'mod', op: '=', value: metaKv.modRevision} : {key: keys.meta(name), target: 'create', op: '=', value: 0}],
      [
        {op: 'put', key: keys.vassal(name), value: Buffer.from(text)},
        {op: 'put', key: keys.meta(name), value: JSON.stringify(meta)},
        {op: 'put', key: keys.historyEntry(name, meta.seq), value: JSON.stringify(entry)},
      ],
    );
    if (res.succeeded) return meta.seq;
  }
  throw new Error(`${name} is being changed by someone else: try again`);
}

function checkWords(words: readonly string[], what: string): string | undefined {
  const bad = words.find((w) => !isFleetWord(w));
  return bad === undefined ? undefined : `bad ${what} "${bad}" (letters, digits, . _ -)`;
}

/** A vassal's stored revisions, oldest first, and the revision number that is current (if any). */
async function readHistory(store: FleetStore, keys: FleetKeys, name: string): Promise<{entries: HistoryEntry[]; current: number | undefined}> {
  const [history, meta] = await Promise.all([store.get(keys.history(name), {prefix: true}), store.get(keys.meta(name))]);
  const current = meta.kvs[0] ? parseVassalMeta(meta.kvs[0].value)?.seq : undefined;
  const entries = history.kvs.flatMap((kv) => {
    const e = parseHistoryEntry(kv.value);
    return e ? [e] : [];
  });
  return {entries, current};
}

const HANDLERS: Record<string, Handler> = {
  async put(a, store, keys, io) {
    const path = resolve(io.cwd ?? process.cwd(), a.positionals[0]!);
    const name = basename(path);
    if (!isFleetVassalName(name)) {
      io.stderr.write(`kaiser fleet put: "${name}" is not a vassal file name (NAME.ini or NAME.toml)\n`);
      return EXIT.USAGE;
    }
    let text: Buffer;
    try {
      text = readFileSync(path);
    } catch (error) {
      io.stderr.write(`kaiser fleet put: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
      return EXIT.USAGE;
    }
    const fromFile = placementFromFile(path, text);
    if (!fromFile.ok) {
      io.stderr.write(`${fromFile.error}\nkaiser fleet put: ${name} is not a valid vassal file\n`);
      return EXIT.USAGE;
    }
    const replicasText = a.values.get('replicas');
    const replicas = replicasText === undefined ? (fromFile.value.replicas ?? 1) : Number(replicasText);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 1000) {
      io.stderr.write(`kaiser fleet put: --replicas must be an integer from 0 to 1000\n`);
      return EXIT.USAGE;
    }
    const hosts = a.values.has('hosts') ? splitWords(a.values.get('hosts')) : (fromFile.value.hosts ?? []);
    const tags = a.values.has('tags') ? splitWords(a.values.get('tags')) : (fromFile.value.tags ?? []);
    const bad = checkWords(hosts, 'host') ?? checkWords(tags, 'tag');
    if (bad) {
      io.stderr.write(`kaiser fleet put: ${bad}\n`);
      return EXIT.USAGE;
    }
    const singleton = a.bools.has('singleton') || (fromFile.value.singleton ?? false);
    if (singleton && replicas > 1) {
      io.stderr.write('kaiser fleet put: a singleton vassal has at most 1 replica\n');
      return EXIT.USAGE;
    }
    const seq = await storeRevision(store, keys, name, text, {replicas, hosts, tags, singleton}, 'put');
    if (a.bools.has('json')) io.stdout.write(`${JSON.stringify({name, revision: seq, replicas, hosts, tags, singleton})}\n`);
    else io.stdout.write(`${name}: revision ${seq}, ${replicas} replica${replicas === 1 ? '' : 's'}\n`);
    return EXIT.OK;
  },

  async ls(a, store, keys, io) {
    const [metas, claims, hosts] = await Promise.all([store.get(keys.metas(), {prefix: true}), store.get(keys.claims(), {prefix: true}), store.get(keys.hosts(), {prefix: true})]);
    const live = new Set(hosts.kvs.map((kv) => parseHostRecord(kv.value)?.hostId));
    const rows: FleetLsRow[] = [];
    const byName = new Map<string, Map<number, ReturnType<typeof parseClaimRecord>>>();
    for (const kv of claims.kvs) {
      const key = keys.classify(kv.key);
      if (key?.kind !== 'claim') continue;
      if (!byName.has(key.name)) byName.set(key.name, new Map());
      byName.get(key.name)!.set(key.index, parseClaimRecord(kv.value));
    }
    for (const kv of metas.kvs) {
      const meta = parseVassalMeta(kv.value);
      if (!meta) continue;
      const replicas = byName.get(meta.file) ?? new Map();
      const indices = new Set([...Array(meta.replicas).keys(), ...replicas.keys()]);
      for (const index of [...indices].sort((x, y) => x - y)) {
        const claim = replicas.get(index);
        rows.push({
          name: meta.file,
          replica: index,
          host: claim?.host ?? '-',
          state: claim ? (live.has(claim.host) ? claim.state : `${claim.state} (host gone)`) : index < meta.replicas ? 'unplaced' : 'surplus',
          revision: claim ? claim.seq : null,
          current: meta.seq,
        });
      }
    }
    if (a.bools.has('json')) {
      io.stdout.write(`${JSON.stringify(rows)}\n`);
      return EXIT.OK;
    }
    io.stdout.write(table(['NAME', 'REPLICA', 'HOST', 'STATE', 'REVISION'], rows.map((r) => [r.name, String(r.replica), r.host, r.state, r.revision === null ? `- (current ${r.current})` : r.revision === r.current ? String(r.revision) : `${r.revision} (current ${r.current})`])));
    return EXIT.OK;
  },

  async rm(a, store, keys, io) {
    const name = a.positionals[0]!;
    const res = await store.txn([{key: keys.meta(name), target: 'create', op: '>', value: 0}], [{op: 'delete', key: keys.vassal(name)}, {op: 'delete', key: keys.meta(name)}]);
    if (!res.succeeded) {
      io.stderr.write(`kaiser fleet rm: no vassal named ${name}\n`);
      return EXIT.FAILURE;
    }
    io.stdout.write(`${name}: removed (history kept)\n`);
    return EXIT.OK;
  },

  async hosts(a, store, keys, io) {
    const [hosts, drained, claims] = await Promise.all([store.get(keys.hosts(), {prefix: true}), store.get(keys.drained(), {prefix: true}), store.get(keys.claims(), {prefix: true})]);
    const counts = new Map<string, number>();
    for (const kv of claims.kvs) {
      const host = parseClaimRecord(kv.value)?.host;
      if (host !== undefined) counts.set(host, (counts.get(host) ?? 0) + 1);
    }
    const drainedIds = new Set(drained.kvs.map((kv) => keys.classify(kv.key)).flatMap((k) => (k?.kind === 'drained' ? [k.hostId] : [])));
    const rows = hosts.kvs.flatMap((kv) => {
      const h = parseHostRecord(kv.value);
      return h ? [{host: h.hostId, tags: h.tags, cap: h.cap, pid: h.pid, replicas: counts.get(h.hostId) ?? 0, drained: drainedIds.has(h.hostId), since: h.startedAt}] : [];
    });
    for (const id of drainedIds) if (!rows.some((r) => r.host === id)) rows.push({host: id, tags: [], cap: 0, pid: 0, replicas: 0, drained: true, since: 0});
    if (a.bools.has('json')) {
      io.stdout.write(`${JSON.stringify(rows)}\n`);
      return EXIT.OK;
    }
    io.stdout.write(table(['HOST', 'STATE', 'REPLICAS', 'TAGS', 'CAP', 'PID'], rows.map((r) => [r.host, r.pid === 0 ? 'gone (drained)' : r.drained ? 'drained' : 'live', String(r.replicas), r.tags.join(',') || '-', r.cap === 0 ? '-' : String(r.cap), r.pid === 0 ? '-' : String(r.pid)])));
    return EXIT.OK;
  },

  async drain(a, store, keys, io) {
    const host = a.positionals[0]!;
    if (!isFleetWord(host)) {
      io.stderr.write(`kaiser fleet drain: bad host id "${host}"\n`);
      return EXIT.USAGE;
    }
    if (a.bools.has('undo')) {
      await store.delete(keys.drained(host));
      io.stdout.write(`${host}: takes vassals again\n`);
    } else {
      await store.put(keys.drained(host), JSON.stringify({at: Date.now()}));
      io.stdout.write(`${host}: drained (its replicas move to other emperors; undo with --undo)\n`);
    }
    return EXIT.OK;
  },

  async history(a, store, keys, io) {
    const name = a.positionals[0]!;
    const {entries, current} = await readHistory(store, keys, name);
    if (entries.length === 0) {
      io.stderr.write(`kaiser fleet history: no history for ${name}\n`);
      return EXIT.FAILURE;
    }
    if (a.bools.has('json')) {
      io.stdout.write(`${JSON.stringify(entries.map((e) => ({revision: e.seq, at: e.meta.at, cause: e.cause, replicas: e.meta.replicas, current: e.seq === current, text: e.text})))}\n`);
      return EXIT.OK;
    }
    io.stdout.write(table(['REVISION', 'DATE', 'CAUSE', 'REPLICAS', 'BYTES'], entries.map((e) => [`${e.seq}${e.seq === current ? ' *' : ''}`, new Date(e.meta.at).toISOString(), e.cause, String(e.meta.replicas), String(Buffer.byteLength(e.text))])));
    return EXIT.OK;
  },

  async rollback(a, store, keys, io) {
    const name = a.positionals[0]!;
    const {entries, current} = await readHistory(store, keys, name);
    const wanted = a.positionals[1];
    let target: HistoryEntry | undefined;
    if (wanted !== undefined) target = entries.find((e) => String(e.seq) === wanted);
    else target = entries.filter((e) => current === undefined || e.seq < current).at(-1);
    if (target === undefined) {
      io.stderr.write(`kaiser fleet rollback: ${name} has no revision ${wanted ?? 'before the current one'}\n`);
      return EXIT.FAILURE;
    }
    const {replicas, hosts, tags, singleton} = target.meta;
    const seq = await storeRevision(store, keys, name, target.text, {replicas, hosts, tags, singleton}, `rollback to ${target.seq}`);
    io.stdout.write(`${name}: revision ${seq} (the text of revision ${target.seq})\n`);
    return EXIT.OK;
  },
};

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}
