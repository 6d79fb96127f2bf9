/**
 * Pools through a real emperor: two app-server vassals declaring one domain share its requests; kill -9 of one's
 * master under load fails no request (the router retries on the other and skips the dead one); removing or reloading
 * a vassal under load fails no request (draining).
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {connect} from 'node:net';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, isAlive, publish, startKaiser, tempDir, waitFor} from '../helpers/processes.js';

const NAME_APP = join(ROOT, 'test/fixtures/apps/name.py');

afterEach(cleanupProcesses);

function appVassal(who: string, port: number, dir: string, extra = ''): string {
  return `http-socket = "127.0.0.1:${port}"\nwsgi-file = "${NAME_APP}"\nprocesses = 2\nenv = { WHO = "${who}" }\ndomain = "lb.test"\npidfile = "${join(dir, `${who}.pid`)}"\n${extra}`;
}

/** One request through the router on a fresh connection: [status, body] or an error code. */
function request(port: number, method = 'GET', body = ''): Promise<[number, string] | string> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port});
    let text = '';
    socket.setEncoding('latin1');
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(`${method} / HTTP/1.1\r\nHost: lb.test\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      const match = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n([^]*)$/.exec(text);
      resolve(match ? [Number(match[1]), match[2] ?? ''] : `unparsable: ${text.slice(0, 80)}`);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

interface Load {
  ok: Map<string, number>;
  failed: string[];
  stop(): Promise<void>;
}

/** `clients` loops of sequential requests (GET, or POST when `method` says) until stopped; bounded. */
function load(port: number, clients = 4, method = 'GET'): Load {
  const result: Load = {ok: new Map(), failed: [], stop: async () => undefined};
  let running = true;
  let sent = 0;
  const loop = async () => {
    while (running && sent < 20_000) {
      sent += 1;
      const r = await request(port, method, method === 'POST' ? 'payload' : '');
      if (Array.isArray(r) && r[0] === 200) result.ok.set(r[1], (result.ok.get(r[1]) ?? 0) + 1);
      else result.failed.push(Array.isArray(r) ? `${r[0]} ${r[1].slice(0, 80)}` : r);
    }
  };
  const all = Promise.all(Array.from({length: clients}, loop));
  result.stop = async () => {
    running = false;
    await all;
  };
  return result;
}

async function twoVassals(): Promise<{dir: string; front: number; ports: number[]; k: ReturnType<typeof startKaiser>}> {
  const dir = tempDir();
  const [front, a, b] = [await freePort(), await freePort(), await freePort()];
  publish(dir, 'lb1.toml', appVassal('lb1', a as number, dir));
  publish(dir, 'lb2.toml', appVassal('lb2', b as number, dir));
  const k = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${front}`, '--control', join(dir, 'c.sock')]);
  await k.waitForLine('vassal lb1.toml is ready', 30_000);
  await k.waitForLine('vassal lb2.toml is ready', 30_000);
  await waitFor(async () => {
    const r = await request(front as number);
    return Array.isArray(r) && r[0] === 200;
  }, 20_000, 'lb.test through the router');
  return {dir, front: front as number, ports: [a as number, b as number], k};
}

describe('pools through the router', () => {
  it('spreads the requests of one domain over its vassals and fails none when one master is killed with SIGKILL', async () => {
    const {dir, front, k} = await twoVassals();
    const counts = new Map<string, number>();
    for (let i = 0; i < 40; i += 1) {
      const r = await request(front);
      expect(Array.isArray(r) && r[0]).toBe(200);
      if (Array.isArray(r)) counts.set(r[1], (counts.get(r[1]) ?? 0) + 1);
    }
    expect(counts.get('lb1')).toBeGreaterThanOrEqual(10);
    expect(counts.get('lb2')).toBeGreaterThanOrEqual(10);

    const running = load(front);
    await waitFor(() => (running.ok.get('lb1') ?? 0) > 20, 20_000, 'load to reach lb1');
    const pid = Number(readFileSync(join(dir, 'lb1.pid'), 'utf8').trim());
    const seen = k.lines.length;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), 5_000, 'lb1 master to die');
    await k.waitForLine('vassal lb1.toml is ready', 30_000, seen);
    const before = running.ok.get('lb1') ?? 0;
    // The restarted vassal gets requests again.
    await waitFor(() => (running.ok.get('lb1') ?? 0) > before + 10, 20_000, 'requests to the restarted lb1');
    await running.stop();
    expect(running.failed).toEqual([]);
  });

  it('drains a vassal whose file is removed, and one that reloads, failing no GET or POST', async () => {
    const {dir, front, ports, k} = await twoVassals();
    const gets = load(front, 3);
    const posts = load(front, 2, 'POST');
    await waitFor(() => (gets.ok.get('lb2') ?? 0) > 20 && (posts.ok.get('lb2 payload') ?? 0) > 10, 20_000, 'load to reach lb2');
    // Reload lb1 (a changed file) under load.
    let seen = k.lines.length;
    publish(dir, 'lb1.toml', appVassal('lb1', ports[0] as number, dir, '# changed\n'));
    await k.waitForLine('vassal lb1.toml is ready', 30_000, seen);
    const lb1Before = gets.ok.get('lb1') ?? 0;
    await waitFor(() => (gets.ok.get('lb1') ?? 0) > lb1Before + 10, 20_000, 'requests to the reloaded lb1');
    // Remove lb2 under load.
    seen = k.lines.length;
    const {unlinkSync} = await import('node:fs');
    unlinkSync(join(dir, 'lb2.toml'));
    await k.waitForLine('removed uwsgi instance lb2.toml', 30_000, seen);
    const after = gets.ok.get('lb1') ?? 0;
    await waitFor(() => (gets.ok.get('lb1') ?? 0) > after + 20, 20_000, 'requests after the removal');
    await Promise.all([gets.stop(), posts.stop()]);
    expect(gets.failed).toEqual([]);
    expect(posts.failed).toEqual([]);
  });
});
