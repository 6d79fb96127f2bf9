/**
 * Fleet mode end to end: a real 3-member etcd cluster and 3 emperors (node bin/kaiser.js) on this machine, vassals
 * put with `kaiser fleet put`. Every vassal process carries a marker in its environment, so "runs exactly once" is
 * checked on the process table itself, not only on the claims. The tests share one fleet and run in order.
 */
import {execFile} from 'node:child_process';
import {readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {cleanupProcesses, KAISER_BIN, startKaiser, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {findEtcd, startEtcdCluster, type EtcdCluster} from './etcd-cluster.js';
import type {FleetLsRow} from '../../src/fleet/commands.js';

const run = promisify(execFile);
const ETCD = findEtcd();
const RUN = `run-${process.pid}-${Date.now()}`;
const PREFIX = '/kaiser-test';


/** Marker processes of this run: vassal file name → [{pid, rev}]. */
function scanVassalProcesses(): Map<string, {pid: number; rev: string}[]> {
  const found = new Map<string, {pid: number; rev: string}[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'latin1').startsWith('sleep\0')) continue;
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    const vars = new Map(environ.split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
    if (vars.get('FLEET_TEST_RUN') !== RUN) continue;
    const name = vars.get('KAISER_VASSAL') ?? '?';
    if (!found.has(name)) found.set(name, []);
    found.get(name)!.push({pid: Number(entry), rev: vars.get('FLEET_TEST_REV') ?? ''});
  }
  return found;
}

(ETCD ? describe : describe.skip)(ETCD ? 'fleet mode' : 'fleet mode (skipped: no etcd binary; apt-get install etcd-server)', () => {
  let cluster: EtcdCluster;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const emperors = new Map<string, Started>();
  const names = Array.from({length: 30}, (_, i) => `app${String(i).padStart(2, '0')}.toml`);

  async function fleet(...args: string[]): Promise<string> {
    const {stdout} = await run(process.execPath, [KAISER_BIN, 'fleet', ...args], {env, cwd: dir, timeout: 60_000});
    return stdout;
  }
  async function fleetRows(): Promise<FleetLsRow[]> {
    return JSON.parse(await fleet('ls', '--json')) as FleetLsRow[];
  }
  function vassalFile(name: string, rev = '1'): string {
    const path = join(dir, name);
    writeFileSync(path, `exec = ["sleep", "1000"]\nenv = {FLEET_TEST_RUN = "${RUN}", FLEET_TEST_REV = "${rev}"}\n`);
    return path;
  }

  beforeAll(async () => {
    cluster = await startEtcdCluster(ETCD!);
    dir = tempDir('kaiser-fleet-');
    env = {...process.env, KAISER_ETCD: cluster.endpoints, KAISER_FLEET_PREFIX: PREFIX};
    for (const host of ['a', 'b', 'c']) {
      emperors.set(host, startKaiser(['--emperor', `etcd://${cluster.endpoints}${PREFIX}`, '--host-id', host, '--control', join(dir, `${host}.sock`)], {cwd: dir, env}));
    }
    await waitFor(async () => (JSON.parse(await fleet('hosts', '--json')) as unknown[]).length === 3, 15_000, 'three emperors in fleet hosts');
  }, 60_000);

  afterAll(async () => {
    for (const member of cluster?.members.keys() ?? []) cluster.resume(member);
    await cleanupProcesses();
  });

  it('spreads 30 vassals evenly over 3 emperors, each running exactly once', async () => {
    for (let i = 0; i < names.length; i += 10) await Promise.all(names.slice(i, i + 10).map((name) => fleet('put', vassalFile(name))));
    const rows = await waitFor(async () => {
      const r = await fleetRows();
      return r.length === 30 && r.every((row) => row.state === 'ready') ? r : undefined;
    }, 30_000, '30 ready replicas in fleet ls');
    const perHost = new Map<string, number>();
    for (const row of rows) perHost.set(row.host, (perHost.get(row.host) ?? 0) + 1);
    expect([...perHost.keys()].sort()).toEqual(['a', 'b', 'c']);
    // The cap is ceil(30 / 3) + 1 = 11 per emperor, so the least loaded has at least 8.
    for (const count of perHost.values()) expect(count).toBeGreaterThanOrEqual(8);
    for (const count of perHost.values()) expect(count).toBeLessThanOrEqual(11);
    const processes = scanVassalProcesses();
    expect([...processes.keys()].sort()).toEqual(names);
    for (const name of names) expect(processes.get(name)).toHaveLength(1);
  }, 180_000);

  it('moves the vassals of a SIGKILLed emperor elsewhere and never runs one twice', async () => {
    const rows = await fleetRows();
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(row.host, (counts.get(row.host) ?? 0) + 1);
    const victim = [...counts].sort((x, y) => y[1] - x[1])[0]![0];
    let mostCopies = 0;
    const sampler = setInterval(() => {
      for (const copies of scanVassalProcesses().values()) mostCopies = Math.max(mostCopies, copies.length);
    }, 20);
    try {
      emperors.get(victim)!.signal('SIGKILL');
      await emperors.get(victim)!.exited;
      // Lease TTL 3 s, then a claim and a spawn. The 5 s target is a figure of bench/fleet.mjs (fleet_failover_*):
      // here only that every vassal runs again, and never twice, with room for a loaded machine.
      await waitFor(() => {
        const processes = scanVassalProcesses();
        return names.every((name) => processes.get(name)?.length === 1);
      }, 30_000, 'every vassal running again');
      const after = await waitFor(async () => {
        const r = await fleetRows();
        return r.length === 30 && r.every((row) => row.state === 'ready' && row.host !== victim) ? r : undefined;
      }, 10_000, 'every replica ready on a surviving emperor');
      expect(new Set(after.map((row) => row.host)).has(victim)).toBe(false);
    } finally {
      clearInterval(sampler);
    }
    expect(mostCopies).toBe(1);
    emperors.delete(victim);
  }, 60_000);

  it('restarts nothing while 2 of 3 etcd members are stopped, and reconciles after', async () => {
    const pidsOf = () => new Map([...scanVassalProcesses()].map(([name, copies]) => [name, copies.map((c) => c.pid).join(',')]));
    const before = pidsOf();
    expect(before.size).toBe(30);
    cluster.pause(0);
    cluster.pause(1);
    // A representative quorum loss (the 30 s one is in bench/fleet.mjs): the process table is sampled throughout.
    const changes: string[] = [];
    try {
      await expect(
        waitFor(() => {
          const now = pidsOf();
          for (const [name, pids] of before) if (now.get(name) !== pids) changes.push(`${name}: ${pids} -> ${now.get(name) ?? 'none'}`);
          return changes.length > 0;
        }, 10_000, 'a vassal process to change'),
      ).rejects.toThrow(/timed out/);
    } finally {
      cluster.resume(0);
      cluster.resume(1);
    }
    expect(changes).toEqual([]);
    await waitFor(async () => {
      const r = await fleetRows().catch(() => []);
      return r.length === 30 && r.every((row) => row.state === 'ready');
    }, 20_000, 'fleet ls answering with every replica ready');
    expect(pidsOf()).toEqual(before);
    for (const emperor of emperors.values()) expect(emperor.child.exitCode).toBeNull();
  }, 60_000);

  it('rolls a vassal back to a previous revision with fleet rollback', async () => {
    const name = 'rollme.toml';
    await fleet('put', vassalFile(name, 'one'));
    await waitFor(() => scanVassalProcesses().get(name)?.some((c) => c.rev === 'one'), 10_000, 'revision one running');
    await fleet('put', vassalFile(name, 'two'));
    await waitFor(() => {
      const copies = scanVassalProcesses().get(name);
      return copies?.length === 1 && copies[0]!.rev === 'two';
    }, 10_000, 'revision two running alone');
    expect(await fleet('rollback', name)).toContain('the text of revision 1');
    await waitFor(() => {
      const copies = scanVassalProcesses().get(name);
      return copies?.length === 1 && copies[0]!.rev === 'one';
    }, 10_000, 'revision one running again, alone');
    const history = JSON.parse(await fleet('history', name, '--json')) as {revision: number; cause: string; current: boolean}[];
    expect(history.map((h) => [h.revision, h.cause, h.current])).toEqual([
      [1, 'put', false],
      [2, 'put', false],
      [3, 'rollback to 1', true],
    ]);
  }, 60_000);
});
