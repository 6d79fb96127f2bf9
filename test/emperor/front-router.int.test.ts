/** The emperor's front router (--emperor-http): requests go to the vassal whose domain matches Host, waking on-demand ones. */
import {afterEach, describe, expect, it} from '@jest/globals';
import {join} from 'node:path';
import {PYTHON, ROOT, cleanupProcesses, freePort, getAsHost, startKaiser, tempDir, waitFor, publish} from '../helpers/processes.js';

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');
const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');

afterEach(cleanupProcesses);

describe('front router', () => {
  it('routes by Host, wakes an on-demand vassal, answers 404 for unknown hosts, and follows file changes', async () => {
    const dir = tempDir();
    const [front, app, cmd, later] = [await freePort(), await freePort(), await freePort(), await freePort()];
    publish(dir, 'app.toml', `http-socket = "127.0.0.1:${app}"\nwsgi-file = "${HELLO}"\non-demand = true\ndomain = "app.example.test"\n`);
    publish(dir, 'cmd.toml', `exec = ["${PYTHON}", "${SERVER}", "${cmd}"]\nready = "tcp://127.0.0.1:${cmd}"\nenv = { VERSION = "cmd" }\ndomain = ["cmd.example.test", "*.cmd.example.test"]\n`);
    const k = startKaiser(['--emperor', dir, '--emperor-http', `127.0.0.1:${front}`, '--control', join(dir, 'c.sock')]);
    await k.waitForLine('HTTP router on');
    await k.waitForLine('vassal cmd.toml is ready');
    // Routes reach the router processes over their pipe just after the vassal is ready: wait for the route itself.
    await waitFor(async () => (await getAsHost(front, 'cmd.example.test')).status === 200, 10_000, 'cmd route');
    expect(await getAsHost(front, 'cmd.example.test')).toEqual({status: 200, body: 'cmd'});
    expect((await getAsHost(front, 'x.cmd.example.test:8080')).body).toBe('cmd');
    expect(await getAsHost(front, 'app.example.test')).toEqual({status: 200, body: 'Hello World'});
    const unknown = await getAsHost(front, 'nope.example.test');
    expect(unknown.status).toBe(404);
    publish(dir, 'later.toml', `exec = ["${PYTHON}", "${SERVER}", "${later}"]\nready = "tcp://127.0.0.1:${later}"\nenv = { VERSION = "later" }\ndomain = "later.example.test"\n`);
    await waitFor(async () => (await getAsHost(front, 'later.example.test')).body === 'later', 10_000, 'new route');
  });
});
