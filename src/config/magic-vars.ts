/**
 * uWSGI's magic variables (UWSGI-REFERENCE §14): `%n` name, `%d` directory, `%h` host… Owns the table of one
 * file's letters (`magicTable`), uWSGI's whole-text substitution of an ini file before it is parsed
 * (`substituteMagic`, core/utils.c `magic_sub`), the per-value form TOML files use (`expandMagicVars`), and
 * `$(NAME)` for TOML. Upper-case forms of the per-file letters (`%N`, `%D`…) mean "the real vassal file" in
 * uWSGI: a file read through `ini =`/`include =`/`inherit =` keeps the vassal's upper-case letters
 * (`withVassalLetters`). Everything here is pure except `currentHostFacts`, which asks the OS for the facts the
 * host letters need.
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
  /** The section named with `file.ini:section` (`%x`); empty when none was named, as in uWSGI. */
  readonly section: string;
  /** The vassals directory, i.e. the emperor's working directory (`%v`). */
  readonly vassalsDir: string;
  /** Inode of the file (`%i`), when known. */
  readonly inode?: number;
  /** Wall-clock time in ms since the epoch (`%t`, `%T`). */
  readonly nowMs: number;
  readonly host: HostFacts;
}

/** Letters whose upper-case form means "the vassal file" rather than the file being read (an included one). */
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

/** The whole-text substitution of one file, and the original line of each output line (for diagnostics). */
export interface MagicText {
  readonly text: string;
  /** `lineOf[i]` is the 1-based line of the input that output line `i + 1` starts on. */
  readonly lineOf: readonly number[];
}

/**
 * uWSGI's `magic_sub` over a whole ini file: every `%` and the character after it become the letter's value,
 * `%(` stays, any other character (a newline too: `a = 100%` joins the next line, as in uWSGI) is dropped with the
 * `%`; a `%` at the very end disappears.
 */
export function substituteMagic(text: string, vars: ReadonlyMap<string, string>): MagicText {
  const parts: string[] = [];
  const lineOf: number[] = [];
  let line = 1;
  let from = 0;
  // Copies text[from, to) and records where each newline in it leads.
  const copy = (to: number): void => {
    for (let nl = text.indexOf('\n', from); nl !== -1 && nl < to; nl = text.indexOf('\n', nl + 1)) lineOf.push(++line);
    parts.push(text.slice(from, to));
  };
  lineOf.push(1);
  for (let at = text.indexOf('%'); at !== -1; at = text.indexOf('%', from)) {
    copy(at);
    const next = text[at + 1];
    if (next === '\n') line++;
    parts.push(next === '(' ? '%(' : next === undefined ? '' : (vars.get(next) ?? ''));
    from = at + 2;
  }
  if (from < text.length) copy(text.length);
  return {text: parts.join(''), lineOf};
}

/** `table` (an included file's letters) with the upper-case per-file letters taken from `vassal`'s table. */
export function withVassalLetters(table: ReadonlyMap<string, string>, vassal: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  const merged = new Map(table);
  for (const letter of PER_FILE_LETTERS) merged.set(letter.toUpperCase(), vassal.get(letter.toUpperCase()) ?? '');
  return merged;
}

/** `value` with `$(NAME)` replaced from `env`; unset names stay literal, as in uWSGI 2.0. */
export function expandEnvRefs(value: string, env: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string) => env[name] ?? match);
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
