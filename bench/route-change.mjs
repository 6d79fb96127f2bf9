#!/usr/bin/env node
// route-change.mjs: how long a route change takes to reach the router processes, and whether other domains notice.
//
//   node bench/route-change.mjs            (env: ROUNDS 10, PROCESSES 2, CLIENTS 8)
//
// An emperor with --emperor-http and --emperor-http-processes PROCESSES routes other.test to a hello backend while
// CLIENTS keep-alive loops send it GETs all along. Each round drops a command vassal file declaring new.test (its
// `ready` probe points at a second hello backend that is already up), then removes it:
//   added    from the emperor's "vassal new.toml is ready" line (as this process reads it) to the first 200 for
//            new.test through the router (0 when a probe was routed before the line arrived); and the total from
//            the file's rename into the directory (watch, spawn, ready probe, route)
//   removed  from the unlink to the first 404 for new.test (the member leaves the pool as soon as the vassal starts
//            stopping; the directory watch is included, there is no earlier line to start from)
// Every probe of new.test is a new connection, one each millisecond, on every router process by SO_REUSEPORT (a
// route counts as applied when a probe gets it; a probe landing on a process that lags would show as a later time).
// Prints  figure: route_add_ms, route_add_total_ms, route_remove_ms (p50, max, every round), route_other_failed N
// Loopback only; kills only the emperor it started (its process group).
import {spawn} from 'node:child_process';
import {mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync} from 'node:fs';
import {Agent, createServer, request} from 'node:http';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const PROCESSES = process.env.PROCESSES ?? '2';
const CLIENTS = Number(process.env.CLIENTS ?? 8);

const hello = (body) =>
  new Promise((resolve) => {
    const server = createServer((_req, res) => res.writeHead(200, {'content-type': 'text/plain', 'content-length': body.length}).end(body));
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });

function get(port, host, agent) {
  return new Promise((resolve) => {
    const req = request({host: '127.0.0.1', port, path: '/', headers: {host}, agent}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve(error.code ?? error.message));
    req.end();
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const other = await hello('other');
const fresh = await hello('new');
const dir = mkdtempSync(join(tmpdir(), 'kaiser-route-change-'));
const vdir = join(dir, 'vassals');
const front = await freePort();
const commandVassal = (port, domain) => `exec = ["sleep", "100000"]\nready = "tcp://127.0.0.1:${port}"\ndomain = "${domain}"\n`;
mkdirSync(vdir);
writeFileSync(join(vdir, 'other.toml'), commandVassal(other.address().port, 'other.test'));

const emperor = spawn(process.execPath, [join(ROOT, 'bin/kaiser.js'), '--emperor', vdir, '--emperor-http', `127.0.0.1:${front}`, '--emperor-http-processes', PROCESSES, '--control', join(dir, 'c.sock')], {detached: true, stdio: ['ignore', 'pipe', 'pipe']});
const waiters = [];
let rest = '';
const onLine = (line) => {
  const now = performance.now();
  for (const w of [...waiters]) if (line.includes(w.text)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(now));
};
for (const stream of [emperor.stdout, emperor.stderr]) {
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    parts.forEach(onLine);
  });
}
const lineAt = (text) => new Promise((resolve) => waiters.push({text, resolve}));
const stop = () => {
  try {
    process.kill(-emperor.pid, 'SIGTERM');
  } catch {
    // gone
  }
};
process.on('exit', () => {
  stop();
  rmSync(dir, {recursive: true, force: true});
});

const until = async (probe, ms, what) => {
  const end = performance.now() + ms;
  for (;;) {
    const t = performance.now();
    if (await probe()) return t;
    if (t > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
};
await until(async () => (await get(front, 'other.test', false)) === 200, 30_000, 'other.test through the router');

// The other domain, under load all along.
let running = true;
let otherOk = 0;
const otherFailed = [];
const loops = Array.from({length: CLIENTS}, async () => {
  const agent = new Agent({keepAlive: true, maxSockets: 1});
  while (running) {
    const status = await get(front, 'other.test', agent);
    if (status === 200) otherOk += 1;
    else otherFailed.push(status);
  }
  agent.destroy();
});

const added = [];
const addedTotal = [];
const removed = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const ready = lineAt('vassal new.toml is ready');
  writeFileSync(join(dir, 'new.tmp'), commandVassal(fresh.address().port, 'new.test'));
  const renameAt = performance.now();
  renameSync(join(dir, 'new.tmp'), join(vdir, 'new.toml'));
  const readyAt = await ready;
  const routedAt = await until(async () => (await get(front, 'new.test', false)) === 200, 10_000, 'new.test routed');
  // Below 0: a probe was routed before this process read the emperor's line (the table went out first).
  added.push(Math.max(0, routedAt - readyAt));
  addedTotal.push(routedAt - renameAt);
  const gone = lineAt('removed uwsgi instance new.toml');
  const unlinkAt = performance.now();
  unlinkSync(join(vdir, 'new.toml'));
  const goneAt = await until(async () => (await get(front, 'new.test', false)) === 404, 10_000, 'new.test unrouted');
  removed.push(goneAt - unlinkAt);
  await gone;
}
running = false;
await Promise.all(loops);
const fmt = (xs) => `p50 ${median(xs).toFixed(1)} max ${Math.max(...xs).toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(' ')})`;
console.log(`# route-change.mjs rounds=${ROUNDS} processes=${PROCESSES} clients=${CLIENTS} load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`figure: route_add_ms ${fmt(added)}   (vassal ready line -> first 200 through the router)`);
console.log(`figure: route_add_total_ms ${fmt(addedTotal)}   (file renamed in -> first 200: watch, spawn, ready probe, route)`);
console.log(`figure: route_remove_ms ${fmt(removed)}   (unlink of the file -> first 404, directory watch included)`);
console.log(`figure: route_other_ok ${otherOk}`);
console.log(`figure: route_other_failed ${otherFailed.length}${otherFailed.length ? ` (${[...new Set(otherFailed)].join(', ')})` : ''}`);
other.close();
fresh.close();
process.exit(otherFailed.length === 0 ? 0 : 1);
