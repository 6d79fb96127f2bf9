/**
 * uWSGI's value expansion, in uWSGI's order (UWSGI-REFERENCE §14):
 *   1. magic `%x` variables, in the context of the file being read (`%n` name, `%d` directory, …);
 *   2. `$(NAME)` from the environment, left literal when unset;
 *   3. `%(name)` placeholders: the value of another key of the same file (simple names only, no math).
 * Upper-case forms of the per-file letters (`%N`, `%D`…) mean "the real vassal file, not a template" in uWSGI;
 * kaiser has no templates, so they equal the lower-case ones. Everything here is pure except
 * `currentHostFacts`, which asks the OS for the facts the host letters need.
 */
import {readFileSync} from 'node:fs';
import {cpus, hostname, userInfo} from 'node:os';
import {basename, dirname, extname, sep} from 'node:path';

/** Facts about the machine and the running program behind `%h %k %u %U %g %G %b %V`. */
export interface HostFacts {
  readonly hostname: string;
  readonly cpuCount: number;
  readonly uid: number;
  readonly user: string;
  readonly gid: number;
  readonly group: string;
  /** Absolute path of the running binary (`%b`). */
  readonly binary: string;
  /** Version string for `%V`. */
  readonly version: string;
}

/** What the magic variables of one file expand to. */
export interface MagicContext {
  /** Absolute path of the file (`%p`). */
  readonly file: string;
  /** The file name exactly as it was given (`%o`). */
  readonly givenName: string;
  /** The section read (`%x`), e.g. `uwsgi`. */
  readonly section: string;
  /** The vassals directory, i.e. the emperor's working directory (`%v`). */
  readonly vassalsDir: string;
  /** Inode of the file (`%i`), when known. */
  readonly inode?: number;
  /** Wall-clock time in ms since the epoch (`%t`, `%T`). */
  readonly nowMs: number;
  readonly host: HostFacts;
}

/** Letters whose upper-case form is the same variable in kaiser (uWSGI: "the real vassal file"). */
const PER_FILE_LETTERS = 'psnedcxijo';

/** The value of every magic letter for `ctx` (`%%` and `%[` included). */
export function magicTable(ctx: MagicContext): ReadonlyMap<string, string> {
  const name = basename(ctx.file);
  const ext = extname(name);
  const dir = dirname(ctx.file);
  const table = new Map<string, string>([
    ['p', ctx.file],
    ['s', name],
    ['n', ext === '' ? name : name.slice(0, -ext.length)],
    ['e', ext.replace(/^\./, '')],
    ['d', dir.endsWith(sep) ? dir : dir + sep],
    ['c', basename(dir)],
    ['o', ctx.givenName],
    ['x', ctx.section],
    ['i', ctx.inode === undefined ? '' : String(ctx.inode)],
    ['j', djb33xHex(ctx.file)],
    ['v', ctx.vassalsDir],
    ['V', ctx.host.version],
    ['h', ctx.host.hostname],
    ['k', String(ctx.host.cpuCount)],
    ['t', String(Math.floor(ctx.nowMs / 1000))],
    ['T', String(Math.floor(ctx.nowMs * 1000))],
    ['u', String(ctx.host.uid)],
    ['U', ctx.host.user],
    ['g', String(ctx.host.gid)],
    ['G', ctx.host.group],
    ['b', ctx.host.binary],
    ['%', '%'],
    ['[', '\x1b'],
  ]);
  for (const letter of PER_FILE_LETTERS) table.set(letter.toUpperCase(), table.get(letter) ?? '');
  const components = dir.split(sep).filter((part) => part !== '');
  for (let i = 0; i <= 9; i++) table.set(String(i), components[i] ?? '');
  return table;
}

/**
 * `value` with its `%x` magic variables expanded from `vars` (a `magicTable`). `%(` is left alone for the
 * placeholder pass; any other unknown `%<char>` becomes empty, as in uWSGI; a `%` at the very end stays.
 */
export function expandMagicVars(value: string, vars: ReadonlyMap<string, string>): string {
  return value.replace(/%([^(])/gu, (_match, letter: string) => vars.get(letter) ?? '');
}

/** `value` with `$(NAME)` replaced from `env`; unset names stay literal, as in uWSGI 2.0. */
export function expandEnvRefs(value: string, env: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string) => env[name] ?? match);
}

/** The names referenced as `%(name)` in `value`, in order. */
export function placeholderRefs(value: string): string[] {
  return [...value.matchAll(/%\(\s*([^()\s]+)\s*\)/g)].map((m) => m[1] ?? '');
}

/** How deep `%(a)` → `%(b)` → … may go before we stop (a cycle such as `a = %(b)`, `b = %(a)`). */
const MAX_PLACEHOLDER_DEPTH = 16;

/**
 * `value` with `%(name)` replaced by `lookup(name)`, recursively (a placeholder may use others). Unknown names
 * stay literal. A cycle stops at a fixed depth, leaving the innermost reference literal.
 */
export function expandPlaceholders(value: string, lookup: (name: string) => string | undefined, depth = 0): string {
  if (depth >= MAX_PLACEHOLDER_DEPTH) return value;
  return value.replace(/%\(\s*([^()\s]+)\s*\)/g, (match, name: string) => {
    const found = lookup(name);
    return found === undefined ? match : expandPlaceholders(found, lookup, depth + 1);
  });
}

/** uWSGI's `%j`: the djb33x hash of the path, as lower-case hex of an unsigned 32-bit integer. */
export function djb33xHex(text: string): string {
  let hash = 5381;
  for (const byte of Buffer.from(text, 'utf8')) hash = (Math.imul(hash, 33) ^ byte) >>> 0;
  return hash.toString(16);
}

/** The facts of this host and process, read from the OS (the one impure function of this module). */
export function currentHostFacts(version: string): HostFacts {
  // Asked once per vassal file read: os.cpus() and the passwd lookup cost ~0.25 ms each, which a thousand vassals
  // repeat for nothing. The facts are taken once per process (a host name change applies after a restart).
  const cached = HOST_FACTS.get(version);
  if (cached) return cached;
  const facts = readHostFacts(version);
  HOST_FACTS.set(version, facts);
  return facts;
}

const HOST_FACTS = new Map<string, HostFacts>();

function readHostFacts(version: string): HostFacts {
  const user = safeUserInfo();
  return {
    hostname: hostname(),
    cpuCount: cpus().length,
    uid: user.uid,
    user: user.username,
    gid: user.gid,
    group: groupName(user.gid),
    binary: process.execPath,
    version,
  };
}

function safeUserInfo(): {uid: number; gid: number; username: string} {
  try {
    return userInfo();
  } catch {
    // No passwd entry (containers running as an arbitrary uid): uWSGI prints the number too.
    const uid = process.getuid?.() ?? -1;
    return {uid, gid: process.getgid?.() ?? -1, username: String(uid)};
  }
}

function groupName(gid: number): string {
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0] ?? String(gid);
  } catch {
    return String(gid);
  }
}
