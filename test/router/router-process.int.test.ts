/**
 * The front router runs in its own processes, forked and fed by the emperor: the emperor's pid never serves a request,
 * a router killed with SIGKILL is replaced on the same sockets (a connection made meanwhile is answered, not refused),
 * and several processes share the address through SO_REUSEPORT.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {readdirSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {join} from 'node:path';
import {PYTHON, ROOT, cleanupProcesses, freePort, isAlive, publish, startKaiser, tempDir, waitFor, type Started} from '../helpers/processes.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');

afterEach(cleanupProcesses);

function commandVassal(port: number, version: string, domain: string): string {
  return `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\nenv = { VERSION = "${version}" }\ndomain = "${domain}"\n`;
}

/** One GET through the router on a fresh connection, as raw HTTP: [status, body], or the error code. */
function get(port: number, host: string): Promise<[number, string] | string> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port});
    let text = '';
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      const match = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n([^]*)$/.exec(text);
      resolve(match ? [Number(match[1]), match[2] ?? ''] : `unparsable: ${text.slice(0, 80)}`);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Router pids from the emperor's "router process N (pid P) serving" lines. */
function routerPids(k: Started): number[] {
  return k.lines.flatMap((line) => {
    const m = /router\] process \d+ \(pid (\d+)\) serving/.exec(line);
    return m ? [Number(m[1])] : [];
  });
}

describe('router processes', () => {
  it('serve in a process of their own, and one killed with SIGKILL is replaced on the same socket without refusing a connection', async () => {
    const dir = tempDir();
    const [front, app] = [await freePort(), await freePort()];
    publish(dir, 'app.toml', commandVassal(app, 'app', 'app.test'));
    const k = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${front}`, '--control', join(dir, 'c.sock')]);
    await k.waitForLine('HTTP router on', 20_000);
    await waitFor(async () => {
      const r = await get(front, 'app.test');
      return Array.isArray(r) && r[1] === 'app';
    }, 20_000, 'app.test through the router');
    const [pid] = routerPids(k);
    expect(pid).toBeDefined();
    expect(pid).not.toBe(k.pid);
    const seen = k.lines.length;
    process.kill(pid as number, 'SIGKILL');
    await waitFor(() => !isAlive(pid as number), 5_000, 'the router process to die');
    // Nobody accepts now; the connection waits in the backlog the emperor kept open, and the new process answers it.
    const meanwhile = get(front, 'app.test');
    await k.waitForLine(/router\] process 0 \(pid \d+\) died \(SIGKILL\)/, 10_000, seen);
    await k.waitForLine(/router\] process 0 \(pid \d+\) serving/, 20_000, seen);
    expect(await meanwhile).toEqual([200, 'app']);
    const [, next] = routerPids(k);
    expect(next).not.toBe(pid);
    expect(await get(front, 'app.test')).toEqual([200, 'app']);
  });

  it('share the address between several processes (SO_REUSEPORT) and all follow route changes', async () => {
    const dir = tempDir();
    const [front, a, b] = [await freePort(), await freePort(), await freePort()];
    publish(dir, 'a.toml', commandVassal(a, 'a', 'a.test'));
    const k = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${front}`, '--emperor-http-processes', '2', '--control', join(dir, 'c.sock')]);
    await k.waitForLine('HTTP router on', 20_000);
    expect(new Set(routerPids(k)).size).toBe(2);
    await waitFor(async () => {
      const r = await get(front, 'a.test');
      return Array.isArray(r) && r[1] === 'a';
    }, 20_000, 'a.test through the router');
    publish(dir, 'b.toml', commandVassal(b, 'b', 'b.test'));
    await waitFor(async () => {
      const r = await get(front, 'b.test');
      return Array.isArray(r) && r[1] === 'b';
    }, 20_000, 'b.test through the router');
    // Connections land on both processes; each must know b.test.
    for (let i = 0; i < 20; i += 1) expect(await get(front, 'b.test')).toEqual([200, 'b']);
  });

  it('answers a normal client after a flood of 3000 idle and half-open connections, and the emperor holds none of them', async () => {
    const dir = tempDir();
    const [front, app] = [await freePort(), await freePort()];
    publish(dir, 'app.toml', commandVassal(app, 'app', 'app.test'));
    const k = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${front}`, '--emperor-http-max-connections', '1000', '--control', join(dir, 'c.sock')]);
    await k.waitForLine('HTTP router on', 20_000);
    await waitFor(async () => {
      const r = await get(front, 'app.test');
      return Array.isArray(r) && r[1] === 'app';
    }, 20_000, 'app.test through the router');
    const emperorFds = () => readdirSync(`/proc/${k.pid}/fd`).length;
    const before = emperorFds();
    const flood: Socket[] = [];
    try {
      for (let i = 0; i < 3000; i += 1) {
        const socket = connect({host: '127.0.0.1', port: front});
        socket.on('error', () => undefined);
        // Issue 14: half-open requests (a head that never ends) used to exhaust the emperor's descriptors.
        if (i % 2 === 1) socket.write('GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ');
        flood.push(socket);
      }
      await waitFor(() => flood.every((s) => !s.connecting), 20_000, 'the flood to connect');
      expect(await get(front, 'app.test')).toEqual([200, 'app']);
      expect(emperorFds()).toBeLessThanOrEqual(before + 5);
      expect(isAlive(k.pid)).toBe(true);
    } finally {
      for (const socket of flood) socket.destroy();
    }
  });

  it('refuses to start with a clear error when the address is taken', async () => {
    const dir = tempDir();
    const blocker = (await import('node:net')).createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as {port: number}).port;
    try {
      const k = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${port}`, '--control', join(dir, 'c.sock')]);
      const exit = await k.exited;
      expect(exit.code).toBe(1);
      expect(k.output()).toMatch(/KAISER_ROUTER_BIND_FAILED|cannot bind 127\.0\.0\.1:\d+: Address already in use/);
    } finally {
      blocker.close();
    }
  });
});
