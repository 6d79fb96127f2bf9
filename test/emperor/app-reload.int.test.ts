/**
 * Zero-loss reloads of app-server vassals under load: by editing the file, by touching it, by SIGHUP to the emperor
 * and to the master, and a failing new version that rolls back. Every request must succeed.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {renameSync, utimesSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {cleanupProcesses, freePort, httpGet, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';
import {startLoad} from '../helpers/load.js';

afterEach(async () => {
  await load?.stop();
  load = undefined;
  await cleanupProcesses();
});

async function setup(processes = 2): Promise<{
  dir: string;
  port: number;
  emperor: ReturnType<typeof startKaiser>;
  writeApp: (version: string, broken?: boolean) => void;
  publish: (extra?: string) => void;
}> {
  const dir = tempDir();
  const port = await freePort();
  const app = join(dir, 'app.py');
  const writeApp = (version: string, broken = false) =>
    writeFileSync(
      app,
      broken
        ? `def application(env, start_response)\n    return [b'${version}']\n`
        : `def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'${version}']\n`,
    );
  const publish = (extra = '') => {
    writeFileSync(join(dir, '.app.ini.tmp'), `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = app.py\nmaster = true\nprocesses = ${processes}\n${extra}`);
    renameSync(join(dir, '.app.ini.tmp'), join(dir, 'app.ini'));
  };
  writeApp('v1');
  const emperor = startKaiser(['--emperor', dir]);
  publish();
  await waitFor200(port, 15_000);
  await emperor.waitForLine('vassal app.ini is ready to accept requests');
  return {dir, port, emperor, writeApp, publish};
}

let load: ReturnType<typeof startLoad> | undefined;

async function underLoad(port: number, action: () => Promise<void>) {
  load = startLoad(port, 4);
  await waitFor(() => load!.result.ok > 0, 2000, 'load running');
  await action();
  return load.stop();
}

/** Waits until the load (when running) has been answered with `body`, or a probe has. */
const served = (port: number, body: string) =>
  waitFor(async () => (load ? load.result.bodies.has(body) : (await httpGet(port))?.body === body), 15_000, `body ${body}`);

describe('app-server vassal reloads under load', () => {
  it('edit of the vassal file: zero failures, new code served', async () => {
    const {port, writeApp, publish} = await setup();
    const result = await underLoad(port, async () => {
      writeApp('v2');
      publish('; edited\n');
      await served(port, 'v2');
    });
    expect(result.errors).toEqual({});
    expect(result.bodies.get('v2')).toBeGreaterThan(0);
  });

  it('touch of the vassal file: zero failures, new code served', async () => {
    const {dir, port, writeApp} = await setup();
    const result = await underLoad(port, async () => {
      writeApp('v2');
      const later = new Date(Date.now() + 2000);
      utimesSync(join(dir, 'app.ini'), later, later);
      await served(port, 'v2');
    });
    expect(result.errors).toEqual({});
  });

  it('SIGHUP to the emperor and to the master: zero failures, new code served', async () => {
    const {port, emperor, writeApp} = await setup();
    const result = await underLoad(port, async () => {
      writeApp('v2');
      emperor.signal('SIGHUP');
      await served(port, 'v2');
      writeApp('v3');
      const masterPid = Number(/spawned uWSGI master process \(pid: (\d+)\)/.exec(emperor.output())?.[1]);
      expect(masterPid).toBeGreaterThan(0);
      process.kill(masterPid, 'SIGHUP');
      await served(port, 'v3');
    });
    expect(result.errors).toEqual({});
  });

  it('a new version that fails to load rolls back: zero failures, old code keeps serving, state reload-failed', async () => {
    const {port, emperor, writeApp, publish} = await setup();
    const result = await underLoad(port, async () => {
      writeApp('v2', true);
      publish('; broken\n');
      await emperor.waitForLine(/reload failed/, 15_000);
    });
    expect(result.errors).toEqual({});
    load = undefined;
    expect((await httpGet(port))?.body).toBe('v1');
    writeApp('v3');
    publish('; fixed\n');
    await served(port, 'v3').catch((e) => {
      throw new Error(`${String(e)}\n${emperor.output().split('\n').filter((l) => !l.includes('GET /')).slice(-40).join('\n')}`);
    });
  });

  it('all-at-once reload mode (start N new, then retire N old) also loses nothing', async () => {
    const {port, writeApp, publish} = await setup(3);
    const result = await underLoad(port, async () => {
      writeApp('v2');
      publish('reload-mode = all\n');
      await served(port, 'v2');
    });
    expect(result.errors).toEqual({});
  });
});

describe('Node app-server vassal reloads', () => {
  it('reloads a node-app vassal with new code under load, with zero failures', async () => {
    const dir = tempDir();
    const port = await freePort();
    const app = join(dir, 'app.mjs');
    const writeApp = (version: string) => writeFileSync(app, `export default {fetch() { return new Response('${version}'); }};\n`);
    const publishToml = (extra = '') => {
      writeFileSync(join(dir, '.node.toml.tmp'), `http-socket = "127.0.0.1:${port}"\nnode-app = "app.mjs"\nprocesses = 2\n${extra}`);
      renameSync(join(dir, '.node.toml.tmp'), join(dir, 'node.toml'));
    };
    writeApp('n1');
    const emperor = startKaiser(['--emperor', dir]);
    publishToml();
    expect((await waitFor200(port, 20_000)).body).toBe('n1');
    const result = await underLoad(port, async () => {
      writeApp('n2');
      publishToml('# edited\n');
      await served(port, 'n2');
    });
    if (Object.keys(result.errors).length) throw new Error(`${JSON.stringify(result.errors)}\n${emperor.output().split('\n').filter((l) => !l.includes('GET /')).slice(-40).join('\n')}`);
  });
});
