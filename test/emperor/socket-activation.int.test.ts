/**
 * Command vassals on emperor-owned sockets (systemd socket activation): reloads lose no request, a failing new
 * version rolls back, a crash queues connections instead of refusing them, and a port in use is a clear error.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {createServer, type Server} from 'node:net';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, httpGet, startKaiser, tempDir, waitFor, waitFor200, publish} from '../helpers/processes.js';
import {startLoad} from '../helpers/load.js';

const SERVER = join(ROOT, 'test/fixtures/procs/socket-server.cjs');

afterEach(cleanupProcesses);


function vassal(port: number, env: string): string {
  return `exec = ["${process.execPath}", "${SERVER}"]\nsocket = "tcp://127.0.0.1:${port}"\nready = "notify"\nenv = { ${env} }\n`;
}

async function emperorWith(): Promise<{dir: string; emperor: ReturnType<typeof startKaiser>}> {
  const dir = tempDir();
  const emperor = startKaiser(['--emperor', dir]);
  await emperor.waitForLine('starting kaiser Emperor');
  return {dir, emperor};
}

describe('socket-activated command vassals', () => {
  it('reloads under load with zero failed requests and switches to the new version', async () => {
    const {dir} = await emperorWith();
    const port = await freePort();
    publish(dir, 'node.toml', vassal(port, 'VERSION = "a"'));
    await waitFor200(port);
    const load = startLoad(port, 4);
    await waitFor(async () => (await httpGet(port))?.body === 'a', 5000, 'serving a');
    publish(dir, 'node.toml', vassal(port, 'VERSION = "b"'));
    await waitFor(async () => (await httpGet(port))?.body === 'b', 10_000, 'serving b');
    // Keep the load on past the old instance's exit.
    const t = Date.now();
    await waitFor(() => Date.now() - t > 500, 2000, 'half a second more load');
    const result = await load.stop();
    expect(result.errors).toEqual({});
    expect(result.failed).toBe(0);
    expect(result.bodies.get('a')).toBeGreaterThan(0);
    expect(result.bodies.get('b')).toBeGreaterThan(0);
  });

  it('keeps the old instance serving when the new one fails at start', async () => {
    const {dir, emperor} = await emperorWith();
    const port = await freePort();
    publish(dir, 'node.toml', vassal(port, 'VERSION = "a"'));
    await waitFor200(port);
    const load = startLoad(port, 2);
    publish(dir, 'node.toml', vassal(port, 'VERSION = "b", FAIL_AT_START = "1"'));
    await emperor.waitForLine(/reload of node\.toml failed/, 10_000);
    const result = await load.stop();
    expect(result.failed).toBe(0);
    expect((await httpGet(port))?.body).toBe('a');
  });

  it('queues connections while a crashed program restarts instead of refusing them', async () => {
    const {dir, emperor} = await emperorWith();
    const port = await freePort();
    publish(dir, 'node.toml', vassal(port, 'CRASH_AFTER_MS = "700"'));
    await waitFor200(port);
    const load = startLoad(port, 4);
    await emperor.waitForLine(/curse the uwsgi instance node\.toml/, 10_000);
    await emperor.waitForLine(/node\.toml has been spawned/, 10_000, emperor.lines.findIndex((l) => l.includes('curse')));
    const result = await load.stop();
    // Requests in flight inside the crashing process are lost with it; new connections must never be refused.
    expect(result.errors['ECONNREFUSED']).toBeUndefined();
    expect(result.ok).toBeGreaterThan(0);
  });

  it('reports a port in use with a clear error and leaves other vassals alone', async () => {
    const {dir, emperor} = await emperorWith();
    const busy = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(busy, '127.0.0.1', resolve));
    try {
      const good = await freePort();
      publish(dir, 'good.toml', vassal(good, 'VERSION = "g"'));
      await waitFor200(good);
      publish(dir, 'busy.toml', vassal(busy, 'VERSION = "x"'));
      const line = await emperor.waitForLine(/KAISER_SOCKET_BIND_FAILED/, 10_000);
      expect(line).toContain('busy.toml');
      expect(line).toContain('EADDRINUSE');
      expect((await httpGet(good))?.body).toBe('g');
    } finally {
      blocker.close();
    }
  });
});
