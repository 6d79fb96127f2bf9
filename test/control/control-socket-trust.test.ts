/**
 * The client side of the control socket (issue 14): at the default path, a socket or directory that belongs to
 * another ordinary user is not trusted (another user could plant a fake emperor there for `kaiser ls`); root's and
 * our own are. With root (CI), a real foreign owner is made with chown; the end-to-end check runs `kaiser ls` as
 * another uid against a planted socket.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFile} from 'node:child_process';
import {chmodSync, chownSync, mkdirSync} from 'node:fs';
import {createServer, type Server} from 'node:net';
import {join} from 'node:path';
import {untrustedControlSocket} from '../../src/control/control-path.js';
import {KAISER_BIN, tempDir} from '../helpers/processes.js';

const IS_ROOT = process.getuid?.() === 0;
const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((server) => server.close()));

/** A socket at DIR/kaiser/control.sock answering every request with one forged `ls` row. */
async function plantedSocket(dir: string): Promise<string> {
  const sockDir = join(dir, 'kaiser');
  mkdirSync(sockDir, {mode: 0o777});
  chmodSync(sockDir, 0o777);
  const path = join(sockDir, 'control.sock');
  const row = {name: 'FORGED-ROW.toml', kind: 'command', state: 'ready', pid: 1, cpu: 0, rss: 0, uptime: 0, restarts: 0, sockets: [], lastError: null, source: 'forged'};
  const server = createServer((c) => {
    c.on('error', () => undefined);
    c.once('data', () => c.end(`${JSON.stringify({ok: true, vassals: [row]})}\n`));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(path, 0o777);
  return path;
}

describe('control socket at the default path', () => {
  it('trusts our own socket and directory', async () => {
    const dir = tempDir();
    const path = await plantedSocket(dir);
    expect(untrustedControlSocket(path)).toBeUndefined();
  });

  (IS_ROOT ? it : it.skip)('refuses a socket or directory another ordinary user owns; root\'s is trusted', async () => {
    const dir = tempDir();
    const path = await plantedSocket(dir);
    chownSync(path, 40001, 40001);
    expect(untrustedControlSocket(path, 40002)).toMatch(/control\.sock belongs to uid 40001, not to you \(uid 40002\) or root/);
    expect(untrustedControlSocket(path, 40001)).toBeUndefined();
    chownSync(path, 0, 0);
    chownSync(join(dir, 'kaiser'), 40001, 40001);
    expect(untrustedControlSocket(path, 40002)).toMatch(/kaiser belongs to uid 40001/);
    chownSync(join(dir, 'kaiser'), 0, 0);
    expect(untrustedControlSocket(path, 40002)).toBeUndefined();
  });

  (IS_ROOT ? it : it.skip)('kaiser ls as another user does not print what a planted socket answers', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const path = await plantedSocket(dir);
    chownSync(join(dir, 'kaiser'), 40001, 40001);
    chownSync(path, 40001, 40001);
    const env = {PATH: process.env['PATH'] ?? '/usr/bin:/bin', XDG_RUNTIME_DIR: dir, HOME: dir};
    // Run asynchronously: the planted server lives in this process and must answer meanwhile.
    const run = (uid: number) =>
      new Promise<string>((resolve) => {
        const args = [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, KAISER_BIN, 'ls'];
        execFile('setpriv', args, {env, cwd: '/', timeout: 20_000}, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`));
      });
    const asOther = await run(40002);
    expect(asOther).toContain('KAISER_CONTROL_SOCKET_FOREIGN');
    expect(asOther).not.toContain('FORGED-ROW');
    // The planted socket's owner does get its answer: the check above is what refused it.
    expect(await run(40001)).toContain('FORGED-ROW');
  });
});
