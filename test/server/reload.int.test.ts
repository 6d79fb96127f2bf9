/**
 * Zero-loss graceful reload of the Python master: SIGHUP under load serves new code with no
 * failed request; a reload whose new code fails to load keeps the old workers; chain reload.
 */
import {writeFileSync} from 'node:fs';
import {Agent} from 'node:http';
import {request as httpRequest} from 'node:http';
import {join} from 'node:path';
import {afterAll, describe, expect, test} from '@jest/globals';
import {cleanup, get, startMaster, tempDir, until, type Master} from './helpers/master.js';

afterAll(cleanup);

function appSource(version: string): string {
  return `import os\n\ndef application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'${version} ' + str(os.getpid()).encode()]\n`;
}

function keepAliveGet(agent: Agent, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({host: '127.0.0.1', port, path: '/', agent}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Runs `n` request loops (new connection per request, and one keep-alive agent) until stop(). */
function load(port: number, n: number) {
  const bodies: string[] = [];
  const failures: string[] = [];
  let running = true;
  const agent = new Agent({keepAlive: true, maxSockets: 2});
  const loops = Array.from({length: n}, async (_, i) => {
    while (running) {
      try {
        const body = i % 2 === 0 ? (await get(port, '/')).body.toString() : await keepAliveGet(agent, port);
        bodies.push(body);
      } catch (e) {
        failures.push(String(e));
      }
    }
  });
  return {
    bodies,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

async function versioned(extra: Record<string, unknown> = {}): Promise<{m: Master; port: number; file: string}> {
  const dir = tempDir();
  const file = join(dir, 'app.py');
  writeFileSync(file, appSource('v1'));
  const {m, port} = await startMaster({'wsgi-file': file, processes: 2, ...extra});
  return {m, port, file};
}

describe('graceful reload', () => {
  test('SIGHUP under load: zero failed requests, new code served afterwards', async () => {
    const {m, port, file} = await versioned({threads: 2});
    const l = load(port, 6);
    await until(() => l.bodies.length > 200, 10000, 'load running');
    writeFileSync(file, appSource('v2'));
    const from = m.lines.length;
    m.signal('SIGHUP');
    await m.waitFor(/graceful reload done/, 10000, from);
    const at = l.bodies.length;
    await until(() => l.bodies.length > at + 200, 10000, 'load after reload');
    await l.stop();
    expect(l.failures).toEqual([]);
    expect(l.bodies[0]).toMatch(/^v1 /);
    expect(l.bodies[l.bodies.length - 1]).toMatch(/^v2 /);
    await until(() => m.count(/retired \(reload\)/) === 2, 10000, 'old workers retired');
  });

  test('chain reload (FIFO c) under load: zero failed requests', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    const {m, port, file} = await versioned({'master-fifo': [fifo]});
    const l = load(port, 4);
    await until(() => l.bodies.length > 100, 10000, 'load running');
    writeFileSync(file, appSource('v2'));
    const from = m.lines.length;
    writeFileSync(fifo, 'c');
    await m.waitFor(/graceful reload done/, 10000, from);
    expect(m.count(/chain reload: worker \d/)).toBe(2);
    const at = l.bodies.length;
    await until(() => l.bodies.length > at + 100, 10000, 'load after reload');
    await l.stop();
    expect(l.failures).toEqual([]);
    expect(l.bodies[l.bodies.length - 1]).toMatch(/^v2 /);
  });

  test('a reload whose code fails to load keeps the old workers serving', async () => {
    const {m, port, file} = await versioned();
    const pids = new Set<string>();
    for (let i = 0; i < 6; i++) pids.add((await get(port, '/')).body.toString());
    writeFileSync(file, 'def application(:\n');
    const from = m.lines.length;
    m.signal('SIGHUP');
    await m.waitFor(/reload failed, the old workers keep serving/, 10000, from);
    expect(m.lines.slice(from).join('\n')).toContain('SyntaxError');
    for (let i = 0; i < 10; i++) {
      const body = (await get(port, '/')).body.toString();
      expect(body).toMatch(/^v1 /);
      expect(pids.has(body) || pids.size < 2).toBe(true);
    }
    // fixing the code and reloading again works
    writeFileSync(file, appSource('v3'));
    m.signal('SIGHUP');
    await m.waitFor(/graceful reload done/, 10000, from);
    await until(() => m.count(/retired \(reload\)/) === 2, 10000, 'old workers retired');
    expect((await get(port, '/')).body.toString()).toMatch(/^v3 /);
  });
});
