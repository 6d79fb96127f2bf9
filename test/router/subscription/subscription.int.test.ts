/**
 * uWSGI's subscription protocol end to end: real uWSGI nodes (Debian uwsgi-core + python3 plugin) announce
 * themselves with --subscribe-to to the emperor's --subscription-server, the front router sends their Host to them
 * over the uwsgi protocol, spreads requests over a pool, and stops sending to a node killed with SIGKILL once it has
 * been silent for --subscription-tolerance (a listener put on its address tells).
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, rmSync} from 'node:fs';
import {createServer, type Server} from 'node:net';
import {request} from 'node:http';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, publish, startKaiser, startProcess, tempDir, waitFor} from '../../helpers/processes.js';

/** Real uWSGI with its Python 3 plugin (Debian uwsgi-core, uwsgi-plugin-python3), installed by .ci/run. */
const UWSGI = existsSync('/usr/bin/uwsgi') && existsSync('/usr/lib/uwsgi/plugins/python3_plugin.so');

const WHOAMI = join(ROOT, 'test/fixtures/apps/whoami-scheme.py');
const stale: Server[] = [];

afterEach(async () => {
  for (const server of stale.splice(0)) server.close();
  await cleanupProcesses();
});

function call(port: number, host: string, {path = '/', method = 'GET', body}: {path?: string; method?: string; body?: string} = {}): Promise<{status: number; body: string}> {
  return new Promise((resolve) => {
    const req = request({host: '127.0.0.1', port, path, method, headers: {host, ...(body === undefined ? {} : {'content-length': Buffer.byteLength(body)})}, agent: false, timeout: 3_000}, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}));
    });
    req.on('error', () => resolve({status: 0, body: ''}));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

function uwsgiNode(dir: string, name: string, port: number, subscription: string, extra: string[] = []) {
  return startProcess('uwsgi', ['--plugin', 'python3', '--socket', `127.0.0.1:${port}`, '--wsgi-file', WHOAMI, '--env', `WHOAMI=${name}`,
    '--master', '--processes', '1', '--subscribe-to', subscription, '--subscribe-freq', '1', ...extra], {cwd: dir});
}

describe('subscription server with kaiser vassals (subscribe-to in a vassal file)', () => {
  it('routes to vassals that subscribe over HTTP and over the uwsgi protocol, and forgets one whose file is removed', async () => {
    const dir = tempDir();
    const [http, udp, k1, k2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const kaiser = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${http}`, '--subscription-server', `127.0.0.1:${udp}`, '--control', join(dir, 'control.sock')]);
    await kaiser.waitForLine('uWSGI subscription server on udp', 20_000);
    publish(dir, 'k1.toml', `http-socket = "127.0.0.1:${k1}"\nwsgi-file = "${WHOAMI}"\nenv = ["WHOAMI=k1"]\nsubscribe-to = "127.0.0.1:${udp}:kv.test"\nsubscribe-freq = 1\n`);
    publish(dir, 'k2.toml', `socket = "127.0.0.1:${k2}"\nwsgi-file = "${WHOAMI}"\nenv = ["WHOAMI=k2"]\nsubscribe2 = "server=127.0.0.1:${udp},key=kv.test,weight=1"\n`);
    await kaiser.waitForLine(`kv.test => new node: 127.0.0.1:${k1}`, 30_000);
    await kaiser.waitForLine(`kv.test => new node: 127.0.0.1:${k2}`, 30_000);
    await waitFor(async () => (await call(http, 'kv.test')).body.startsWith('k2 '), 5_000, 'k2 to be routed');
    const answers = new Set<string>();
    for (let i = 0; i < 6; i += 1) answers.add((await call(http, 'kv.test', {path: '/q'})).body);
    // k1 over HTTP (the router adds X-Forwarded-Proto), k2 over the uwsgi protocol (its own url scheme)
    expect([...answers].sort()).toEqual(['k1 http /q', 'k2 http /q']);
    rmSync(join(dir, 'k1.toml'));
    await kaiser.waitForLine(`kv.test => removing node 127.0.0.1:${k1}`, 30_000);
    await waitFor(async () => (await call(http, 'kv.test')).body === 'k2 http /' && (await call(http, 'kv.test')).body === 'k2 http /', 5_000, 'k1 to leave the pool');
    for (let i = 0; i < 4; i += 1) expect((await call(http, 'kv.test')).body).toBe('k2 http /');
  });
});

(UWSGI ? describe : describe.skip)(UWSGI ? 'subscription server with real uWSGI nodes' : 'subscription server with real uWSGI nodes (skipped: apt-get install uwsgi-core uwsgi-plugin-python3)', () => {
  it('routes a subscribed key to its nodes over the uwsgi protocol, and drops a killed node after the tolerance', async () => {
    const dir = tempDir();
    const [http, udp, n1, n2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const kaiser = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${http}`, '--subscription-server', `127.0.0.1:${udp}`,
      '--subscription-tolerance', '3', '--control', join(dir, 'control.sock')]);
    await kaiser.waitForLine('uWSGI subscription server on udp', 20_000);
    await kaiser.waitForLine('HTTP router on', 20_000);
    const first = uwsgiNode(dir, 'n1', n1, `127.0.0.1:${udp}:sub.test`);
    await kaiser.waitForLine(`sub.test => new node: 127.0.0.1:${n1}`, 20_000);
    await waitFor(async () => (await call(http, 'sub.test')).status === 200, 5_000, 'n1 to be routed');
    // the uwsgi protocol carries path (decoded), query, method and body
    expect(await call(http, 'sub.test', {path: '/a%20b?x=1'})).toEqual({status: 200, body: 'n1 http /a b?x=1'});
    expect(await call(http, 'SUB.test:80', {method: 'POST', path: '/p', body: 'hello'})).toEqual({status: 200, body: 'n1 http /p 5'});
    expect((await call(http, 'other.test')).status).toBe(404);
    // a second node joins the pool: both get requests
    const second = uwsgiNode(dir, 'n2', n2, `127.0.0.1:${udp}:sub.test`);
    await kaiser.waitForLine(`sub.test => new node: 127.0.0.1:${n2}`, 20_000);
    // the emperor sends the new pool to its router processes within milliseconds
    await waitFor(async () => (await call(http, 'sub.test')).body.startsWith('n2 '), 5_000, 'n2 to be routed');
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i += 1) {
      const {body} = await call(http, 'sub.test');
      const who = body.split(' ')[0] ?? '';
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    expect(seen.get('n1')).toBe(10);
    expect(seen.get('n2')).toBe(10);
    // kill -9 the first node's whole group: no unsubscribe packet; something else takes its address
    process.kill(-first.pid, 'SIGKILL');
    await first.exited;
    let staleHits = 0;
    const listener = createServer((socket) => {
      staleHits += 1;
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nstale');
    });
    stale.push(listener);
    await waitFor(() => new Promise<boolean>((resolve) => {
      listener.once('error', () => resolve(false));
      listener.listen(n1, '127.0.0.1', () => resolve(true));
    }), 5_000, 'the dead node\'s address');
    await kaiser.waitForLine(`marking 127.0.0.1:${n1} as failed (no announce received in 3 seconds)`, 15_000);
    // the router processes get the pool without n1 within milliseconds of the emperor's sweep
    await waitFor(async () => (await call(http, 'sub.test')).body === 'n2 http /' && (await call(http, 'sub.test')).body === 'n2 http /', 5_000, 'n1 to leave the pool');
    const before = staleHits;
    for (let i = 0; i < 6; i += 1) expect(await call(http, 'sub.test')).toMatchObject({status: 200, body: 'n2 http /'});
    expect(staleHits).toBe(before);
    // a graceful stop unsubscribes at once (uWSGI sends modifier2 1)
    process.kill(second.pid, 'SIGINT');
    await kaiser.waitForLine(`sub.test => removing node 127.0.0.1:${n2}`, 15_000);
    await waitFor(async () => (await call(http, 'sub.test')).status === 404, 5_000, 'sub.test to be unknown again');
  });
});
