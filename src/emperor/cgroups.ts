/**
 * Per-vassal cgroups for `memory-limit` and `cpu-limit`. Owns finding out whether the emperor may manage cgroups
 * (v1 with separate or co-mounted `memory`, `cpu`, `cpuacct` hierarchies, or v2 with `memory` and `cpu` delegated
 * to our subtree, e.g. systemd's `Delegate=yes`: the emperor's processes then move into a leaf `emperor/`), creating
 * one group per vassal under the emperor's own cgroup (`kaiser-<emperor pid>/<vassal name>`), writing its limits,
 * reading its usage and OOM kills, and removing it.
 *
 * The vassal joins its group before its program starts: the spawn writes the child's own pid into the group's
 * `cgroup.procs` files (`child.ts` wraps direct spawns in a /bin/sh; the runtime host's forked child writes them
 * itself). Only vassals with a limit get a group, so a thousand vassals without limits cost nothing here.
 */
import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

/** The limits of one vassal; 0 = none. */
export interface CgroupLimits {
  memoryLimitBytes: number;
  cpuLimitPercent: number;
}

/** What the emperor can do with cgroups on this machine. */
export type CgroupSupport =
  | {kind: 'v1'; memory: string; cpu: string; cpuacct: string}
  | {kind: 'v2'; dir: string}
  | {kind: 'none'; reason: string};

const CFS_PERIOD_US = 100_000;
/** The kernel refuses quotas under 1 ms. */
const CFS_MIN_QUOTA_US = 1_000;

/** Parsed `/proc/self/mountinfo` line of a cgroup filesystem. */
interface CgroupMount {
  fstype: 'cgroup' | 'cgroup2';
  root: string;
  mountPoint: string;
  superOptions: string[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function cgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [fstype, , superOptions] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    mounts.push({fstype, root: unescapeMount(fields[3] ?? '/'), mountPoint: unescapeMount(fields[4] ?? ''), superOptions: (superOptions ?? '').split(',')});
  }
  return mounts;
}

function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Our directory in the hierarchy mounted at `mount`, for our cgroup `path` in it (null if not visible). */
function dirIn(mount: CgroupMount, path: string): string | undefined {
  const root = mount.root === '/' ? '' : mount.root;
  if (root !== '' && path !== root && !path.startsWith(`${root}/`)) return undefined;
  const dir = join(mount.mountPoint, path.slice(root.length));
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

/**
 * Finds our own cgroup per controller (from /proc/self/cgroup and /proc/self/mountinfo). v1 wins when its memory
 * hierarchy is mounted (hybrid systems mount v2 without controllers).
 */
export function detectCgroups(read: (path: string) => string | undefined = readText, isRoot = process.getuid?.() === 0): CgroupSupport {
  if (process.env['KAISER_NO_CGROUPS'] === '1') return {kind: 'none', reason: 'KAISER_NO_CGROUPS=1'};
  const self = read('/proc/self/cgroup');
  const mountinfo = read('/proc/self/mountinfo');
  if (self === undefined || mountinfo === undefined) return {kind: 'none', reason: 'no /proc/self/cgroup (not Linux?)'};
  if (!isRoot) return {kind: 'none', reason: 'the emperor is not root'};
  const mounts = cgroupMounts(mountinfo);
  const v1Paths = new Map<string, string>();
  let v2Path: string | undefined;
  for (const line of self.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    if (match[1] === '0' && match[2] === '') v2Path = match[3];
    for (const controller of (match[2] ?? '').split(',')) if (controller !== '') v1Paths.set(controller, match[3] ?? '/');
  }
  const v1 = (controller: string): string | undefined => {
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes(controller));
    const path = v1Paths.get(controller);
    return mount && path !== undefined ? dirIn(mount, path) : undefined;
  };
  const memory = v1('memory');
  if (memory !== undefined) {
    const cpu = v1('cpu');
    const cpuacct = v1('cpuacct');
    if (cpu === undefined || cpuacct === undefined) return {kind: 'none', reason: 'cgroup v1 without a cpu or cpuacct hierarchy'};
    return {kind: 'v1', memory, cpu, cpuacct};
  }
  const unified = mounts.find((m) => m.fstype === 'cgroup2');
  if (unified === undefined || v2Path === undefined) return {kind: 'none', reason: 'no cgroup filesystem mounted'};
  const dir = dirIn(unified, v2Path);
  if (dir === undefined) return {kind: 'none', reason: 'our cgroup is not visible in the cgroup2 mount'};
  const available = (read(join(dir, 'cgroup.controllers')) ?? '').split(/\s+/);
  if (!available.includes('memory') || !available.includes('cpu')) return {kind: 'none', reason: `cgroup v2 without memory and cpu controllers in ${dir}`};
  return {kind: 'v2', dir};
}

/** Longer encoded names end in a hash of the whole name instead (a cgroup name is one path component). */
const CGROUP_NAME_MAX = 200;

/**
 * The cgroup directory of a vassal: its name with every byte outside `[A-Za-z0-9.-]` (the escape `_` itself
 * included), and a leading `.`, written `_xx`. The mapping is one-to-one, so two vassals never share a group
 * (issue 14: `a b.toml` and `a_b.toml` were one group, and one tenant set or removed the limits of another's vassal),
 * and `.` or `..` cannot occur. A name too long for one path component keeps a prefix and ends in a hash of the
 * whole name.
 */
export function cgroupName(vassal: string): string {
  let name = '';
  for (const byte of Buffer.from(vassal, 'utf8')) {
    const c = String.fromCharCode(byte);
    const kept = /[A-Za-z0-9-]/.test(c) || (c === '.' && name.length > 0);
    name += kept ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  if (name.length <= CGROUP_NAME_MAX) return name;
  return `${name.slice(0, CGROUP_NAME_MAX - 41)}_${createHash('sha1').update(vassal).digest('hex')}`;
}

/** The emperor's cgroups: one `kaiser-<pid>` directory per hierarchy, one group per vassal below it. */
export class Cgroups {
  readonly support: Exclude<CgroupSupport, {kind: 'none'}>;
  readonly #parents: string[];
  readonly #parentName: string;

  private constructor(support: Exclude<CgroupSupport, {kind: 'none'}>, parents: string[], parentName: string) {
    this.support = support;
    this.#parents = parents;
    this.#parentName = parentName;
  }

  /** Creates the emperor's own groups; an error says why cgroups cannot be used (then nothing was left behind). */
  static open(support: CgroupSupport, emperorPid = process.pid): Cgroups | {error: string} {
    if (support.kind === 'none') return {error: support.reason};
    const bases = support.kind === 'v1' ? [...new Set([support.memory, support.cpu, support.cpuacct])] : [support.dir];
    const parents = bases.map((base) => join(base, `kaiser-${emperorPid}`));
    const created: string[] = [];
    try {
      if (support.kind === 'v2') {
        moveIntoLeaf(support.dir);
        enableControllers(support.dir);
      }
      for (const parent of parents) {
        if (!existsSync(parent)) {
          mkdirSync(parent);
          created.push(parent);
        }
      }
      if (support.kind === 'v2') enableControllers(parents[0] ?? '');
      for (const base of bases) removeStale(base, emperorPid);
    } catch (error) {
      for (const dir of created.reverse()) tryRmdir(dir);
      return {error: (error as Error).message};
    }
    return new Cgroups(support, parents, `kaiser-${emperorPid}`);
  }

  /** Creates (or reuses) the group of `vassal` and writes its limits. Throws with the reason when it cannot. */
  create(vassal: string, limits: CgroupLimits): VassalCgroup {
    const name = cgroupName(vassal);
    const support = this.support;
    const group =
      support.kind === 'v1'
        ? new VassalCgroup('v1', {
            memory: join(support.memory, this.#parentName, name),
            cpu: join(support.cpu, this.#parentName, name),
            cpuacct: join(support.cpuacct, this.#parentName, name),
          })
        : new VassalCgroup('v2', {unified: join(this.#parents[0] ?? '', name)});
    for (const dir of group.dirs) if (!existsSync(dir)) mkdirSync(dir);
    group.setLimits(limits);
    return group;
  }

  /** Removes the emperor's own directories (after every vassal group is gone). */
  close(): void {
    for (const parent of this.#parents) tryRmdir(parent);
  }
}

/** One vassal's group, in one (v2) or up to three (v1) hierarchies. */
export class VassalCgroup {
  readonly #version: 'v1' | 'v2';
  readonly #paths: {memory?: string; cpu?: string; cpuacct?: string; unified?: string};

  constructor(version: 'v1' | 'v2', paths: {memory?: string; cpu?: string; cpuacct?: string; unified?: string}) {
    this.#version = version;
    this.#paths = paths;
  }

  /** Every directory of the group (co-mounted hierarchies count once). */
  get dirs(): string[] {
    return [...new Set(Object.values(this.#paths).filter((p): p is string => p !== undefined))];
  }

  /** The `cgroup.procs` files a process writes its pid into to join. */
  get procsFiles(): string[] {
    return this.dirs.map((dir) => join(dir, 'cgroup.procs'));
  }

  /** Where the CPU quota is written (for logs and tests). */
  get cpuQuotaFile(): string {
    return this.#version === 'v1' ? join(this.#paths.cpu ?? '', 'cpu.cfs_quota_us') : join(this.#paths.unified ?? '', 'cpu.max');
  }

  /** Writes the limits (0 = unlimited); running members are limited at once. */
  setLimits({memoryLimitBytes, cpuLimitPercent}: CgroupLimits): void {
    const quotaUs = cpuLimitPercent > 0 ? Math.max(CFS_MIN_QUOTA_US, Math.round((cpuLimitPercent / 100) * CFS_PERIOD_US)) : -1;
    if (this.#version === 'v1') {
      const memory = this.#paths.memory ?? '';
      const bytes = memoryLimitBytes > 0 ? String(memoryLimitBytes) : '-1';
      // memsw (memory + swap) must stay ≥ memory: raise it first when raising, lower memory first when lowering.
      // Setting both to the limit means "over the limit" is an OOM kill, not swapping.
      const memsw = join(memory, 'memory.memsw.limit_in_bytes');
      tryWrite(memsw, bytes);
      writeFileSync(join(memory, 'memory.limit_in_bytes'), bytes);
      tryWrite(memsw, bytes);
      const cpu = this.#paths.cpu ?? '';
      writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(quotaUs));
    } else {
      const dir = this.#paths.unified ?? '';
      writeFileSync(join(dir, 'memory.max'), memoryLimitBytes > 0 ? String(memoryLimitBytes) : 'max');
      tryWrite(join(dir, 'memory.swap.max'), memoryLimitBytes > 0 ? '0' : 'max');
      writeFileSync(join(dir, 'cpu.max'), `${quotaUs > 0 ? quotaUs : 'max'} ${CFS_PERIOD_US}`);
    }
  }

  /** Memory (v1: total_rss of memory.stat; v2: memory.current) and CPU time of the whole group. */
  usage(): {rssBytes: number; cpuSeconds: number} | undefined {
    if (this.#version === 'v1') {
      const stat = readText(join(this.#paths.memory ?? '', 'memory.stat'));
      const rss = stat === undefined ? undefined : statField(stat, 'total_rss');
      const cpuNs = Number(readText(join(this.#paths.cpuacct ?? '', 'cpuacct.usage')));
      if (rss === undefined || !Number.isFinite(cpuNs)) return undefined;
      return {rssBytes: rss, cpuSeconds: cpuNs / 1e9};
    }
    const dir = this.#paths.unified ?? '';
    const current = Number(readText(join(dir, 'memory.current')));
    const cpuStat = readText(join(dir, 'cpu.stat'));
    const usec = cpuStat === undefined ? undefined : statField(cpuStat, 'usage_usec');
    if (!Number.isFinite(current) || usec === undefined) return undefined;
    return {rssBytes: current, cpuSeconds: usec / 1e6};
  }

  /** How many processes of the group the OOM killer has killed so far (v1 memory.oom_control, v2 memory.events). */
  oomKills(): number {
    const text = this.#version === 'v1' ? readText(join(this.#paths.memory ?? '', 'memory.oom_control')) : readText(join(this.#paths.unified ?? '', 'memory.events'));
    return (text === undefined ? undefined : statField(text, 'oom_kill')) ?? 0;
  }

  /** Pids still in the group. */
  pids(): number[] {
    const text = readText(this.procsFiles[0] ?? '') ?? '';
    return text.split('\n').filter((l) => l !== '').map(Number);
  }

  /**
   * SIGKILLs whatever is still in the group (processes that left the vassal's process group) and removes the
   * directories once empty, retrying for up to 5 s while the killed processes are being reaped. True once gone.
   */
  async remove(): Promise<boolean> {
    for (let attempt = 0; attempt < 50; attempt++) {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (this.dirs.filter((dir) => !tryRmdir(dir)).length === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }
}

function statField(text: string, key: string): number | undefined {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

function tryWrite(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch {
    // optional file (no swap accounting)
  }
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** The leaf the emperor's own processes move into when its cgroup gets children (see `moveIntoLeaf`). */
export const EMPEROR_LEAF = 'emperor';

/**
 * cgroup v2's "no internal processes" rule: a group that hands controllers to its children holds no process
 * itself. Under systemd's `Delegate=yes` the emperor (with its helpers and vassals started so far) lives in the
 * unit's own group, so before enabling memory and cpu for the vassal groups, every process of that group moves into
 * a leaf `emperor/` below it (what systemd's delegation docs ask of a delegated manager). The root group is exempt
 * (it has no `cgroup.type`).
 */
export function moveIntoLeaf(dir: string): void {
  if (!existsSync(join(dir, 'cgroup.type'))) return;
  const pids = (readText(join(dir, 'cgroup.procs')) ?? '').split('\n').filter((line) => line.trim() !== '');
  if (pids.length === 0) return;
  const leaf = join(dir, EMPEROR_LEAF);
  if (!existsSync(leaf)) mkdirSync(leaf);
  for (const pid of pids) {
    try {
      writeFileSync(join(leaf, 'cgroup.procs'), pid);
    } catch (error) {
      // A process that exited meanwhile is fine; anything else leaves the group populated, which enableControllers reports.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw new Error(`cannot move pid ${pid} into ${leaf} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {cause: error});
    }
  }
}

/** v2: memory and cpu must be enabled for the children of `dir`. */
function enableControllers(dir: string): void {
  const enabled = (readText(join(dir, 'cgroup.subtree_control')) ?? '').split(/\s+/);
  const missing = ['memory', 'cpu'].filter((c) => !enabled.includes(c));
  if (missing.length === 0) return;
  try {
    writeFileSync(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  } catch (error) {
    throw new Error(`cannot enable ${missing.join(' and ')} for the children of ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)}): delegate them to the emperor's cgroup (systemd: Delegate=yes)`, {cause: error});
  }
}

/** Empty groups of emperors that died without cleaning up (`kaiser-<pid>` whose pid is gone). */
function removeStale(base: string, emperorPid: number): void {
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => /^kaiser-\d+$/.test(n) && n !== `kaiser-${emperorPid}`);
  } catch {
    return;
  }
  for (const name of names) {
    if (existsSync(`/proc/${name.slice('kaiser-'.length)}`)) continue;
    const parent = join(base, name);
    try {
      for (const child of readdirSync(parent, {withFileTypes: true})) if (child.isDirectory()) tryRmdir(join(parent, child.name));
    } catch {
      // raced with another cleanup
    }
    tryRmdir(parent);
  }
}
