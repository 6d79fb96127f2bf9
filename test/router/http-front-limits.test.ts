/**
 * The HTTP front's guards: strict framing (issue 14: nothing unframed reaches a vassal), pipelining, the timeouts,
 * the connection cap, retries and passive health, weights, a backend that says more than its frame, the access log.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {createServer as createNetServer, connect, type AddressInfo, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import winston from 'winston';
import {AccessLog} from '../../src/router/access-log.js';
import {cleanups, closeRig, deadPort, fetchVia, hello, rawExchange, startRouter, startUpstream, statuses} from './rig.js';

afterEach(closeRig);

/** A backend speaking raw bytes: `answer` gets each connection's first data. */
async function rawUpstream(answer: (socket: Socket, data: string) => void): Promise<number> {
  const server = createNetServer((socket) => {
    socket.setEncoding('latin1');
    socket.once('data', (data: string) => answer(socket, data));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** Polls `condition` every 10 ms; rejects after `withinMs`. */
async function until(condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once the connection is closed by the other side; rejects after `withinMs`. */
function closedWithin(socket: Socket, withinMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`still open after ${withinMs} ms`)), withinMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

describe('HttpFront framing', () => {
  it('never forwards what a request did not frame: a smuggled request behind a _ header or an unframed GET body gets 400', async () => {
    const a = await startUpstream(hello('a'));
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const smuggled = 'GET /admin HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n';
    expect(statuses(await rawExchange(port, `POST / HTTP/1.1\r\nHost: a.test\r\nContent_Length: ${smuggled.length}\r\n\r\n${smuggled}`))).toEqual([400]);
    expect(statuses(await rawExchange(port, `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`))).toEqual([400]);
    expect(statuses(await rawExchange(port, `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`))).toEqual([400]);
    expect(statuses(await rawExchange(port, `POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`))).toEqual([400]);
    // A GET's "body" without Content-Length is the next request; here it is not one: 400, and it never reaches a.
    const unframed = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a.test\r\n\r\nnot a request line\r\n\r\n');
    expect(statuses(unframed)).toEqual([200, 400]);
    expect(a.seen.map((h) => h['x-forwarded-for'])).toEqual(['127.0.0.1']);
  });

  it('answers pipelined requests in order, and chunked bodies reach the vassal whole', async () => {
    const a = await startUpstream((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => res.end(`${req.url ?? ''}:${body}`));
    });
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const text = await rawExchange(
      port,
      'GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nGET /3 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n',
    );
    expect(statuses(text)).toEqual([200, 200, 200]);
    expect(text.indexOf('/1:')).toBeLessThan(text.indexOf('/2:abcde'));
    expect(text.indexOf('/2:abcde')).toBeLessThan(text.indexOf('/3:'));
  });

  it('gives a client only the bytes a backend framed, and never reuses a backend connection that said more', async () => {
    let connections = 0;
    const upstreamPort = await rawUpstream((socket) => {
      connections += 1;
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged');
    });
    const {port} = await startRouter([{vassal: 'evil.ini', domains: ['evil.test'], upstream: {host: '127.0.0.1', port: upstreamPort}}]);
    const text = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: evil.test\r\n\r\nGET / HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n');
    expect(text).not.toContain('forged');
    expect(statuses(text)).toEqual([200, 200]);
    expect(connections).toBe(2);
  });
});

describe('HttpFront timeouts and cap', () => {
  it('answers 408 to a client trickling its head past the headers timeout (a total deadline, not per read)', async () => {
    const {port} = await startRouter([], {headersTimeoutMs: 500});
    const socket = connect({host: '127.0.0.1', port});
    cleanups.push(() => void socket.destroy());
    const closed = closedWithin(socket, 10_000);
    socket.write('GET / HTTP/1.1\r\nHo');
    const trickle = setInterval(() => socket.writable && socket.write('x'), 100);
    cleanups.push(() => clearInterval(trickle));
    expect(statuses(await closed)).toEqual([408]);
  });

  it('closes a keep-alive connection idle past the keepalive timeout', async () => {
    const a = await startUpstream(hello('a'));
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}], {keepaliveTimeoutMs: 300});
    const socket = connect({host: '127.0.0.1', port});
    cleanups.push(() => void socket.destroy());
    const closed = closedWithin(socket, 10_000);
    socket.write('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
    expect(statuses(await closed)).toEqual([200]);
  });

  it('answers 504 when a backend says nothing within the upstream timeout', async () => {
    const silent = await rawUpstream(() => undefined);
    const {port} = await startRouter([{vassal: 'mute.ini', domains: ['mute.test'], upstream: {host: '127.0.0.1', port: silent}}], {upstreamTimeoutMs: 300});
    expect((await fetchVia(port, 'mute.test')).status).toBe(504);
  });

  it('still answers a new client when idle and half-open connections fill the cap, by closing the oldest of them', async () => {
    const a = await startUpstream(hello('a'));
    const {port, front} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}], {maxConnections: 50});
    const idle: Socket[] = [];
    for (let i = 0; i < 150; i += 1) {
      const socket = connect({host: '127.0.0.1', port});
      socket.on('error', () => undefined);
      if (i % 2 === 0) socket.write('GET / HTTP/1.1\r\nHost: a.te'); // half-open: a head that never ends
      idle.push(socket);
    }
    cleanups.push(() => idle.forEach((s) => s.destroy()));
    // Every socket connects (the kernel's backlog), then the front has accepted them all, holding 50 at most.
    await until(() => idle.every((s) => !s.connecting), 10_000);
    await until(() => front.connectionCount === 50, 10_000);
    expect(await fetchVia(port, 'a.test')).toMatchObject({status: 200, body: 'hello from a'});
  });
});

describe('HttpFront pools', () => {
  it('skips a member that refuses, retrying every request on another, and spreads by weight', async () => {
    const a = await startUpstream(hello('a'));
    const b = await startUpstream(hello('b'));
    const dead = await deadPort();
    const {port} = await startRouter([
      {vassal: 'a.ini', domains: ['p.test'], upstream: {host: '127.0.0.1', port: a.port}, weight: 3},
      {vassal: 'dead.ini', domains: ['p.test'], upstream: {host: '127.0.0.1', port: dead}},
      {vassal: 'b.ini', domains: ['p.test'], upstream: {host: '127.0.0.1', port: b.port}},
    ]);
    const bodies: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      const reply = await fetchVia(port, 'p.test', {method: i % 2 === 0 ? 'GET' : 'POST'});
      expect(reply.status).toBe(200);
      bodies.push(reply.body);
    }
    expect(bodies.filter((b) => b === 'hello from a').length).toBe(30);
    expect(bodies.filter((b) => b === 'hello from b').length).toBe(10);
  });

  it('retries an idempotent request that a backend reset, but not a POST', async () => {
    const reset = await rawUpstream((socket) => socket.resetAndDestroy());
    const b = await startUpstream(hello('b'));
    const entries = [
      {vassal: 'reset.ini', domains: ['r.test'], upstream: {host: '127.0.0.1', port: reset}},
      {vassal: 'b.ini', domains: ['r.test'], upstream: {host: '127.0.0.1', port: b.port}, weight: 1},
    ];
    const {port} = await startRouter(entries, {balance: 'round-robin'});
    expect(await fetchVia(port, 'r.test')).toMatchObject({status: 200, body: 'hello from b'});
    const second = await startRouter(entries);
    expect((await fetchVia(second.port, 'r.test', {method: 'POST'})).status).toBe(502);
  });
});

describe('AccessLog', () => {
  it('writes one combined-format line per request, with host and request time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaiser-access-'));
    cleanups.push(() => rmSync(dir, {recursive: true, force: true}));
    const file = join(dir, 'access.log');
    const log = new AccessLog(file, winston.createLogger({silent: true}));
    const a = await startUpstream(hello('a'));
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}], {}, log);
    await fetchVia(port, 'a.test', {path: '/x?y=1', headers: {'user-agent': 'ua "quoted"', referer: 'http://r.test/'}});
    await fetchVia(port, 'nope.test');
    log.flush();
    await until(() => readFileSync(file, 'utf8').trim().split('\n').length === 2, 5_000);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/x\?y=1 HTTP\/1\.1" 200 12 "http:\/\/r\.test\/" "ua \\x22quoted\\x22" a\.test \d+\.\d{3}$/);
    expect(lines[1]).toMatch(/"GET \/ HTTP\/1\.1" 404 \d+ "-" "-" nope\.test/);
  });
});
