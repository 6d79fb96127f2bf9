import {readFileSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import {AcmeManager, renewAt, type CertificateSource} from '../../../src/router/acme/acme-manager.js';
import {ensureAcmeDirs} from '../../../src/router/acme/cert-files.js';
import {SniStore} from '../../../src/router/tls/sni-store.js';
import {TLS_DEFAULTS} from '../../../src/router/tls/https-listener.js';
import {captureLogger} from '../../helpers/capture-logger.js';
import {cleanupProcesses, tempDir} from '../../helpers/processes.js';
import {selfSigned} from '../../helpers/tls.js';

afterEach(cleanupProcesses);

const DAY = 86_400_000;

/** A CA that fails while `failing` is set, and otherwise hands out the same self-signed pair. */
function fakeSource(dir: string): CertificateSource & {orders: string[]; failing: boolean} {
  const crt = selfSigned(dir, 'made.test', 0x77);
  const source = {
    orders: [] as string[],
    failing: true,
    async order(domain: string) {
      source.orders.push(domain);
      if (source.failing) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'});
      return {keyPem: readFileSync(join(dir, 'made.test.key')), certPem: readFileSync(crt, 'utf8'), notAfterMs: Date.parse('2030-01-01T00:00:00Z')};
    },
  };
  return source;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((r) => setImmediate(r));
}

describe('AcmeManager', () => {
  it('orders a missing certificate, backs off 1, 2, 4 min after failures, and orders at most 5 times an hour', async () => {
    const sni = tempDir();
    ensureAcmeDirs(sni);
    const {log, lines} = captureLogger();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const source = fakeSource(tempDir());
    const store = new SniStore({dir: sni, settings: TLS_DEFAULTS, log, recheckMs: 0});
    const manager = new AcmeManager({sniDir: sni, directoryUrl: 'https://ca.test/dir', store, source, wantedDomains: () => ['a.example.test', '*.w.example.test', 'localhost'], log, now: () => now});
    const tickAt = async (at: number) => {
      now = at;
      manager.tick();
      await settle();
    };
    const start = now;
    await tickAt(start);
    expect(source.orders).toEqual(['a.example.test']);
    expect(manager.stateOf('a.example.test')).toMatchObject({id: 'backoff', failures: 1, retryAt: start + 60_000});
    await tickAt(start + 59_999);
    expect(source.orders).toHaveLength(1);
    await tickAt(start + 60_000);
    expect(manager.stateOf('a.example.test')).toMatchObject({id: 'backoff', failures: 2, retryAt: start + 60_000 + 120_000});
    await tickAt(start + 180_000);
    await tickAt(start + 180_000 + 240_000);
    await tickAt(start + 420_000 + 480_000);
    expect(source.orders).toHaveLength(5);
    // the sixth try would be due at 900 s + 16 min, still within the hour of the first: the rate limit holds it
    await tickAt(start + 900_000 + 960_000);
    expect(source.orders).toHaveLength(5);
    source.failing = false;
    await tickAt(start + 3_600_001);
    expect(source.orders).toHaveLength(6);
    expect(manager.stateOf('a.example.test')).toMatchObject({id: 'valid', ours: true});
    expect(readFileSync(join(sni, 'a.example.test.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(lines.filter((l) => l['code'] === 'KAISER_ACME_FAILED')).toHaveLength(5);
    expect(lines.filter((l) => l['code'] === 'KAISER_ACME_SKIPPED').map((l) => l['domain'])).toEqual(['*.w.example.test', 'localhost']);
    // valid until 2030: nothing more to do
    await tickAt(start + 2 * 3_600_000);
    expect(source.orders).toHaveLength(6);
  });

  it('leaves a certificate the operator put in the sni-dir alone, and orders again when it is removed', async () => {
    const sni = tempDir();
    ensureAcmeDirs(sni);
    selfSigned(sni, 'b.example.test', 0x99);
    const {log} = captureLogger();
    const source = fakeSource(tempDir());
    source.failing = false;
    const store = new SniStore({dir: sni, settings: TLS_DEFAULTS, log, recheckMs: 0});
    const manager = new AcmeManager({sniDir: sni, directoryUrl: 'https://ca.test/dir', store, source, wantedDomains: () => ['b.example.test'], log, now: () => Date.now() + 10 * DAY});
    manager.tick();
    await settle();
    expect(source.orders).toEqual([]);
    expect(manager.stateOf('b.example.test')).toMatchObject({id: 'valid', ours: false});
    rmSync(join(sni, 'b.example.test.crt'));
    manager.tick();
    await settle();
    expect(source.orders).toEqual(['b.example.test']);
  });

  it('renews when a third of the lifetime is left, at most 30 days before expiry', () => {
    expect(renewAt(0, 90 * DAY)).toBe(60 * DAY);
    expect(renewAt(0, 30 * DAY)).toBe(20 * DAY);
    expect(renewAt(0, 365 * DAY)).toBe(335 * DAY);
  });
});
