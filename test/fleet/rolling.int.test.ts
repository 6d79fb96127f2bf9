/**
 * Rolling reloads across replicas (docs/fleet.md, "Changes and rolling reloads"), end to end: a real 3-member etcd
 * cluster and 3 emperors, a 3-replica vassal put with `kaiser fleet put`, and the rollout observed from outside
 * through `kaiser fleet ls --json` only (run in process, so a poll takes milliseconds rather than a node start-up,
 * which on a loaded machine takes seconds and would blur the timings). A fleet of its own: fleet.int.test.ts kills one of its emperors, and a
 * 3-replica vassal needs 3 (an emperor holds at most one replica of a vassal).
 */
import {execFile} from 'node:child_process';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {runFleetCommand, type FleetLsRow} from '../../src/fleet/commands.js';
import {cleanupProcesses, KAISER_BIN, startKaiser, tempDir, waitFor} from '../helpers/processes.js';
import {findEtcd, startEtcdCluster, type EtcdCluster} from './etcd-cluster.js';

const run = promisify(execFile);
const ETCD = findEtcd();
const RUN = `roll-${process.pid}-${Date.now()}`;
const PREFIX = '/kaiser-roll-test';
const NAME = 'rolling.toml';
/** The monitor's roll settle time is 3 s (less 50 ms for timer rounding); the measured gap is an upper bound. */
const MIN_GAP_MS = 2_950;


/** One `fleet ls` answer: the rows reflect etcd at some moment between `sent` and `received`. */
interface Sample {
  sent: number;
  received: number;
  rows: FleetLsRow[];
}

(ETCD ? describe : describe.skip)(ETCD ? 'fleet rolling reload' : 'fleet rolling reload (skipped: no etcd binary; apt-get install etcd-server)', () => {
  let cluster: EtcdCluster;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  async function fleet(...args: string[]): Promise<string> {
    const {stdout} = await run(process.execPath, [KAISER_BIN, 'fleet', ...args], {env, cwd: dir, timeout: 60_000});
    return stdout;
  }
  /** `kaiser fleet ARGS` in process: milliseconds, where a node start-up on a loaded machine can take seconds. */
  async function fleetInProcess(...args: string[]): Promise<string> {
    let out = '';
    let errors = '';
    const code = await runFleetCommand(args, {env, cwd: dir, stdout: {write: (t: string) => (out += t)}, stderr: {write: (t: string) => (errors += t)}});
    if (code !== 0) throw new Error(`fleet ${args.join(' ')} exited ${code}: ${errors}`);
    return out;
  }
  async function rows(): Promise<FleetLsRow[]> {
    return (JSON.parse(await fleetInProcess('ls', '--json')) as FleetLsRow[]).filter((r) => r.name === NAME).sort((x, y) => x.replica - y.replica);
  }
  /** Polls `fleet ls` every ~100 ms (back to back when a query takes longer) until `done` holds or the deadline. */
  async function observe(withinMs: number, what: string, done: (rs: FleetLsRow[], samples: Sample[]) => boolean): Promise<Sample[]> {
    const samples: Sample[] = [];
    const until = Date.now() + withinMs;
    for (;;) {
      const sent = Date.now();
      const rs = await rows();
      samples.push({sent, received: Date.now(), rows: rs});
      if (done(rs, samples)) return samples;
      if (Date.now() > until) throw new Error(`timed out after ${withinMs} ms waiting for ${what}; last: ${JSON.stringify(rs)}`);
      await new Promise((r) => setTimeout(r, Math.max(0, sent + 100 - Date.now())));
    }
  }
  /** Puts revision `version` of the 3-replica vassal; the first through the kaiser binary, the timed ones in process. */
  async function put(version: string, options: {exec?: string; cli?: boolean} = {}): Promise<number> {
    const path = join(dir, NAME);
    writeFileSync(path, `exec = ${options.exec ?? '["sleep", "1000"]'}\nenv = {FLEET_TEST_RUN = "${RUN}", VERSION = "${version}"}\n`);
    const args = ['put', path, '--replicas', '3', '--json'];
    return (JSON.parse(await (options.cli ? fleet(...args) : fleetInProcess(...args))) as {revision: number}).revision;
  }
  const allReadyOn = (revision: number) => (rs: FleetLsRow[]) => rs.length === 3 && rs.every((r) => r.state === 'ready' && r.revision === revision);

  beforeAll(async () => {
    cluster = await startEtcdCluster(ETCD!);
    dir = tempDir('kaiser-roll-');
    env = {...process.env, KAISER_ETCD: cluster.endpoints, KAISER_FLEET_PREFIX: PREFIX};
    for (const host of ['a', 'b', 'c']) {
      startKaiser(['--emperor', `etcd://${cluster.endpoints}${PREFIX}`, '--host-id', host, '--control', join(dir, `${host}.sock`)], {cwd: dir, env});
    }
    await waitFor(async () => (JSON.parse(await fleet('hosts', '--json')) as unknown[]).length === 3, 15_000, 'three emperors in fleet hosts');
  }, 60_000);

  afterAll(async () => {
    await cleanupProcesses();
  });

  it('reloads 3 replicas one at a time, each 3 s after the previous is ready, and a failure halts the rollout', async () => {
    const first = await put('v1', {cli: true});
    const initial = await observe(15_000, 'three replicas ready on the first revision', allReadyOn(first));
    expect(new Set(initial.at(-1)!.rows.map((r) => r.host)).size).toBe(3);

    // ── a good revision rolls through, one replica at a time ──
    const second = await put('v2');
    expect(second).toBeGreaterThan(first);
    const rollout = await observe(25_000, 'three replicas ready on the second revision', allReadyOn(second));
    const timeline = () => rollout.map((x) => `${x.sent - rollout[0]!.sent}..${x.received - rollout[0]!.sent} ${x.rows.map((r) => `${r.replica}:${r.state}@${r.revision}`).join(' ')}`).join('\n');
    /**
     * Per replica: `readyAfter`, the sending time of the last sample not yet showing it ready on the new revision
     * (it became ready after that); `leftBy`, the receiving time of the first sample showing it off the old revision
     * (it had begun its reload by then). So leftBy of the next minus readyAfter of the previous is at least the real
     * gap, whatever the sampling intervals are on a loaded machine, and falls short of 3 s when the rollout does not wait.
     */
    const readyAfter: (number | undefined)[] = [];
    const readyBy: (number | undefined)[] = [];
    const leftBy: (number | undefined)[] = [];
    for (const {sent, received, rows: rs} of rollout) {
      expect(rs).toHaveLength(3);
      // Never two replicas out of service at once.
      const busy = rs.filter((r) => r.state !== 'ready').map((r) => `${r.replica}:${r.state}`);
      expect(busy.length <= 1 ? [] : busy).toEqual([]);
      for (const r of rs) {
        const old = r.state === 'ready' && r.revision === first;
        if (!old && leftBy[r.replica] === undefined) leftBy[r.replica] = received;
        const onNew = r.state === 'ready' && r.revision === second;
        if (!onNew && readyBy[r.replica] === undefined) readyAfter[r.replica] = sent;
        if (onNew && readyBy[r.replica] === undefined) readyBy[r.replica] = received;
        // Never back to the old revision once on the new one.
        if (readyBy[r.replica] !== undefined) expect(r.revision).toBe(second);
      }
    }
    // Each next replica began only after the previous one had served the new revision, ready, for 3 s.
    const gaps = [1, 2].map((i) => (leftBy[i] ?? Infinity) - (readyAfter[i - 1] ?? Infinity));
    if (!gaps.every((gap) => gap >= MIN_GAP_MS)) throw new Error(`rollout gaps ${gaps.join(', ')} ms (at least ${MIN_GAP_MS} expected):\n${timeline()}`);

    // ── a broken revision: replica 0 fails on it, the others stay on the second revision and keep running ──
    const third = await put('v3', {exec: '["sh", "-c", "exit 1"]'});
    const failing = await observe(15_000, 'replica 0 failing on the broken revision', (rs) => rs[0]?.revision === third && ['backoff', 'invalid', 'reload-failed'].includes(rs[0].state));
    const failedAt = failing.at(-1)!.received;
    const held = await observe(20_000, 'eight seconds of a halted rollout', (_rs, samples) => samples.at(-1)!.sent - failedAt >= 8_000);
    for (const {rows: rs} of [...failing, ...held]) {
      expect(rs).toHaveLength(3);
      for (const r of rs.slice(1)) expect([r.replica, r.state, r.revision]).toEqual([r.replica, 'ready', second]);
    }
    expect(held.at(-1)!.rows[0]!.revision).toBe(third);
    expect(held.at(-1)!.rows[0]!.state).not.toBe('ready');
  }, 60_000);
});
