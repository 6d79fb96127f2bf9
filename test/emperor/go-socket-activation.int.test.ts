/**
 * A Go server as a socket-activated command vassal (issue 19): built from test/fixtures/go/socket-server.go with
 * Debian's golang-go, it serves on `net.FileListener(os.NewFile(3, …))`, says READY=1, and drains on SIGTERM; a
 * reload under load switches versions with no failed request, and a version that fails at start leaves the old one
 * serving.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, httpGet, publish, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';
import {startLoad} from '../helpers/load.js';

const HAS_GO = spawnSync('go', ['version']).status === 0;
let binary = '';
let buildDir = '';

function vassal(port: number, version: string, extra = ''): string {
  return `exec = ["${binary}"]\nsocket = "tcp://127.0.0.1:${port}"\nready = "notify"\nenv = { VERSION = "${version}"${extra} }\n`;
}

(HAS_GO ? describe : describe.skip)('a Go server on the emperor\'s socket', () => {
  beforeAll(() => {
    // not a tempDir(): those go after each test, and the binary serves them all
    buildDir = mkdtempSync(join(tmpdir(), 'kaiser-go-'));
    binary = join(buildDir, 'socket-server');
    execFileSync('go', ['build', '-o', binary, join(ROOT, 'test/fixtures/go/socket-server.go')], {
      env: {...process.env, GO111MODULE: 'off', CGO_ENABLED: '0', GOFLAGS: ''},
      timeout: 240_000,
    });
  }, 300_000);
  afterEach(cleanupProcesses);
  afterAll(async () => {
    await cleanupProcesses();
    if (buildDir) rmSync(buildDir, {recursive: true, force: true});
  });

  it('serves, and reloads under load with no failed request', async () => {
    const dir = tempDir();
    const emperor = startKaiser(['--emperor', dir]);
    await emperor.waitForLine('starting kaiser Emperor');
    const port = await freePort();
    publish(dir, 'go.toml', vassal(port, 'a'));
    expect((await waitFor200(port, 20_000)).body).toBe('a');
    const load = startLoad(port, 4);
    publish(dir, 'go.toml', vassal(port, 'b'));
    await waitFor(async () => (await httpGet(port))?.body === 'b', 20_000, 'serving b');
    const t = Date.now();
    await waitFor(() => Date.now() - t > 500, 2000, 'half a second more load');
    const result = await load.stop();
    expect(result.failed).toBe(0);
    expect(result.bodies.get('a')).toBeGreaterThan(0);
    expect(result.bodies.get('b')).toBeGreaterThan(0);
  });

  it('keeps the old version serving when the new one fails at start', async () => {
    const dir = tempDir();
    const emperor = startKaiser(['--emperor', dir]);
    await emperor.waitForLine('starting kaiser Emperor');
    const port = await freePort();
    publish(dir, 'go.toml', vassal(port, 'a'));
    await waitFor200(port, 20_000);
    publish(dir, 'go.toml', vassal(port, 'b', ', FAIL_AT_START = "1"'));
    await emperor.waitForLine(/reload of go\.toml failed/, 20_000);
    expect((await httpGet(port))?.body).toBe('a');
  });
});
