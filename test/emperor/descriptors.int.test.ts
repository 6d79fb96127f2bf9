/**
 * Descriptor exhaustion (issue 14): an emperor limited to 256 descriptors, flooded with 600 connections that send
 * half a request and never read nor close, on its stats server. Before, every connection held a descriptor until
 * the client left, accept() failed with EMFILE, and that error (or the accounting scan of /proc failing the same
 * way) was uncaught: the emperor exited and took every vassal with it. Now the stats server caps its connections
 * and keeps a reserve of descriptors for the emperor (src/system/descriptors.ts): the emperor stays up, its vassal
 * keeps serving, the control socket answers, and the stats server answers again once the flood is gone.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {mkdirSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {join} from 'node:path';
import {cleanupProcesses, emperorStats, freePort, KAISER_BIN, PYTHON, publish, startProcess, tempDir, waitFor, waitFor200} from '../helpers/processes.js';

afterEach(cleanupProcesses);

/** One request on the control socket: the parsed answer, or undefined. */
function controlRequest(path: string, request: object): Promise<{ok: boolean; vassals?: {name: string; state: string; rss: number}[]} | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) {
        socket.destroy();
        resolve(JSON.parse(text.split('\n')[0]!) as {ok: boolean});
      }
    });
    socket.on('error', () => resolve(undefined));
    socket.on('close', () => resolve(undefined));
  });
}

/** Opens `count` connections that send half a request head and then hold still; resolves once each is settled. */
async function flood(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({length: count}, () => {
      const socket = connect({host: '127.0.0.1', port});
      sockets.push(socket);
      socket.pause(); // never reads what it is sent
      return new Promise<void>((resolve) => {
        socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: stats\r\n', () => resolve()));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
      });
    }),
  );
  return sockets;
}

describe('descriptor exhaustion', () => {
  it('keeps the emperor and its vassals up under 600 half-open stats connections with 256 descriptors', async () => {
    const dir = tempDir();
    const vassals = join(dir, 'vassals');
    const control = join(dir, 'control.sock');
    mkdirSync(vassals);
    const [statsPort, appPort] = [await freePort(), await freePort()];
    publish(vassals, 'app.toml', `exec = ["${PYTHON}", "-m", "http.server", "--bind", "127.0.0.1", "${appPort}"]\nready = "tcp://127.0.0.1:${appPort}"\n`);
    const emperor = startProcess('/bin/sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, KAISER_BIN, '--emperor', vassals, '--emperor-stats', `127.0.0.1:${statsPort}`, '--control', control, '--emperor-accounting-freq', '1'], {cwd: dir});
    await waitFor200(appPort, 20_000);
    await emperor.waitForLine('stats server', 10_000);

    const sockets = await flood(statsPort, 600);
    try {
      expect(emperor.child.exitCode).toBeNull();
      await waitFor200(appPort, 5000);
      // Accounting goes on under the flood (each tick lists /proc, which takes descriptors): the row gets its RSS.
      const row = await waitFor(
        async () => (await controlRequest(control, {cmd: 'ls'}))?.vassals?.find((v) => v.name === 'app.toml' && v.rss > 0),
        15_000,
        'the vassal row with its RSS, from the control socket',
      );
      expect(row.state).toBe('ready');
      expect(emperor.child.exitCode).toBeNull();
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    const stats = await waitFor(() => emperorStats(statsPort).catch(() => undefined), 15_000, 'the stats document after the flood');
    expect(stats.vassals).toHaveLength(1);
    expect(emperor.child.exitCode).toBeNull();
    expect(emperor.output()).not.toMatch(/EMFILE.*uncaught|Unhandled|uncaughtException/i);
  });
});
