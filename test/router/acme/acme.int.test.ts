/**
 * ACME against a real ACME server (Debian's pebble): a vassal with a domain and no certificate gets one through a
 * real HTTP-01 validation on the emperor's plain router, served over HTTPS with a chain that verifies against
 * pebble's root; keys are 0600; a short-lived certificate is renewed before it expires and served without a restart.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, publish, startKaiser, tempDir, waitFor} from '../../helpers/processes.js';
import {startPebble} from '../../helpers/pebble.js';
import {tlsProbe} from '../../helpers/tls.js';

/** Debian's pebble (and its pebble-challtestsrv), installed by .ci/run. */
const PEBBLE = existsSync('/usr/bin/pebble') && existsSync('/usr/bin/pebble-challtestsrv');

const WHOAMI = join(ROOT, 'test/fixtures/apps/whoami-scheme.py');

afterEach(cleanupProcesses);

async function emperorWithPebble(validitySeconds?: number) {
  const dir = tempDir();
  const vassals = join(dir, 'vassals');
  const sni = join(dir, 'sni');
  for (const d of [vassals, sni]) (await import('node:fs')).mkdirSync(d);
  const [http, https, app] = [await freePort(), await freePort(), await freePort()];
  const pebble = await startPebble(dir, {httpPort: http, ...(validitySeconds === undefined ? {} : {validitySeconds})});
  publish(vassals, 'c.toml', `http-socket = "127.0.0.1:${app}"\nwsgi-file = "${WHOAMI}"\nprocesses = 1\nenv = ["WHOAMI=c"]\ndomain = "c.test"\n`);
  const kaiser = startKaiser(['--emperor', vassals, '--emperor-http', `127.0.0.1:${http}`, '--emperor-https', `127.0.0.1:${https}`, '--sni-dir', sni,
    '--acme-directory', pebble.directoryUrl, '--acme-ca-file', pebble.caFile, '--acme-email', 'ops@example.test', '--control', join(dir, 'control.sock')]);
  return {dir, sni, http, https, pebble, kaiser};
}

(PEBBLE ? describe : describe.skip)(PEBBLE ? 'ACME with pebble' : 'ACME with pebble (skipped: no pebble; apt-get install pebble)', () => {
  it('gets a certificate for a vassal domain by HTTP-01 on the plain router and serves it with its chain', async () => {
    const {dir, sni, https, pebble, kaiser} = await emperorWithPebble();
    await kaiser.waitForLine('[acme] certificate for c.test issued', 60_000);
    const rootFile = join(dir, 'pebble-root.pem');
    writeFileSync(rootFile, await pebble.root());
    const served = await waitFor(async () => {
      const probe = await tlsProbe(https, 'c.test', {ca: rootFile});
      return probe.status === 200 ? probe : undefined;
    }, 10_000, 'c.test over HTTPS with a certificate that verifies against pebble\'s root');
    expect(served.body).toBe('c https /');
    expect(served.issuer).toMatch(/Pebble/);
    // the CA really fetched the challenge from the router
    expect(pebble.process.lines.some((l) => l.includes('Attempting to validate w/ HTTP: http://c.test:'))).toBe(true);
    expect(statSync(join(sni, 'c.test.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(sni, '.acme', 'account.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(sni, '.acme')).mode & 0o777).toBe(0o700);
    expect(statSync(join(sni, 'c.test.key')).uid).toBe(process.getuid?.());
  });

  it('renews a certificate before it expires and serves the new one without a restart', async () => {
    const {https, kaiser} = await emperorWithPebble(24);
    await kaiser.waitForLine('[acme] certificate for c.test issued', 60_000);
    const first = await waitFor(async () => (await tlsProbe(https, 'c.test')).serial, 10_000, 'the first certificate');
    const issued = kaiser.lines.length;
    // 24 s of validity: renewal is due when a third is left (after ~16 s)
    await kaiser.waitForLine('[acme] certificate for c.test issued', 40_000, issued);
    const second = await waitFor(async () => {
      const serial = (await tlsProbe(https, 'c.test')).serial;
      return serial !== undefined && serial !== first ? serial : undefined;
    }, 10_000, 'the renewed certificate to be served');
    expect(second).not.toBe(first);
    expect(kaiser.child.exitCode).toBeNull();
  });

  it('reports a failed order with its cause and when it tries again', async () => {
    const dir = tempDir();
    const {mkdirSync} = await import('node:fs');
    mkdirSync(join(dir, 'vassals'));
    mkdirSync(join(dir, 'sni'));
    const [https, app, nothing] = [await freePort(), await freePort(), await freePort()];
    publish(join(dir, 'vassals'), 'c.toml', `http-socket = "127.0.0.1:${app}"\nwsgi-file = "${WHOAMI}"\ndomain = ["c.test", "*.w.test"]\n`);
    const kaiser = startKaiser(['--emperor', join(dir, 'vassals'), '--emperor-https', `127.0.0.1:${https}`, '--sni-dir', join(dir, 'sni'),
      '--acme-directory', `https://127.0.0.1:${nothing}/dir`, '--control', join(dir, 'control.sock')]);
    const line = await kaiser.waitForLine('cannot get a certificate for c.test', 30_000);
    expect(line).toMatch(/cannot get a certificate for c\.test from https:\/\/127\.0\.0\.1:\d+\/dir: .*ECONNREFUSED.*\(next try in 60 s\)/);
    await kaiser.waitForLine('no certificate will be ordered for *.w.test: a wildcard name needs the DNS-01 challenge', 5_000);
    // no certificate: handshakes for c.test are refused, the emperor keeps running
    expect((await tlsProbe(https, 'c.test')).handshake).toBe(false);
    expect(kaiser.child.exitCode).toBeNull();
  });
});
