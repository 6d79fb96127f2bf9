/**
 * The ASGI worker against the protocol, with a plain ASGI app (test/fixtures/asgi/conformance.py) under the
 * Python master: HTTP (keep-alive, pipelining, bodies streamed both ways, HEAD, 400/431/413, disconnects, a slow
 * stream beside other requests on one worker, server-sent events), websockets (echo, subprotocols, close codes,
 * ping/pong, refusal, size limit) and lifespan (startup before the first request, failure = failed load, shutdown
 * on a graceful stop, a reload whose startup fails rolls back).
 */
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {request as httpRequest} from 'node:http';
import {connect} from 'node:net';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, describe, expect, test} from '@jest/globals';
import {cleanup, get, Master, raw, startMaster, tempDir, until} from '../helpers/master.js';
import {runtimeConfig} from '../helpers/runtime-config.js';
import {OP, Refused, WsClient} from './ws-client.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/asgi');

afterAll(cleanup);

function marksDir(): string {
  const d = join(tempDir(), 'marks');
  mkdirSync(d);
  return d;
}

async function asgi(extra: Record<string, unknown> = {}, marks = marksDir()): Promise<{m: Master; port: number; marks: string}> {
  const {m, port} = await startMaster({asgi: 'conformance:app', chdir: FIXTURES, env: {MARKS: marks}, ...extra});
  return {m, port, marks};
}

const HAS_UVLOOP = spawnSync('/usr/bin/python3', ['-c', 'import uvloop']).status === 0;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

const marked = (dir: string, prefix: string) => readdirSync(dir).filter((f) => f.startsWith(prefix));

/** The master's child processes (its workers here), from /proc: every thread's children list. */
function childPids(pid: number): Set<string> {
  const pids = new Set<string>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) if (child.trim()) pids.add(child.trim());
  }
  return pids;
}

describe('ASGI http', () => {
  test('a JSON response with its length, then a second request on the same keep-alive connection', async () => {
    const {port} = await asgi();
    const reply = (await raw(port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /state HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).toString();
    const [first, second] = reply.split(/(?=HTTP\/1\.1 200)/);
    expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first).toMatch(/content-length: \d+\r\n/);
    expect(first).toMatch(/\r\ndate: /);
    expect(JSON.parse(first!.split('\r\n\r\n')[1]!)).toMatchObject({hello: 'asgi', started: true});
    expect(second).toContain('connection: close');
    expect(JSON.parse(second!.split('\r\n\r\n')[1]!)).toEqual({greeting: 'hello from lifespan'});
  });

  test('pipelined requests are answered in order', async () => {
    const {port} = await asgi();
    const reqs = ['/stream?n=2&ms=30', '/', '/headers'].map((p, i, a) => `GET ${p} HTTP/1.1\r\nHost: t\r\n${i === a.length - 1 ? 'Connection: close\r\n' : ''}\r\n`);
    const reply = (await raw(port, reqs.join(''))).toString();
    expect(reply.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(reply.indexOf('chunk 1')).toBeLessThan(reply.indexOf('"hello"'));
    expect(reply.indexOf('"hello"')).toBeLessThan(reply.indexOf('[["host"'));
  });

  test('a 1 MB body echoed, and a chunked upload streamed back as it arrives', async () => {
    const {port} = await asgi();
    const blob = Buffer.alloc(1 << 20, 'k');
    const echoed = await get(port, '/echo', {method: 'POST', body: blob});
    expect(echoed.status).toBe(200);
    expect(echoed.body.equals(blob)).toBe(true);
    const chunks = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const req = httpRequest({host: '127.0.0.1', port, path: '/echo-stream', method: 'POST', headers: {'transfer-encoding': 'chunked'}}, (res) => {
        expect(res.headers['transfer-encoding']).toBe('chunked');
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          got.push(c);
          if (got.length === 1) req.end('second');   // the first part came back before the upload ended
        });
        res.on('end', () => resolve(got));
      });
      req.on('error', reject);
      req.write('first');
    });
    expect(chunks.join('')).toBe('firstsecond');
  });

  test('HEAD has no body; malformed, oversized and over-limit requests get 400, 431 and 413', async () => {
    const {port} = await asgi({'limit-post': 1000});
    const head = (await raw(port, 'HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).toString();
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
    expect((await raw(port, 'GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')).toString()).toMatch(/^HTTP\/1\.1 400 /);
    expect((await raw(port, `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`)).toString()).toMatch(/^HTTP\/1\.1 431 /);
    expect((await get(port, '/echo', {method: 'POST', body: Buffer.alloc(2000)})).status).toBe(413);
    expect((await get(port, '/echo', {method: 'POST', body: Buffer.alloc(900)})).status).toBe(200);
  });

  test('an exception in the app is a 500, counted, and the worker keeps serving', async () => {
    const {m, port} = await asgi();
    expect((await get(port, '/raise')).status).toBe(500);
    await m.waitFor(/RuntimeError: raised on purpose/);
    expect((await get(port, '/')).status).toBe(200);
  });

  test('the app sees http.disconnect when the client goes away mid-response', async () => {
    const {port, marks} = await asgi();
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.on('data', (c: Buffer) => {
        if (c.toString().includes('waiting')) s.destroy();
      });
      s.on('close', () => resolve());
      s.on('error', reject);
      s.write('GET /disconnect HTTP/1.1\r\nHost: t\r\n\r\n');
    });
    await until(() => existsSync(join(marks, 'disconnect')), 10000, 'the app saw http.disconnect');
  });

  test('a slow streaming response does not hold up other requests on the same worker', async () => {
    const {port} = await asgi({processes: 1});
    const events: string[] = [];
    const slow = new Promise<void>((resolve, reject) => {
      const req = httpRequest({host: '127.0.0.1', port, path: '/stream?n=20&ms=100', agent: false}, (res) => {
        res.once('data', () => events.push('slow started'));
        res.on('data', () => undefined);
        res.on('end', () => {
          events.push('slow ended');
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
    await until(() => events.includes('slow started'), 10000, 'the slow stream to start');
    for (let i = 0; i < 5; i++) {
      expect((await get(port, '/')).status).toBe(200);
      events.push(`fast ${i}`);
    }
    await slow;
    expect(events.indexOf('fast 4')).toBeLessThan(events.indexOf('slow ended'));
  });

  test('server-sent events arrive as a stream of events', async () => {
    const {port} = await asgi();
    const res = await fetch(`http://127.0.0.1:${port}/sse`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe('data: event 0\n\ndata: event 1\n\ndata: event 2\n\n');
  });
});

describe('ASGI sockets, deadlines and loops', () => {
  test('the uwsgi protocol (nginx uwsgi_pass): a request packet with a body, one response, then close', async () => {
    const {m} = await asgi({'http-socket': [], socket: ['127.0.0.1:0']});
    const port = Number((await m.waitFor(/socket 0 bound to TCP address [^ ]+:(\d+)/))[1]);
    const vars: Record<string, string> = {REQUEST_METHOD: 'POST', REQUEST_URI: '/echo', PATH_INFO: '/echo', QUERY_STRING: '',
      SERVER_PROTOCOL: 'HTTP/1.1', SERVER_NAME: 'localhost', SERVER_PORT: '80', REMOTE_ADDR: '127.0.0.1', CONTENT_LENGTH: '5', HTTP_HOST: 'x'};
    const parts = Object.entries(vars).flatMap(([k, v]) => [u16(k.length), Buffer.from(k), u16(v.length), Buffer.from(v)]);
    const body = Buffer.concat(parts);
    const packet = Buffer.concat([Buffer.from([0]), u16(body.length), Buffer.from([0]), body, Buffer.from('hello')]);
    const reply = (await raw(port, packet)).toString();
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply.endsWith('\r\n\r\nhello')).toBe(true);
  });

  test('a request head trickled in past socket-timeout (total, not per read) is dropped', async () => {
    const {m, port} = await asgi({'socket-timeout': 1});
    const closed = await new Promise<{afterBytes: number}>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let sent = 0;
      const timer = setInterval(() => {
        if (s.destroyed) return;
        s.write('a');   // a byte every 200 ms: never idle for a second
        sent += 1;
      }, 200);
      s.write('GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ');
      s.on('close', () => {
        clearInterval(timer);
        resolve({afterBytes: sent});
      });
      s.on('error', reject);
    });
    expect(closed.afterBytes).toBeGreaterThan(0);
    await m.waitFor(/request head not complete within 1 s/);
    expect((await get(port, '/')).status).toBe(200);
  });

  test(`asgi-loop = uvloop ${HAS_UVLOOP ? 'runs on uvloop' : 'fails to load naming python3-uvloop (not installed here)'}`, async () => {
    if (HAS_UVLOOP) {
      const {m, port} = await asgi({'asgi-loop': 'uvloop'});
      await m.waitFor(/loop uvloop/);
      expect((await get(port, '/')).status).toBe(200);
    } else {
      const m = new Master(runtimeConfig({'http-socket': ['127.0.0.1:0'], asgi: 'conformance:app', chdir: FIXTURES, 'asgi-loop': 'uvloop', env: {MARKS: marksDir()}}));
      expect(await m.exited).toBe(22);
      expect(m.lines.join('\n')).toContain('python3-uvloop');
    }
  });
});

describe('ASGI websocket', () => {
  test('text and binary echo, the subprotocol, ping/pong, and a client close', async () => {
    const {port, marks} = await asgi();
    const ws = await WsClient.connect(port, '/ws', {protocols: ['superchat', 'chat']});
    expect(ws.headers['sec-websocket-protocol']).toBe('chat');
    for (let i = 0; i < 3; i++) {
      ws.sendText(`message ${i}`);
      expect((await ws.next()).payload.toString()).toBe(`echo:message ${i}`);
    }
    ws.send(OP.binary, Buffer.from([0, 1, 255]));
    expect(await ws.next()).toEqual({opcode: OP.binary, payload: Buffer.from([0, 1, 255])});
    ws.send(OP.ping, 'p1');
    expect(await ws.next()).toEqual({opcode: OP.pong, payload: Buffer.from('p1')});
    const big = 'x'.repeat(200_000);
    ws.sendText(big);
    expect((await ws.next()).payload.length).toBe(big.length + 5);
    ws.close(1001);
    const closing = await ws.next();
    expect(closing.opcode).toBe(OP.close);
    expect(closing.payload.readUInt16BE(0)).toBe(1001);
    await ws.ended();
    await until(() => marked(marks, 'ws-disconnect-1001').length === 1, 10000, 'the app saw the close code');
  });

  test('the app closes with its code; a refused upgrade is 403; a message over websockets-max-size is 1009', async () => {
    const {port} = await asgi({'websockets-max-size': 64});
    const ws = await WsClient.connect(port, '/ws');
    ws.sendText('close:4002');
    const frame = await ws.next();
    expect([frame.opcode, frame.payload.readUInt16BE(0), frame.payload.subarray(2).toString()]).toEqual([OP.close, 4002, 'asked']);
    ws.destroy();
    await expect(WsClient.connect(port, '/ws-reject')).rejects.toMatchObject({status: 403});
    const big = await WsClient.connect(port, '/ws');
    big.sendText('y'.repeat(70 * 1024));
    const refused = await big.next();
    expect([refused.opcode, refused.payload.readUInt16BE(0)]).toEqual([OP.close, 1009]);
    big.destroy();
    expect(Refused).toBeDefined();
  });
});

describe('ASGI lifespan', () => {
  test('startup runs before the worker accepts; a graceful stop runs shutdown and exits 0', async () => {
    const marks = marksDir();
    const m = new Master(runtimeConfig({'http-socket': ['127.0.0.1:0'], asgi: 'conformance:app', chdir: FIXTURES, env: {MARKS: marks}, processes: 2}));
    const port = await m.port(0);
    await m.ready();
    const started = marked(marks, 'start-');
    expect(started).toHaveLength(2);
    expect(JSON.parse((await get(port, '/')).body.toString())).toMatchObject({started: true});
    m.signal('SIGTERM');
    expect(await m.exited).toBe(0);
    expect(marked(marks, 'stop-').sort()).toEqual(started.map((f) => f.replace('start-', 'stop-')).sort());
  });

  test('a failed startup is a failed load: exit 22 with the app message', async () => {
    const marks = marksDir();
    writeFileSync(join(marks, 'fail-startup'), '');
    const m = new Master(runtimeConfig({'http-socket': ['127.0.0.1:0'], asgi: 'conformance:app', chdir: FIXTURES, env: {MARKS: marks}}));
    expect(await m.exited).toBe(22);
    expect(m.lines.join('\n')).toContain('startup refused: fail-startup exists');
    expect(m.lines.join('\n')).toContain('GAME OVER');
  });

  test.each(['chain', 'all'])('a reload (%s) whose startup fails rolls back: the old workers keep serving', async (mode) => {
    const {m, port, marks} = await asgi({processes: 2, 'reload-mode': mode});
    // The old workers, from the process table: sampling them by requests can miss one (the kernel may hand every
    // connection to the same worker), and the test then took the other old worker for a new one.
    const before = await until(() => {
      const pids = childPids(m.pid);
      return pids.size === 2 && pids;
    }, 10000, 'two workers');
    writeFileSync(join(marks, 'fail-startup'), '');
    const from = m.lines.length;
    m.signal('SIGHUP');
    await m.waitFor(/reload failed, the old workers keep serving/, 15000, from);
    expect(m.lines.slice(from).join('\n')).toContain('startup refused');
    for (let i = 0; i < 6; i++) expect(before.has(String(JSON.parse((await get(port, '/')).body.toString()).pid))).toBe(true);
    rmSync(join(marks, 'fail-startup'));
    m.signal('SIGHUP');
    await m.waitFor(/graceful reload done/, 15000, from);
    await until(async () => !before.has(String(JSON.parse((await get(port, '/')).body.toString()).pid)), 10000, 'a new worker');
  });
});
