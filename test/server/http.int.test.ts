/**
 * The Python app server on the wire: HTTP/1.x and uwsgi protocol details, PEP 3333 behaviour.
 * Starts src/server/python/start_master.py directly with a KAISER_CONFIG built from the option table.
 */
import {createHash} from 'node:crypto';
import {connect} from 'node:net';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, test} from '@jest/globals';
import {APPS, cleanup, get, raw, startMaster, type Master} from './helpers/master.js';

afterAll(cleanup);

describe('quickstart (hello.py)', () => {
  let port = 0;
  let uport = 0;
  let m: Master;
  beforeAll(async () => {
    ({m, port} = await startMaster({'wsgi-file': join(APPS, 'hello.py'), socket: ['127.0.0.1:0'], 'buffer-size': 4096}));
    uport = await m.port(1);
  });

  test('status line, Content-Type and body match uWSGI; HTTP/1.0 gets an HTTP/1.0 status line', async () => {
    const res = (await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    expect(res).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\nHello World');
    const res10 = (await raw(port, 'GET / HTTP/1.0\r\n\r\n')).toString('latin1');
    expect(res10).toBe('HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\nHello World');
    await m.waitFor(/\[pid: \d+\|app: 0\|req: \d+\/\d+\] 127\.0\.0\.1 \(\) \{\d+ vars in \d+ bytes\} \[.+\] GET \/ => generated 11 bytes in \d+ msecs \(HTTP\/1\.1 200\) 1 headers in \d+ bytes \(1 switches on core 0\)/);
  });

  test('keep-alive: several requests (pipelined too) on one connection', async () => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    const text = () => Buffer.concat(got).toString('latin1');
    const count = () => text().split('Hello World').length - 1;
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    while (count() < 1) await new Promise((r) => s.once('data', r));
    s.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    while (count() < 3) await new Promise((r) => s.once('data', r));
    expect(text()).not.toContain('Connection: close');
    s.end('GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((r) => s.on('close', r));
    expect(count()).toBe(4);
    expect(text()).toContain('Connection: close');
  });

  test('HEAD gets the head (with Content-Length) and no body', async () => {
    const res = (await raw(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    expect(res).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\n');
  });

  test('garbage gets 400 and the server keeps serving', async () => {
    const res = (await raw(port, 'garbage\r\n\r\n')).toString('latin1');
    expect(res.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    const res2 = (await raw(port, 'GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n')).toString('latin1');
    expect(res2.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect((await get(port, '/')).body.toString()).toBe('Hello World');
  });

  test('a head larger than buffer-size gets 431', async () => {
    const res = (await raw(port, `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`)).toString('latin1');
    expect(res.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n')).toBe(true);
    expect((await get(port, '/')).status).toBe(200);
  });

  test('uwsgi protocol: golden packet in, plain HTTP response out, connection closed', async () => {
    const packet = Buffer.concat([
      Buffer.from([0x00, 0x23, 0x00, 0x00]),
      Buffer.from([0x0e, 0x00]), Buffer.from('REQUEST_METHOD'), Buffer.from([0x03, 0x00]), Buffer.from('GET'),
      Buffer.from([0x09, 0x00]), Buffer.from('PATH_INFO'), Buffer.from([0x01, 0x00]), Buffer.from('/'),
    ]);
    expect(packet.length).toBe(4 + 0x23);
    const res = await raw(uport, packet);
    expect(res.toString('latin1')).toBe('HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\nHello World');
  });

  test('uwsgi protocol: an HTTP request on the uwsgi socket is logged and closed', async () => {
    const res = await raw(uport, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(res.length).toBe(0);
    await m.waitFor(/invalid request block size: 21573 \(max 4096\)\.\.\.skip/);
  });
});

describe('bodies and streaming (echo.py)', () => {
  let port = 0;
  beforeAll(async () => {
    ({port} = await startMaster({'wsgi-file': join(APPS, 'echo.py'), threads: 2}));
  });

  test('chunked request body is de-chunked; generator response is chunked on HTTP/1.1', async () => {
    const res = (await raw(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n')).toString('latin1');
    expect(res).toBe('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nh\r\na\r\nello world\r\n0\r\n\r\n');
    const r2 = await get(port, '/stream');
    expect(r2.headers['transfer-encoding']).toBe('chunked');
    expect(r2.body.toString()).toBe('one,two,three');
  });

  test('HTTP/1.0 generator response is delimited by close', async () => {
    const res = (await raw(port, 'GET /stream HTTP/1.0\r\n\r\n')).toString('latin1');
    expect(res).toBe('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\none,two,three');
  });

  test('a large POST is streamed to the app (Content-Length and chunked)', async () => {
    const body = Buffer.alloc(24 * 1024 * 1024, 'kaiser-');
    const want = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
    const a = await get(port, '/len', {method: 'POST', body, headers: {'Content-Length': String(body.length)}});
    expect(a.body.toString()).toBe(want);
    const b = await get(port, '/len', {method: 'POST', body, headers: {'Transfer-Encoding': 'chunked'}});
    expect(b.body.toString()).toBe(want);
  });

  test('environ: PATH_INFO percent-decoded as latin-1, REQUEST_URI raw, CGI keys present', async () => {
    const r = await get(port, '/env/a%20b%C3%A9?x=1&y=%20', {headers: {'X-Thing': 'v', Cookie: 'a=1'}});
    const env = JSON.parse(r.body.toString()) as Record<string, string>;
    expect(env.PATH_INFO).toBe('/env/a b\u00c3\u00a9');
    expect(env.REQUEST_URI).toBe('/env/a%20b%C3%A9?x=1&y=%20');
    expect(env.QUERY_STRING).toBe('x=1&y=%20');
    expect(env.REQUEST_METHOD).toBe('GET');
    expect(env.SCRIPT_NAME).toBe('');
    expect(env.SERVER_PROTOCOL).toBe('HTTP/1.1');
    expect(env.SERVER_PORT).toBe(String(port));
    expect(env.REMOTE_ADDR).toBe('127.0.0.1');
    expect(Number(env.REMOTE_PORT)).toBeGreaterThan(0);
    expect(env.HTTP_X_THING).toBe('v');
    expect(env.HTTP_COOKIE).toBe('a=1');
    expect(env['wsgi.url_scheme']).toBe('http');
  });
});

describe('PEP 3333 (validated.py, exceptions.py)', () => {
  test('wsgiref.validate.validator accepts what the server does', async () => {
    const {port} = await startMaster({'wsgi-file': join(APPS, 'validated.py')});
    const a = await get(port, '/x?y=1');
    expect([a.status, a.body.toString()]).toEqual([200, 'ok']);
    const b = await get(port, '/p', {method: 'POST', body: 'data', headers: {'Content-Type': 'text/plain'}});
    expect([b.status, b.body.toString()]).toEqual([200, 'okdata']);
    const c = await get(port, '/h', {method: 'HEAD'});
    expect(c.status).toBe(200);
  });

  test('app exception: 500 + traceback logged, same worker keeps serving, close() once per response', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'exceptions.py'), stats: '127.0.0.1:0'});
    const pid = (await get(port, '/')).body.toString();
    const boom = await get(port, '/boom');
    expect(boom.status).toBe(500);
    await m.waitFor(/ValueError: boom/);
    await expect(get(port, '/late')).rejects.toThrow();
    await m.waitFor(/ValueError: late boom/);
    expect((await get(port, '/')).body.toString()).toBe(pid);
    const [responses, closes] = (await get(port, '/closes')).body.toString().split(' ').map(Number);
    expect(responses).toBe(2);
    expect(closes).toBe(2);
  });
});
