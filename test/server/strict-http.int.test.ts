/**
 * Strict HTTP in the Python app server (issue 14), with raw bytes on real sockets: framing a front proxy could read
 * differently is refused, `_` headers can neither frame a body nor spoof a real header, and a client trickling its
 * request holds no worker core and is cut off at `request-read-timeout`.
 */
import {connect, type Socket} from 'node:net';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, test} from '@jest/globals';
import {APPS, cleanup, get, raw, startMaster} from './helpers/master.js';

afterAll(cleanup);

const HEAD = 'POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n';

/** A client sending `head` and then one body byte every `everyMs` until stopped; collects what it receives. */
function trickle(port: number, head: string, everyMs: number): {socket: Socket; received: () => string; closed: Promise<void>; stop: () => void} {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(head);
  const timer = setInterval(() => socket.write('a'), everyMs);
  const stop = () => {
    clearInterval(timer);
    socket.destroy();
  };
  void closed.then(() => clearInterval(timer));
  return {socket, received: () => Buffer.concat(chunks).toString('latin1'), closed, stop};
}

describe('strict framing (echo.py)', () => {
  let port = 0;
  beforeAll(async () => {
    ({port} = await startMaster({'wsgi-file': join(APPS, 'echo.py')}));
  });

  test.each([
    ['a repeated Content-Length', `${HEAD}Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello`],
    ['Content-Length +5', `${HEAD}Content-Length: +5\r\n\r\nhello`],
    ['Content-Length 0_5', `${HEAD}Content-Length: 0_5\r\n\r\nhello`],
    ['chunk size 0x5', `${HEAD}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`],
    ['chunk size with _', `${HEAD}Transfer-Encoding: chunked\r\n\r\n5_\r\nhello\r\n0\r\n\r\n`],
    ['Transfer-Encoding with Content-Length', `${HEAD}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`],
    ['a control byte in the request line', 'GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a control byte in a header', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n'],
  ])('%s gets 400 and the connection is closed', async (_name, request) => {
    const res = (await raw(port, request)).toString('latin1');
    expect(res.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    expect(res).not.toContain('hello');
  });

  test('Content_Length is not the length: the app sees no body and no CONTENT_LENGTH', async () => {
    const res = (await raw(port, `POST /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent_Length: 5\r\n\r\nhello`)).toString('latin1');
    expect(res.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    const env = JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
    expect(env.CONTENT_LENGTH).toBeUndefined();
    expect(Object.keys(env).filter((k) => k.includes('CONTENT_LENGTH'))).toEqual([]);
  });

  test('X_Forwarded_For cannot pose as X-Forwarded-For', async () => {
    const res = (await raw(port, 'GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n')).toString('latin1');
    const env = JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
    expect(env.HTTP_X_FORWARDED_FOR).toBe('1.2.3.4');
  });
});

describe('slow clients (1 process, 1 thread)', () => {
  test('a client trickling its body does not hold the only core', async () => {
    const {port} = await startMaster({'wsgi-file': join(APPS, 'echo.py'), processes: 1, threads: 1});
    const slow = trickle(port, `${HEAD}Content-Length: 100000\r\n\r\n`, 100);
    try {
      const r = await get(port, '/env', {timeoutMs: 15_000});
      expect(r.status).toBe(200);
    } finally {
      slow.stop();
    }
  });

  test('a request not complete within request-read-timeout gets 408 and is closed', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'echo.py'), 'request-read-timeout': 1, 'socket-timeout': 30});
    const slow = trickle(port, `${HEAD}Content-Length: 100000\r\n\r\n`, 100);
    try {
      await Promise.race([slow.closed, m.waitFor(/rejected request .*408 Request Timeout/, 20_000)]);
      await slow.closed;
      expect(slow.received().startsWith('HTTP/1.1 408 Request Timeout\r\n')).toBe(true);
      await m.waitFor(/rejected request from 127\.0\.0\.1 \(408 Request Timeout: not sent within request-read-timeout/);
    } finally {
      slow.stop();
    }
  });
});
