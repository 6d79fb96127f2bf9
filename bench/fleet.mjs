#!/usr/bin/env node
// Fleet mode benchmark: a real 3-member etcd cluster and 3 emperors (node bin/kaiser.js) on this machine.
// Figures: placement of VASSALS vassals over 3 emperors, config propagation (etcd write -> emperor applies it) p50/p99,
// failover after SIGKILL of an emperor (dead-man switch) and after the loss of an emperor with its helper (lease TTL),
// and restarts during a QUORUM_S quorum loss (2 of 3 members stopped). Prints `figure:` lines; the raw output is also
// saved in bench/results/fleet.<stamp>.txt.
//   node bench/fleet.mjs            (env: VASSALS=300 CHANGES=200 QUORUM_S=30)
import {execFile, spawn} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {promisify} from 'node:util';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const KAISER = join(ROOT, 'bin/kaiser.js');
const VASSALS = Number(process.env.VASSALS ?? 300);
const CHANGES = Number(process.env.CHANGES ?? 200);
const QUORUM_S = Number(process.env.QUORUM_S ?? 30);
const RUN = `bench-${process.pid}`;
const PREFIX = '/kaiser-bench';
const out = [];
const log = (line) => {
  out.push(line);
  process.stdout.write(`${line}\n`);
};
const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => res(port));
    });
  });
}
async function waitUntil(probe, withinMs, what, everyMs = 20) {
  const until = Date.now() + withinMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
function start(file, args, opts = {}) {
  const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe'], ...opts});
  const rec = {child, lines: [], listeners: []};
  let rest = '';
  const onData = (chunk) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    for (const line of parts) {
      rec.lines.push(line);
      for (const l of rec.listeners) l(line, Date.now());
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  children.push(child);
  return rec;
}
/** vassal name -> [pid] of this run's marker processes. */
function scan() {
  const found = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, 'latin1').startsWith('sleep\0')) continue;
      const env = readFileSync(`/proc/${e}/environ`, 'latin1');
      if (!env.includes(`FLEET_BENCH=${RUN}`)) continue;
      const name = /KAISER_VASSAL=([^\0]*)/.exec(env)?.[1] ?? '?';
      if (!found.has(name)) found.set(name, []);
      found.get(name).push(Number(e));
    } catch {
      // gone
    }
  }
  return found;
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const dir = mkdtempSync(join(tmpdir(), 'kaiser-fleet-bench-'));
try {
  const etcd = (await run('sh', ['-c', 'command -v etcd']).catch(() => ({stdout: ''}))).stdout.trim();
  if (!etcd) throw new Error('etcd not installed (apt-get install -y etcd-server)');
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({c: await freePort(), p: await freePort()});
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.p}`).join(',');
  const members = ports.map((p, i) =>
    start(etcd, ['--name', `m${i}`, '--data-dir', join(dir, `m${i}`), '--listen-client-urls', `http://127.0.0.1:${p.c}`, '--advertise-client-urls', `http://127.0.0.1:${p.c}`,
      '--listen-peer-urls', `http://127.0.0.1:${p.p}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.p}`, '--initial-cluster', initial,
      '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench', '--heartbeat-interval', '100', '--election-timeout', '1000', '--log-level', 'warn']),
  );
  const endpoints = ports.map((p) => `127.0.0.1:${p.c}`).join(',');
  await waitUntil(async () => (await Promise.all(ports.map((p) => fetch(`http://127.0.0.1:${p.c}/health`).then((r) => r.text()).catch(() => '')))).every((t) => t.includes('true')), 20_000, 'etcd healthy', 200);
  log(`# etcd ${(await run(etcd, ['--version'])).stdout.split('\n')[0]}, 3 members; node ${process.version}; ${VASSALS} vassals`);
  const env = {...process.env, KAISER_ETCD: endpoints, KAISER_FLEET_PREFIX: PREFIX};
  const emperors = new Map();
  for (const h of ['a', 'b', 'c']) {
    emperors.set(h, start(process.execPath, [KAISER, '--emperor', `etcd://${endpoints}${PREFIX}`, '--host-id', h, '--control', join(dir, `${h}.sock`), '--emperor-accounting-freq', '0'], {cwd: dir, env}));
  }
  const fleetJson = async (...args) => JSON.parse((await run(process.execPath, [KAISER, 'fleet', ...args, '--json'], {env, cwd: dir, maxBuffer: 1 << 24})).stdout);
  await waitUntil(async () => (await fleetJson('hosts')).length === 3, 15_000, '3 emperors', 200);

  // ── placement ──
  const {EtcdStore} = await import(join(ROOT, 'dist/fleet/store.js'));
  const {FleetKeys} = await import(join(ROOT, 'dist/fleet/fleet-keys.js'));
  const {storeRevision} = await import(join(ROOT, 'dist/fleet/commands.js'));
  const store = new EtcdStore(endpoints.split(',').map((e) => `http://${e}`));
  const keys = new FleetKeys(PREFIX);
  const names = Array.from({length: VASSALS}, (_, i) => `v${String(i).padStart(4, '0')}.toml`);
  const text = (name, rev) => `exec = ["sleep", "1000"]\nenv = {FLEET_BENCH = "${RUN}", REV = "${rev}"}\n`;
  const placement = {replicas: 1, hosts: [], tags: [], singleton: false};
  const t0 = Date.now();
  for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => storeRevision(store, keys, n, text(n, 0), placement, 'put')));
  const putMs = Date.now() - t0;
  await waitUntil(() => scan().size === VASSALS, 120_000, `${VASSALS} vassal processes`, 100);
  const runningMs = Date.now() - t0;
  const rows = await waitUntil(async () => {
    const r = await fleetJson('ls');
    return r.length === VASSALS && r.every((x) => x.state === 'ready') ? r : undefined;
  }, 120_000, 'all ready', 250);
  const readyMs = Date.now() - t0;
  const spread = {};
  for (const r of rows) spread[r.host] = (spread[r.host] ?? 0) + 1;
  log(`figure: fleet_place_${VASSALS} running ${runningMs} ms, ready ${readyMs} ms (puts ${putMs} ms); spread ${JSON.stringify(spread)}`);

  // ── propagation: etcd write -> the emperor running it logs that it applied the revision ──
  const hostOf = new Map(rows.map((r) => [r.name, r.host]));
  const latencies = [];
  for (let i = 0; i < CHANGES; i++) {
    const name = names[i % names.length];
    const emperor = emperors.get(hostOf.get(name));
    const seen = new Promise((res) => {
      const l = (line, at) => {
        if (line.includes(`fleet:${name} now at revision`)) {
          emperor.listeners.splice(emperor.listeners.indexOf(l), 1);
          res(at);
        }
      };
      emperor.listeners.push(l);
    });
    const wall = Date.now();
    await storeRevision(store, keys, name, text(name, i + 1), placement, 'put');
    const at = await Promise.race([seen, sleep(5_000).then(() => undefined)]);
    if (at === undefined) throw new Error(`change of ${name} not applied within 5 s`);
    latencies.push(at - wall);
    await sleep(20);
  }
  latencies.sort((a, b) => a - b);
  log(`figure: fleet_propagation p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms (${CHANGES} changes, etcd txn included)`);
  // Let the reloads settle before failover.
  await waitUntil(async () => (await fleetJson('ls')).every((x) => x.state === 'ready'), 60_000, 'ready after changes', 250);

  // ── failover ──
  async function failover(victim, withHelper) {
    const before = scan();
    const rec = emperors.get(victim);
    const lsRows = await fleetJson('ls');
    const theirs = lsRows.filter((r) => r.host === victim).map((r) => r.name);
    let most = 0;
    if (!withHelper) {
      // Machine loss: the dead-man switch dies too, so only the lease TTL tells the others.
      const {stdout} = await run('ps', ['-o', 'pid=,args=', '--ppid', String(rec.child.pid)]);
      for (const line of stdout.split('\n')) if (line.includes('python') && line.includes('/v3/lease/revoke')) process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
    }
    const t = Date.now();
    rec.child.kill('SIGKILL');
    await waitUntil(() => {
      const now = scan();
      for (const v of now.values()) most = Math.max(most, v.length);
      return theirs.every((n) => (now.get(n)?.length ?? 0) === 1 && now.get(n)[0] !== before.get(n)?.[0]);
    }, 30_000, 'failover', 10);
    const ms = Date.now() - t;
    emperors.delete(victim);
    return {ms, moved: theirs.length, most};
  }
  const f1 = await failover('c', true);
  log(`figure: fleet_failover_process_death ${f1.ms} ms for ${f1.moved} vassals (dead-man switch), max copies seen ${f1.most}`);
  // Restart c so the next failover has somewhere to go.
  emperors.set('c', start(process.execPath, [KAISER, '--emperor', `etcd://${endpoints}${PREFIX}`, '--host-id', 'c', '--control', join(dir, 'c2.sock'), '--emperor-accounting-freq', '0'], {cwd: dir, env}));
  await waitUntil(async () => (await fleetJson('hosts')).length === 3, 15_000, 'c back', 200);
  await waitUntil(async () => (await fleetJson('ls')).every((x) => x.state === 'ready'), 60_000, 'ready after c joined', 250);
  const f2 = await failover('b', false);
  log(`figure: fleet_failover_machine_loss ${f2.ms} ms for ${f2.moved} vassals (lease TTL 3 s), max copies seen ${f2.most}`);
  await waitUntil(async () => (await fleetJson('ls')).every((x) => x.state === 'ready'), 60_000, 'ready after failover', 250);

  // ── quorum loss ──
  const pids = () => new Map([...scan()].map(([n, p]) => [n, p.join(',')]));
  const before = pids();
  members[0].child.kill('SIGSTOP');
  members[1].child.kill('SIGSTOP');
  let changed = 0;
  const until = Date.now() + QUORUM_S * 1000;
  while (Date.now() < until) {
    const now = pids();
    for (const [n, p] of before) if (now.get(n) !== p) changed++;
    if (changed) break;
    await sleep(200);
  }
  members[0].child.kill('SIGCONT');
  members[1].child.kill('SIGCONT');
  const recovered = Date.now();
  await waitUntil(async () => (await fleetJson('ls').catch(() => [])).length === VASSALS, 30_000, 'fleet ls after quorum', 250);
  const recoverMs = Date.now() - recovered;
  await sleep(8_000); // observe the recovery grace (2 TTLs) too
  const after = pids();
  let restarted = 0;
  for (const [n, p] of before) if (after.get(n) !== p) restarted++;
  log(`figure: fleet_quorum_loss_${QUORUM_S}s restarts ${restarted + changed} of ${VASSALS} (during ${changed}, after ${restarted}); fleet ls answers ${recoverMs} ms after quorum returns`);
  store.close();
} catch (error) {
  log(`bench failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  for (const c of children) {
    try {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  await sleep(500);
  rmSync(dir, {recursive: true, force: true});
  mkdirSync(join(ROOT, 'bench/results'), {recursive: true});
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  writeFileSync(join(ROOT, `bench/results/fleet.${stamp}.txt`), `${out.join('\n')}\n`);
}
