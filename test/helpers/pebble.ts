/**
 * A real ACME server for tests: Debian's `pebble` on loopback, with `pebble-challtestsrv` as its DNS (every name
 * resolves to 127.0.0.1, no AAAA), so HTTP-01 challenges are fetched from the front router's plain port for real.
 * Debian's package ships no test certificate: pebble's own HTTPS certificate comes from a CA made here, and that
 * CA file is what kaiser gets as --acme-ca-file. Processes are tracked by the process rig (cleanupProcesses).
 */
import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {request} from 'node:https';
import {join} from 'node:path';
import {freePort, startProcess, type Started} from './processes.js';

export interface Pebble {
  readonly directoryUrl: string;
  /** The CA that signed pebble's HTTPS certificate (for --acme-ca-file). */
  readonly caFile: string;
  readonly process: Started;
  /** pebble's current root certificate (PEM), which issued certificates chain to. */
  root(): Promise<string>;
}

/** Starts pebble whose HTTP-01 validation connects to `httpPort` on 127.0.0.1. */
export async function startPebble(dir: string, {httpPort, validitySeconds}: {httpPort: number; validitySeconds?: number}): Promise<Pebble> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, {stdio: 'ignore'});
  const caKey = join(dir, 'acme-ca.key');
  const caFile = join(dir, 'acme-ca.crt');
  const key = join(dir, 'pebble.key');
  const csr = join(dir, 'pebble.csr');
  const crt = join(dir, 'pebble.crt');
  const ext = join(dir, 'pebble.ext');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '3', '-subj', '/CN=loopback test CA for pebble');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', '7', '-out', crt, '-days', '3', '-extfile', ext);
  const [acmePort, managementPort, tlsPort, dnsPort, dnsManagement] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'pebble.json');
  writeFileSync(config, JSON.stringify({pebble: {
    listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${managementPort}`, certificate: crt, privateKey: key,
    httpPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
    ...(validitySeconds === undefined ? {} : {certificateValidityPeriod: validitySeconds}),
  }}));
  const dns = startProcess('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagement}`, '-defaultIPv6', ''], {cwd: dir});
  await dns.waitForLine('Starting challenge servers', 15_000);
  // PEBBLE_WFE_NONCEREJECT stays at its default (5 % of nonces refused): the client must retry them.
  const pebble = startProcess('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], {cwd: dir, env: {...process.env, PEBBLE_VA_NOSLEEP: '1'}});
  await pebble.waitForLine('ACME directory available', 15_000);
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    caFile,
    process: pebble,
    root: () => new Promise<string>((resolve, reject) => {
      const req = request({host: '127.0.0.1', port: managementPort, path: '/roots/0', ca: readFileSync(caFile)}, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    }),
  };
}
