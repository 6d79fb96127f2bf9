/**
 * The HTTPS front of a router process, in this process: certificates by SNI from an sni-dir, TLS 1.2/1.3 only,
 * HTTP/2 by ALPN bridged onto the same HTTP front (routing, pools, error pages), upgrades over HTTP/1.1, session
 * resumption across router processes that share the ticket keys.
 */
import {randomBytes} from 'node:crypto';
import {mkdirSync, renameSync} from 'node:fs';
import {connect as h2connect} from 'node:http2';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {connect} from 'node:tls';
import {cleanupProcesses, tempDir, waitFor} from '../../helpers/processes.js';
import {replacePair, selfSigned, serialOf, tlsProbe} from '../../helpers/tls.js';
import {HttpsFront, TLS_DEFAULTS} from '../../../src/router/tls/https-listener.js';
import {SniStore} from '../../../src/router/tls/sni-store.js';
import {closeRig, cleanups, startRouter, startUpstream, type RouteEntry} from '../rig.js';

afterEach(async () => {
  await closeRig();
  await cleanupProcesses();
});

/** An upstream answering "<host> <x-forwarded-proto> <path>", and upgrading `Upgrade: test` requests. */
async function echo() {
  const upstream = await startUpstream((req, res) => {
    const body = `${req.headers.host ?? '-'} ${String(req.headers['x-forwarded-proto'])} ${req.url ?? ''}`;
    res.writeHead(200, {'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-multi': ['1', '2']});
    res.end(body);
  });
  upstream.server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nupgraded'));
  return upstream;
}

async function start(dir: string, domains: string[], {h2 = true, ticketKeys = randomBytes(48)}: {h2?: boolean; ticketKeys?: Buffer} = {}) {
  const upstream = await echo();
  const entries: RouteEntry[] = [{vassal: 'echo.ini', domains, upstream: {host: '127.0.0.1', port: upstream.port}}];
  const {front, lines, port: plainPort} = await startRouter(entries);
  const store = new SniStore({dir, settings: {...TLS_DEFAULTS, ticketKeys}, log: front.context.log, recheckMs: 200});
  const https = new HttpsFront({store, front, log: front.context.log, h2, ticketKeys, handshakeTimeoutMs: 10_000});
  const server = await https.listen({port: 0, host: '127.0.0.1'});
  cleanups.push(() => https.close());
  return {port: (server.address() as AddressInfo).port, plainPort, lines, https};
}

describe('HTTPS front with an sni-dir', () => {
  it('gives each SNI name its own certificate and a name without one no certificate at all', async () => {
    const dir = tempDir();
    const a = selfSigned(dir, 'a.test', 0x1001);
    const b = selfSigned(dir, 'b.test', 0x1002);
    const {port, lines, https} = await start(dir, ['a.test', 'b.test']);
    const ra = await tlsProbe(port, 'a.test', {ca: a});
    expect(ra).toMatchObject({handshake: true, serial: serialOf(a), status: 200, body: 'a.test https /'});
    const rb = await tlsProbe(port, 'B.Test', {ca: b, host: 'b.test'});
    expect(rb).toMatchObject({handshake: true, serial: serialOf(b), status: 200});
    const unknown = await tlsProbe(port, 'nosuch.test');
    expect(unknown.handshake).toBe(false);
    expect(unknown.serial).toBeUndefined();
    const noSni = await tlsProbe(port, undefined);
    expect(noSni.handshake).toBe(false);
    // path tricks are names like any other: nothing outside the directory is read
    expect((await tlsProbe(port, '..%2f..%2fetc')).handshake).toBe(false);
    expect(lines.some((l) => l['code'] === 'KAISER_TLS_UNKNOWN_NAME')).toBe(true);
    expect(https.refusedHandshakes).toBeGreaterThanOrEqual(2);
    // a name with a certificate that no vassal serves: the router's own 404
    selfSigned(dir, 'c.test', 0x1003);
    expect(await tlsProbe(port, 'c.test')).toMatchObject({handshake: true, status: 404});
  });

  it('serves a one-label wildcard under both spellings, and an exact pair before it', async () => {
    const dir = tempDir();
    const wild = selfSigned(dir, '*.w.test', 0x2001);
    const exact = selfSigned(dir, 'x.w.test', 0x2002);
    const under = selfSigned(dir, '*.u.test', 0x2003, '_wildcard.u.test');
    const {port} = await start(dir, ['*.w.test', '*.u.test']);
    expect((await tlsProbe(port, 'a.w.test')).serial).toBe(serialOf(wild));
    expect((await tlsProbe(port, 'x.w.test')).serial).toBe(serialOf(exact));
    expect((await tlsProbe(port, 'q.u.test')).serial).toBe(serialOf(under));
    expect((await tlsProbe(port, 'w.test')).handshake).toBe(false);
    expect((await tlsProbe(port, 'a.b.w.test')).handshake).toBe(false);
  });

  it('serves a replaced certificate without a restart, and keeps the old one while the pair does not match', async () => {
    const dir = tempDir();
    const stage = join(dir, 'stage');
    mkdirSync(stage);
    const first = selfSigned(dir, 'c.test', 0x3001);
    const firstSerial = serialOf(first);
    const {port, lines} = await start(dir, ['c.test']);
    expect((await tlsProbe(port, 'c.test')).serial).toBe(firstSerial);
    // a new key alone does not match the old certificate: the old pair stays
    selfSigned(stage, 'c.test', 0x3002);
    renameSync(join(stage, 'c.test.key'), join(dir, 'c.test.key'));
    await waitFor(async () => {
      // every handshake in the meantime still gets the first certificate
      expect((await tlsProbe(port, 'c.test')).serial).toBe(firstSerial);
      return lines.some((l) => l['code'] === 'KAISER_TLS_BAD_CERTIFICATE');
    }, 5_000, 'the mismatch to be logged');
    renameSync(join(stage, 'c.test.crt'), join(dir, 'c.test.crt'));
    const second = serialOf(join(dir, 'c.test.crt'));
    await waitFor(async () => (await tlsProbe(port, 'c.test')).serial === second, 5_000, 'the new certificate to be served');
    const third = replacePair(stage, dir, 'c.test', 0x3003);
    await waitFor(async () => (await tlsProbe(port, 'c.test', {ca: third})).status === 200, 5_000, 'the third certificate to verify');
  });

  it('speaks TLS 1.2 and 1.3 only, HTTP/2 by ALPN through the same routing, and HTTP/1.1 (with upgrades) to clients that ask for it', async () => {
    const dir = tempDir();
    selfSigned(dir, 'h.test', 0x4001);
    const {port} = await start(dir, ['h.test']);
    const h2 = await tlsProbe(port, 'h.test', {alpn: ['h2', 'http/1.1'], request: false});
    expect(h2.alpn).toBe('h2');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(h2.protocol);
    expect((await tlsProbe(port, 'h.test', {request: false, alpn: ['http/1.1']})).alpn).toBe('http/1.1');
    const tls11 = await new Promise<boolean>((resolve) => {
      const s = connect({host: '127.0.0.1', port, servername: 'h.test', rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1'});
      s.once('secureConnect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    expect(tls11).toBe(false);
    // HTTP/2 requests: :authority becomes Host; a POST body (no content-length) goes through; an unknown host is the router's 404
    const session = h2connect(`https://127.0.0.1:${port}`, {servername: 'h.test', rejectUnauthorized: false});
    const ask = (headers: Record<string, string>, body?: string) => new Promise<{status: number; headers: Record<string, unknown>; body: string}>((resolve, reject) => {
      const stream = session.request(headers, {endStream: body === undefined});
      let status = 0;
      let got: Record<string, unknown> = {};
      let text = '';
      stream.on('response', (h) => ((status = Number(h[':status'])), (got = h)));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk));
      stream.on('end', () => resolve({status, headers: got, body: text}));
      stream.on('error', reject);
      if (body !== undefined) stream.end(body);
    });
    const [one, two] = await Promise.all([ask({':path': '/one', ':authority': 'h.test'}), ask({':path': '/two', ':authority': 'h.test'})]);
    expect(one).toMatchObject({status: 200, body: 'h.test https /one'});
    expect(one.headers['x-multi']).toBe('1, 2');
    expect(two.body).toBe('h.test https /two');
    expect(await ask({':path': '/p', ':method': 'POST', ':authority': 'h.test'}, 'x'.repeat(100_000))).toMatchObject({status: 200, body: 'h.test https /p'});
    expect(await ask({':path': '/', ':authority': 'nope.test'})).toMatchObject({status: 404, body: 'no vassal serves nope.test\n'});
    session.close();
    // an upgrade (WebSocket handshake) over HTTP/1.1 is passed through
    const upgraded = await new Promise<string>((resolve) => {
      const s = connect({host: '127.0.0.1', port, servername: 'h.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1']});
      let text = '';
      s.once('secureConnect', () => s.write('GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n'));
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => (text += chunk));
      s.on('close', () => resolve(text));
      s.on('error', () => undefined);
    });
    expect(upgraded).toMatch(/^HTTP\/1\.1 101 [^]*upgraded$/);
  });

  it('resumes a TLS session on another router process that shares the ticket keys, and only then', async () => {
    const dir = tempDir();
    selfSigned(dir, 't.test', 0x6001);
    const keys = randomBytes(48);
    const a = await start(dir, ['t.test'], {ticketKeys: keys});
    const b = await start(dir, ['t.test'], {ticketKeys: keys});
    const other = await start(dir, ['t.test']);
    const handshake = (port: number, session?: Buffer) => new Promise<{session: Buffer; reused: boolean}>((resolve, reject) => {
      const s = connect({host: '127.0.0.1', port, servername: 't.test', rejectUnauthorized: false, maxVersion: 'TLSv1.2', ...(session === undefined ? {} : {session})});
      s.once('secureConnect', () => {
        const reused = s.isSessionReused();
        const got = s.getSession();
        s.end();
        if (got === undefined) reject(new Error('no session'));
        else resolve({session: got, reused});
      });
      s.once('error', reject);
    });
    const first = await handshake(a.port);
    expect(first.reused).toBe(false);
    expect((await handshake(b.port, first.session)).reused).toBe(true);
    expect((await handshake(other.port, first.session)).reused).toBe(false);
  });

  it('offers HTTP/1.1 only when h2 is off', async () => {
    const dir = tempDir();
    selfSigned(dir, 'o.test', 0x5001);
    const {port} = await start(dir, ['o.test'], {h2: false});
    expect((await tlsProbe(port, 'o.test', {alpn: ['h2', 'http/1.1']})).alpn).toBe('http/1.1');
    expect((await tlsProbe(port, 'o.test')).status).toBe(200);
  });
});
