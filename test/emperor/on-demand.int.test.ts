/**
 * Scale to zero: on-demand vassals cost only a socket until the first connection, which starts them (queued, never
 * refused); an idle app-server vassal goes back to sleep and the next connection wakes it again.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {connect} from 'node:net';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, httpGet, processTree, startKaiser, tempDir, waitFor, publish} from '../helpers/processes.js';

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');
const SOCKET_SERVER = join(ROOT, 'test/fixtures/procs/socket-server.cjs');

afterEach(cleanupProcesses);


async function stats(port: number): Promise<{vassals: {id: string; state: string; pid: number}[]}> {
  const text = await new Promise<string>((resolve, reject) => {
    let out = '';
    const s = connect({host: '127.0.0.1', port});
    s.setEncoding('utf8');
    s.on('data', (c: string) => (out += c));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  return JSON.parse(text) as {vassals: {id: string; state: string; pid: number}[]};
}

const stateOf = async (statsPort: number, name: string) => (await stats(statsPort)).vassals.find((v) => v.id === name)?.state;

describe('on-demand vassals', () => {
  it('start an app-server vassal on the first request, put it back to sleep when idle, and wake it again', async () => {
    const dir = tempDir();
    const [port, statsPort] = [await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir, '--emperor-stats', `127.0.0.1:${statsPort}`]);
    await emperor.waitForLine('Emperor stats server enabled');
    publish(dir, 'sleepy.toml', `http-socket = "127.0.0.1:${port}"\nwsgi-file = "${HELLO}"\non-demand = true\nidle = 1\n`);
    await waitFor(async () => (await stateOf(statsPort, 'sleepy.toml')) === 'on-demand', 10_000, 'on-demand state');
    const sleeping = processTree(emperor.pid).length;
    // The first request is queued by the emperor-held socket and answered once the vassal is up.
    const first = await httpGet(port, '/', 10_000);
    if (first === undefined) throw new Error(emperor.output());
    expect(first?.status).toBe(200);
    expect(first?.body).toBe('Hello World');
    expect(processTree(emperor.pid).length).toBeGreaterThan(sleeping);
    await emperor.waitForLine('is idle: back to on-demand mode', 15_000);
    await waitFor(async () => (await stateOf(statsPort, 'sleepy.toml')) === 'on-demand', 10_000, 'asleep again');
    const again = await httpGet(port, '/', 10_000);
    expect(again?.body).toBe('Hello World');
  });

  it('start a socket-activated command vassal on the first connection', async () => {
    const dir = tempDir();
    const [port, statsPort] = [await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir, '--emperor-stats', `127.0.0.1:${statsPort}`]);
    await emperor.waitForLine('Emperor stats server enabled');
    publish(dir, 'node.toml', `exec = ["${process.execPath}", "${SOCKET_SERVER}"]\nsocket = "tcp://127.0.0.1:${port}"\nready = "notify"\non-demand = true\nenv = { VERSION = "woken" }\n`);
    await waitFor(async () => (await stateOf(statsPort, 'node.toml')) === 'on-demand', 10_000, 'on-demand state');
    expect(emperor.output()).not.toContain('node.toml has been spawned');
    expect((await httpGet(port, '/', 10_000))?.body).toBe('woken');
    await waitFor(async () => (await stateOf(statsPort, 'node.toml')) === 'ready', 10_000, 'ready');
  });
});
