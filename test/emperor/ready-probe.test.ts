/**
 * Readiness probes (src/emperor/ready-probe.ts) against real servers on 127.0.0.1. Issue 14: `ready = "https://…"`
 * was accepted by the parser and then threw inside the emperor at launch (node:http refuses https URLs), taking the
 * emperor down; it is probed over TLS now, without checking the certificate (as Kubernetes' https probes).
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {createServer as createHttpsServer, type Server} from 'node:https';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {AddressInfo} from 'node:net';
import {parseReadyProbe} from '../../src/config/vassal-spec.js';
import {startReadyProbe} from '../../src/emperor/ready-probe.js';
import {selfSigned} from '../helpers/tls.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** An https server on 127.0.0.1 with a self-signed certificate for another name, answering `status`. */
async function httpsServer(status: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'kaiser-probe-'));
  const crt = selfSigned(dir, 'vassal.test', 1);
  const server: Server = createHttpsServer({cert: readFileSync(crt), key: readFileSync(join(dir, 'vassal.test.key'))}, (_req, res) => {
    res.statusCode = status;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, {recursive: true, force: true});
  });
  return (server.address() as AddressInfo).port;
}

/** Resolves `ready` when the probe fires, `error: …` when it reports an error. */
function probeOutcome(url: string): {outcome: Promise<string>; cancel: () => void} {
  const probe = parseReadyProbe(url);
  if (!probe.ok) throw new Error(probe.error);
  let cancel: () => void = () => undefined;
  const outcome = new Promise<string>((resolve) => {
    cancel = startReadyProbe(probe.value, () => resolve('ready'), (error) => resolve(`error: ${String(error)}`));
  });
  cleanups.push(cancel);
  return {outcome, cancel};
}

describe('ready probes', () => {
  it('probes https:// over TLS, whatever the certificate', async () => {
    const port = await httpsServer(200);
    await expect(probeOutcome(`https://127.0.0.1:${port}/health`).outcome).resolves.toBe('ready');
  });
});
