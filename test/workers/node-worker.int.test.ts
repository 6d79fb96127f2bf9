/**
 * Integration tests of the compiled Node worker (dist/workers/node/worker.js, run `npm run build` first),
 * spawned as the Python master spawns it: inherited listening socket on fd 3, status pipe, life pipe and a
 * scoreboard file (docs/runtime-protocol.md §3).
 */
import http from 'node:http';
import {afterEach, describe, expect, test} from '@jest/globals';
import {killAll, request, startWorker, type WorkerProcess} from './node-worker-harness.js';

afterEach(async () => {
  await killAll();
});

function deferred<T>(): {promise: Promise<T>; resolve: (v: T) => void} {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return {promise, resolve};
}

async function ready(app: string, config?: Record<string, unknown>): Promise<WorkerProcess> {
  const worker = await startWorker({app, config});
  await worker.waitStatus('accepting');
  return worker;
}

describe('node worker: (req, res) apps', () => {
  test('serves a Node http handler, reports loaded then accepting, logs uWSGI request lines', async () => {
    const worker = await ready('hello.mjs', {env: {KAISER_TEST_GREETING: 'hi from env'}});
    expect(worker.statuses.map((m) => m.act)).toEqual(['loaded', 'accepting']);

    const res = await request(worker.port, '/');
    expect(res.status).toBe(200);
    expect(res.body).toBe('Hello World');
    expect((await request(worker.port, '/env')).body).toBe('hi from env');

    await worker.until('request log line', () =>
      /\[pid: \d+\|app: 0\|req: 1\/1\] 127\.0\.0\.1 \(\) \{\d+ vars in \d+ bytes\} \[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET \/ => generated 11 bytes in \d+ msecs \(HTTP\/1\.1 200\) \d+ headers in \d+ bytes \(1 switches on core 0\)/.test(worker.stderr),
    );
    await worker.kill();
  });

  test('accepts a CommonJS module.exports handler', async () => {
    const worker = await ready('hello.cjs');
    expect((await request(worker.port, '/')).body).toBe('Hello from CJS');
    await worker.kill();
  });

  test('disable-logging suppresses request lines', async () => {
    const worker = await ready('hello.mjs', {'disable-logging': true});
    await request(worker.port, '/');
    await request(worker.port, '/');
    const slot = await worker.until('2 requests on the scoreboard', () => worker.readSlot().requests === 2n);
    expect(slot).toBe(true);
    expect(worker.stderr).not.toContain('[pid:');
    await worker.kill();
  });

  test('a request head larger than buffer-size gets 431', async () => {
    const worker = await ready('hello.mjs', {'buffer-size': 1024});
    const res = await request(worker.port, '/', {headers: {'x-big': 'a'.repeat(2000)}});
    expect(res.status).toBe(431);
    expect((await request(worker.port, '/')).status).toBe(200);
    await worker.kill();
  });
});

describe('node worker: {fetch} apps', () => {
  test('streams a Response body chunk by chunk', async () => {
    const worker = await ready('fetch.mjs');
    const res = await request(worker.port, '/stream');
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body).toBe('chunk0\nchunk1\nchunk2\n');
    await worker.kill();
  });

  test('builds the Request (method, url, host) and keeps every Set-Cookie', async () => {
    const worker = await ready('fetch.mjs');
    const info = await request(worker.port, '/info?x=1');
    expect(JSON.parse(info.body)).toEqual({method: 'GET', path: '/info', search: '?x=1', host: `127.0.0.1:${worker.port}`});
    expect(info.headers['content-length']).toBe(String(Buffer.byteLength(info.body))); // one-chunk body: no chunking
    const cookies = await request(worker.port, '/cookies');
    expect(cookies.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    await worker.kill();
  });

  test('POST echo streams both ways: the first echoed bytes arrive before the request body is finished', async () => {
    const worker = await ready('fetch.mjs');
    const result = await new Promise<{status: number; body: string; firstBeforeEnd: boolean}>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('echo timed out')), 10_000);
      let ended = false;
      const req = http.request(
        {host: '127.0.0.1', port: worker.port, path: '/echo', method: 'POST', agent: false, headers: {'content-type': 'text/plain'}},
        (res) => {
          let body = '';
          let firstBeforeEnd: boolean | undefined;
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
            if (firstBeforeEnd === undefined) {
              firstBeforeEnd = !ended;
              // The first half came back while the request was still open: send the rest.
              ended = true;
              req.end('second half');
            }
          });
          res.on('end', () => {
            clearTimeout(timer);
            resolve({status: res.statusCode ?? 0, body, firstBeforeEnd: firstBeforeEnd ?? false});
          });
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      req.write('first half|');
    });
    expect(result).toEqual({status: 201, body: 'first half|second half', firstBeforeEnd: true});
    await worker.kill();
  });

  test('a rejected fetch or a non-Response is a 500, and the worker goes on', async () => {
    const worker = await ready('fetch-throws.mjs');
    expect((await request(worker.port, '/reject')).status).toBe(500);
    expect((await request(worker.port, '/not-a-response')).status).toBe(500);
    const ok = await request(worker.port, '/');
    expect([ok.status, ok.body]).toEqual([200, 'ok']);
    expect(worker.stderr).toContain('fetch boom');
    expect(worker.stderr).toContain('fetch() must return a Response');
    await worker.until('2 exceptions on the scoreboard', () => worker.readSlot().exceptions === 2n);
    await worker.kill();
  });
});

describe('node worker: exceptions', () => {
  test('sync throw and async rejection become 500 with the stack logged; the next request is served', async () => {
    const worker = await ready('throws.mjs');
    const sync = await request(worker.port, '/sync');
    expect(sync.status).toBe(500);
    expect(sync.body).toBe('Internal Server Error\n');
    expect((await request(worker.port, '/async')).status).toBe(500);
    const ok = await request(worker.port, '/');
    expect([ok.status, ok.body]).toEqual([200, 'ok']);
    expect(worker.stderr).toMatch(/Error: boom \(sync\)\n\s+at .*throws\.mjs:4:/);
    expect(worker.stderr).toContain('Error: boom (async)');
    const slot = await worker.until('3 requests on the scoreboard', () => {
      const s = worker.readSlot();
      return s.requests === 3n ? s : undefined;
    });
    expect(slot.exceptions).toBe(2n);
    await worker.kill();
  });
});

describe('node worker: exceptions outside requests', () => {
  test('an exception thrown from a timer is logged and counted; the worker keeps serving', async () => {
    const worker = await ready('throws.mjs');
    expect((await request(worker.port, '/timer')).body).toBe('scheduled');
    await worker.until('the timer exception in the log', () => worker.stderr.includes('Error: boom (timer)'));
    expect(worker.stderr).toContain('uncaught exception');
    expect((await request(worker.port, '/')).body).toBe('ok');
    await worker.until('1 exception on the scoreboard', () => worker.readSlot().exceptions === 1n);
    expect(worker.exitInfo).toBeUndefined();
    await worker.kill();
  });
});

describe('node worker: load failures (exit 22)', () => {
  test.each([
    ['not-a-handler.mjs', /not-a-handler\.mjs: the default export must be a \(req, res\) => … function or an object with a fetch\(request\) method, but it is a number \(42\)/],
    ['import-error.mjs', /import-error\.mjs: failed to import:\nError: this app cannot even load/],
    ['missing.mjs', /missing\.mjs: no such file/],
  ])('%s → load-failed with a clear message', async (app, message) => {
    const worker = await startWorker({app});
    const failed = await worker.waitStatus('load-failed');
    expect(failed.error).toMatch(message);
    expect(await worker.waitExit()).toEqual({code: 22, signal: null});
    expect(worker.statuses.map((m) => m.act)).toEqual(['load-failed']);
    await worker.kill();
  });

  test('a uwsgi-protocol socket is refused', async () => {
    const worker = await startWorker({app: 'hello.mjs', proto: 'uwsgi'});
    const failed = await worker.waitStatus('load-failed');
    expect(failed.error).toContain('uwsgi protocol sockets are not supported for node apps');
    expect((await worker.waitExit()).code).toBe(22);
    await worker.kill();
  });
});

describe('node worker: signals and the life pipe', () => {
  test('SIGHUP is graceful: stops accepting, finishes the in-flight request, closes idle keep-alive, exits 0', async () => {
    const worker = await ready('slow.mjs');
    const agent = new http.Agent({keepAlive: true, maxSockets: 1});
    expect((await request(worker.port, '/', {agent})).body).toBe('fast'); // leaves an idle keep-alive connection

    let slowRequest: http.ClientRequest | undefined;
    const slow = new Promise<{status: number; connection: string | undefined; body: string}>((resolve, reject) => {
      const req = http.request({host: '127.0.0.1', port: worker.port, path: '/slow', method: 'POST', agent: false}, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({status: res.statusCode ?? 0, connection: res.headers.connection, body}));
      });
      req.on('error', reject);
      req.write('part one, ');
      slowRequest = req;
    });
    // The request is in flight once the scoreboard shows a start time on core 0.
    await worker.until('in-flight request on the scoreboard', () => worker.readSlot().cores[0]!.start > 0);

    process.kill(worker.pid, 'SIGHUP');
    await worker.until('accepting=0', () => worker.readSlot().accepting === 0);
    // No listener any more (here the worker held the only copy of the socket): refused, or reset if the
    // connection raced into the backlog just before the listening fd was closed.
    await expect(request(worker.port, '/', {timeoutMs: 3000})).rejects.toThrow(/ECONNREFUSED|ECONNRESET/);
    expect(worker.exitInfo).toBeUndefined(); // still finishing the slow request

    slowRequest!.end('part two');
    expect(await slow).toEqual({status: 200, connection: 'close', body: 'slow done: part one, part two'});
    expect(await worker.waitExit()).toEqual({code: 0, signal: null});
    agent.destroy();
    await worker.kill();
  });

  test('SIGHUP while a keep-alive response is half sent: it completes, then the connection is closed, exit 0', async () => {
    const worker = await ready('slow.mjs');
    const agent = new http.Agent({keepAlive: true, maxSockets: 1});
    let clientReq: http.ClientRequest | undefined;
    let socketClosed: Promise<void> | undefined;
    const started = new Promise<void>((resolveStarted, rejectStarted) => {
      clientReq = http.request({host: '127.0.0.1', port: worker.port, path: '/head-first', method: 'POST', agent}, (res) => {
        res.setEncoding('utf8');
        let body = '';
        res.on('data', (d: string) => {
          body += d;
          if (body === 'started\n') resolveStarted();
        });
        res.on('end', () => finished.resolve(body));
      });
      clientReq.on('error', rejectStarted);
      clientReq.on('socket', (sock) => {
        socketClosed = new Promise((r) => sock.once('close', () => r()));
      });
      clientReq.write('x');
    });
    const finished = deferred<string>();
    await started; // the head (keep-alive) is out before SIGHUP
    process.kill(worker.pid, 'SIGHUP');
    await worker.until('accepting=0', () => worker.readSlot().accepting === 0);
    clientReq!.end();
    expect(await finished.promise).toBe('started\ndone');
    expect(socketClosed).toBeDefined();
    await socketClosed; // the worker closed the now idle keep-alive connection (else it would never exit)
    expect(await worker.waitExit()).toEqual({code: 0, signal: null});
    agent.destroy();
    await worker.kill();
  });

  test('SIGTERM exits at once even with a request in flight', async () => {
    const worker = await ready('slow.mjs');
    const req = http.request({host: '127.0.0.1', port: worker.port, path: '/slow', method: 'POST', agent: false});
    req.on('error', () => undefined);
    req.write('never finished');
    await worker.until('in-flight request', () => worker.readSlot().cores[0]!.start > 0);
    process.kill(worker.pid, 'SIGTERM');
    expect(await worker.waitExit()).toEqual({code: 0, signal: null});
    req.destroy();
    await worker.kill();
  });

  test('EOF on the life pipe: the worker says UAAAAAAH and exits', async () => {
    const worker = await ready('hello.mjs');
    worker.closeLifePipe();
    const exit = await worker.waitExit();
    expect(exit.code).toBe(1);
    expect(worker.stderr).toContain('UAAAAAAH my master disconnected: i will kill myself !!!');
    await worker.kill();
  });
});

describe('node worker: scoreboard', () => {
  test('counts requests, tx bytes and running time in its slot; accepting while serving; core idle after', async () => {
    const worker = await startWorker({app: 'hello.mjs', workerId: 2, config: {threads: 2}});
    await worker.waitStatus('accepting');
    const before = worker.readSlot();
    expect(before.accepting).toBe(1);
    expect(before.requests).toBe(0n);

    for (let i = 0; i < 3; i++) await request(worker.port, '/');
    const slot = await worker.until('3 requests', () => {
      const s = worker.readSlot();
      return s.requests === 3n ? s : undefined;
    });
    expect(slot.exceptions).toBe(0n);
    expect(slot.txBytes).toBeGreaterThan(3n * 11n);
    expect(slot.runningUs).toBeGreaterThan(0n);
    expect(Number(slot.avgRt)).toBeCloseTo(Number(slot.runningUs) / 3, -1); // mean, rounded to µs
    expect(slot.cores.map((c) => c.requests)).toEqual([3n, 0n]); // sequential requests all land on core 0
    expect(slot.cores.map((c) => c.start)).toEqual([0, 0]);
    await worker.kill();
  });

  test('concurrent requests spread over cores; each busy core shows its oldest start time', async () => {
    const worker = await ready('slow.mjs', {threads: 2});
    const open: http.ClientRequest[] = [];
    for (let i = 0; i < 2; i++) {
      const req = http.request({host: '127.0.0.1', port: worker.port, path: '/slow', method: 'POST', agent: false});
      req.on('error', () => undefined);
      req.write('x');
      open.push(req);
    }
    const slot = await worker.until('both cores busy', () => {
      const s = worker.readSlot();
      return s.cores.every((c) => c.start > 0) ? s : undefined;
    });
    const now = Date.now() / 1000;
    for (const c of slot.cores) expect(Math.abs(now - c.start)).toBeLessThan(30);
    for (const req of open) req.destroy();
    await worker.until('cores idle after the clients left', () => worker.readSlot().cores.every((c) => c.start === 0));
    await worker.kill();
  });
});
