/**
 * offload-threads (issue 15): with one worker of one core, a client that stalls in the middle of a big static file
 * must not hold the worker: another request is answered while the download waits, and the download then completes
 * whole. Without offload threads the second request would wait for the first client's socket-timeout (30 s here),
 * past this test's deadline. Then keep-alive around offloaded responses, compared with real uWSGI (its `http11-socket`,
 * which keeps connections open): open after the app's responses, closed after an offloaded file, on both.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {cleanupProcesses, withDeadline} from '../helpers/processes.js';
import {exchange, hasUwsgiPlugin, startKaiserApp, startUwsgiApp, type Target} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/environ.py');
const BIG_BYTES = 48 * 1024 * 1024;     // far more than the socket buffers hold

let workDir = '';
let target: Target;

describe('offload-threads', () => {
  beforeAll(async () => {
    const dir = (workDir = mkdtempSync(join(tmpdir(), 'kaiser-offload-')));
    mkdirSync(join(dir, 'static'));
    writeFileSync(join(dir, 'static/big.bin'), Buffer.alloc(BIG_BYTES, 7));
    const started = await startKaiserApp(['--wsgi-file', APP, '--processes', '1', '--threads', '1', '--offload-threads', '1',
      '--socket-timeout', '30', '--static-map', `/static=${join(dir, 'static')}`], dir);
    target = started.target;
  }, 60_000);
  afterAll(async () => {
    await cleanupProcesses();
    rmSync(workDir, {recursive: true, force: true});
  });

  it('answers other requests while a slow client downloads a big file, which then arrives whole', async () => {
    const port = (target as {port: number}).port;
    const slow: Socket = connect({host: '127.0.0.1', port});
    let received = 0;
    const firstBytes = new Promise<void>((resolve, reject) => {
      slow.once('data', () => resolve());
      slow.once('error', reject);
    });
    slow.on('data', (chunk: Buffer) => {
      received += chunk.length;
      slow.pause();        // stall: the server's writes soon block
    });
    slow.write('GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n');
    await withDeadline(firstBytes, 10_000, () => 'the first bytes of the big file');

    const other = await exchange(target, 'GET /other HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 10_000);
    expect(other.status).toBe(200);

    const done = new Promise<void>((resolve, reject) => {
      slow.on('end', () => resolve());
      slow.on('error', reject);
    });
    slow.removeAllListeners('data');
    slow.on('data', (chunk: Buffer) => (received += chunk.length));
    slow.resume();
    await withDeadline(done, 30_000, () => 'the rest of the big file');
    expect(received).toBeGreaterThan(BIG_BYTES);           // the head and the whole body
    expect(received).toBeLessThan(BIG_BYTES + 1024);
  }, 60_000);
});

/**
 * Requests on one keep-alive connection, in turn: each answer's status and body length, then `closed` once the
 * server has closed the connection (no answer to a request sent after that).
 */
function onOneConnection(target: Target, paths: string[]): Promise<string[]> {
  const socket: Socket = 'port' in target ? connect({host: '127.0.0.1', port: target.port}) : connect({path: target.path});
  const got: string[] = [];
  let buffer = Buffer.alloc(0);
  let next = 0;
  const send = () => socket.write(`GET ${paths[next++]} HTTP/1.1\r\nHost: t\r\n\r\n`);
  const done = new Promise<string[]>((resolve, reject) => {
    socket.on('connect', send);
    // a request written after the server closed: EPIPE or ECONNRESET, then 'close'
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        got.push(`${head.slice(9, 12)} ${length}`);
        buffer = buffer.subarray(end + 4 + length);
        if (next < paths.length) send();
        else socket.end();
      }
    });
    socket.on('close', () => resolve(got.length < paths.length ? [...got, 'closed'] : got));
  });
  return withDeadline(done, 20_000, () => `answers to ${paths.join(', ')}`);
}

const status = (answer: string) => answer.slice(0, 3);     // the app's environ answer differs in length
const maybeUwsgi = hasUwsgiPlugin('python3') ? describe : describe.skip;

maybeUwsgi('offload-threads and keep-alive, compared with uWSGI', () => {
  let dir = '';
  let kaiserTarget: Target;
  let uwsgiTarget: Target;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kaiser-offload-ka-'));
    mkdirSync(join(dir, 'static'));
    writeFileSync(join(dir, 'static/big.bin'), Buffer.alloc(300 * 1024, 7));     // offloaded (64 KiB or more)
    writeFileSync(join(dir, 'static/small.txt'), 'small\n');
    const common = ['--wsgi-file', APP, '--processes', '1', '--offload-threads', '1', '--static-map', `/static=${join(dir, 'static')}`];
    // uWSGI's http-socket closes every connection; its http11-socket keeps them open, as kaiser's http-socket does
    const http11 = join(dir, 'http11.sock');
    [kaiserTarget, uwsgiTarget] = await Promise.all([
      startKaiserApp(common, dir).then((s) => s.target),
      startUwsgiApp(['--plugin', 'python3', '--http11-socket', http11, ...common], dir).then(() => ({path: http11})),
    ]);
  }, 60_000);
  afterAll(async () => {
    await cleanupProcesses();
    rmSync(dir, {recursive: true, force: true});
  });

  it('keeps the connection open after the app\'s responses, as uWSGI does', async () => {
    const paths = ['/app', '/app'];
    const [k, u] = await Promise.all([onOneConnection(kaiserTarget, paths), onOneConnection(uwsgiTarget, paths)]);
    expect(u.map(status)).toEqual(['200', '200']);
    expect(k.map(status)).toEqual(u.map(status));
  });

  it('closes the connection after an offloaded response, as uWSGI does', async () => {
    const paths = ['/app', '/static/big.bin', '/app'];
    const [k, u] = await Promise.all([onOneConnection(kaiserTarget, paths), onOneConnection(uwsgiTarget, paths)]);
    expect(u.slice(1)).toEqual([`200 ${300 * 1024}`, 'closed']);
    expect(k.map(status)).toEqual(u.map(status));
    expect(k.slice(1)).toEqual(u.slice(1));
  });

  it('keeps it open after a small static file, which uWSGI offloads too (and then closes)', async () => {
    const paths = ['/static/small.txt', '/app'];
    const [k, u] = await Promise.all([onOneConnection(kaiserTarget, paths), onOneConnection(uwsgiTarget, paths)]);
    expect(u).toEqual(['200 6', 'closed']);
    expect(k.map(status)).toEqual(['200', '200']);
  });
});
