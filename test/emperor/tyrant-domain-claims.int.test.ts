/**
 * Domain claims outlive the emperor (issue 14, "a contested domain goes to the first file name in sort order"): in
 * tyrant mode a domain stays with the tenant whose vassal claimed it first, also after the emperor restarts, because
 * the claims are kept in a file in `--emperor-state-dir`. With real users (root creates kaiser-t1 and kaiser-t2).
 * Fails on the code before the fix: the claims lived in memory only, so after the restart the other tenant's file
 * (`aa-bob.toml`, read first) took the domain.
 */
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {claimsFilePath} from '../../src/router/domain-claims-file.js';
import {PYTHON, ROOT, cleanupProcesses, freePort, getAsHost, startKaiser, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {IS_ROOT, ensureUser, publishAs, type User} from '../helpers/users.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');

afterEach(() => cleanupProcesses());

/** The body of one answer, or '' when the connection fails (a vassal not listening yet). */
const bodyOf = (port: number, host: string) => getAsHost(port, host).then((res) => res.body, () => '');

/** Answers of `count` requests for `host` through the router. */
async function answers(port: number, host: string, count = 6): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push((await getAsHost(port, host)).body);
  return out;
}

/** A shared sticky vassal directory and a state directory, below a directory the tenants can enter. */
function setup(): {root: string; vassals: string; state: string} {
  const root = tempDir();
  chmodSync(root, 0o755);
  const vassals = join(root, 'vassals');
  mkdirSync(vassals, {mode: 0o1777});
  chmodSync(vassals, 0o1777);
  return {root, vassals, state: join(root, 'state')};
}

/** A tenant's command vassal: an HTTP server on `port` answering `name`, declaring `domain`. */
const shop = (port: number, name: string, domain: string) =>
  `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\nenv = { VERSION = "${name}" }\ndomain = "${domain}"\n`;

const suite = IS_ROOT ? describe : describe.skip;
const title = IS_ROOT ? 'domain claims across an emperor restart (tyrant mode)' : 'domain claims across an emperor restart (SKIPPED: needs root to create test users)';

suite(title, () => {
  let alice: User;
  let bob: User;
  beforeAll(() => {
    alice = ensureUser('kaiser-t1');
    bob = ensureUser('kaiser-t2');
  });

  async function stop(e: Started): Promise<void> {
    e.signal('SIGTERM');
    await e.exited;
  }

  it('keeps a contested domain with the tenant that claimed it first after a restart, whatever the file names', async () => {
    const {root, vassals, state} = setup();
    const [front, pa, pb] = [await freePort(), await freePort(), await freePort()];
    const args = ['--emperor', vassals, '--emperor-tyrant', '--emperor-freq', '1', '--emperor-http', `127.0.0.1:${front}`,
      '--emperor-state-dir', state, '--control', join(root, 'control.sock')];
    let e = startKaiser(args);
    await e.waitForLine('HTTP router on', 15_000);
    publishAs(vassals, 'zz-alice.toml', shop(pa, 'alice', 'shop.test'), alice);
    await waitFor(async () => (await bodyOf(front, 'shop.test')) === 'alice', 15_000, "alice's vassal serving shop.test");
    // bob's file sorts first and names alice's domain: refused while alice holds it.
    publishAs(vassals, 'aa-bob.toml', shop(pb, 'bob', 'shop.test'), bob);
    await e.waitForLine(/domain shop\.test of aa-bob\.toml is already served by zz-alice\.toml/, 15_000);
    await waitFor(async () => (await bodyOf(pb, 'anything')) === 'bob', 15_000, "bob's vassal serving on its own port");
    expect(await answers(front, 'shop.test')).toEqual(Array(6).fill('alice'));

    // The claim is on disk: root's, 0600, naming alice's uid and file.
    const file = claimsFilePath(state, vassals);
    await waitFor(() => existsSync(file), 5_000, `the claims file ${file}`);
    const st = statSync(file);
    expect({uid: st.uid, mode: (st.mode & 0o777).toString(8)}).toEqual({uid: 0, mode: '600'});
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {vassals: string; claims: Record<string, {uid: number; vassal: string}>};
    expect(saved.vassals).toBe(vassals);
    expect(saved.claims['shop.test']).toMatchObject({uid: alice.uid, vassal: 'zz-alice.toml'});

    // Restart: both files are read in name order (aa-bob.toml first), yet alice keeps shop.test.
    await stop(e);
    e = startKaiser(args);
    await e.waitForLine('HTTP router on', 15_000);
    await e.waitForLine(/domain shop\.test of aa-bob\.toml is already served by zz-alice\.toml/, 15_000);
    await waitFor(async () => (await bodyOf(front, 'shop.test')) === 'alice', 15_000, "alice's vassal serving shop.test again");
    await waitFor(async () => (await bodyOf(pb, 'anything')) === 'bob', 15_000, "bob's vassal serving again");
    expect(await answers(front, 'shop.test')).toEqual(Array(6).fill('alice'));
    expect(e.output()).not.toMatch(/domain shop\.test of zz-alice\.toml/);
    await stop(e);
  });

  it("ignores a claims file a tenant planted, says so naming the file, and routes as if there were none", async () => {
    const {root, vassals, state} = setup();
    const [front, pa, pb] = [await freePort(), await freePort(), await freePort()];
    mkdirSync(state, {mode: 0o700});
    const file = claimsFilePath(state, vassals);
    // Well-formed, claiming shop.test for bob, but bob's file: not the emperor's.
    writeFileSync(file, JSON.stringify({kaiser: 'domain-claims', version: 1, vassals, claims: {'shop.test': {uid: bob.uid, vassal: 'zz-bob.toml', since: new Date().toISOString()}}}));
    chownSync(file, bob.uid, bob.gid);
    publishAs(vassals, 'aa-alice.toml', shop(pa, 'alice', 'shop.test'), alice);
    publishAs(vassals, 'zz-bob.toml', shop(pb, 'bob', 'shop.test'), bob);
    const e = startKaiser(['--emperor', vassals, '--emperor-tyrant', '--emperor-freq', '1', '--emperor-http', `127.0.0.1:${front}`,
      '--emperor-state-dir', state, '--control', join(root, 'control.sock')]);
    await e.waitForLine(new RegExp(`KAISER_STATE_FILE_INVALID state file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ignored: it belongs to uid ${bob.uid}, not to the emperor \\(uid 0\\)`), 15_000);
    await e.waitForLine(/domain shop\.test of zz-bob\.toml is already served by aa-alice\.toml/, 15_000);
    await waitFor(async () => (await bodyOf(front, 'shop.test')) === 'alice', 15_000, "alice's vassal serving shop.test");
    // The emperor's own file replaces the planted one.
    await waitFor(() => statSync(file).uid === 0, 5_000, 'the claims file rewritten by the emperor');
    expect((JSON.parse(readFileSync(file, 'utf8')) as {claims: Record<string, {uid: number}>}).claims['shop.test']?.uid).toBe(alice.uid);
    await stop(e);
  });
});
