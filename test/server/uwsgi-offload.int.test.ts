/**
 * offload-threads (issue 15): with one worker of one core, a client that stalls in the middle of a big static file
 * must not hold the worker: another request is answered while the download waits, and the download then completes
 * whole. Without offload threads the second request would wait for the first client's socket-timeout (30 s here),
 * past this test's deadline.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {cleanupProcesses, withDeadline} from '../helpers/processes.js';
import {exchange, startKaiserApp, type Target} from '../workers/plugins/rig.js';

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
