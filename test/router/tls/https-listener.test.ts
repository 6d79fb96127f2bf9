import {randomBytes} from 'node:crypto';
import {mkdirSync} from 'node:fs';
import {connect as h2connect} from 'node:http2';
import {join} from 'node:path';
import {cleanupProcesses, tempDir, waitFor} from '../../helpers/processes.js';
import {captureLogger} from '../../helpers/capture-logger.js';
import {replacePair, selfSigned, serialOf, tlsProbe} from '../../helpers/tls.js';
import {startHttpsListener, TLS_DEFAULTS, type HttpsListener, type RequestHandlers} from '../../../src/router/tls/https-listener.js';
import {SniStore} from '../../../src/router/tls/sni-store.js';

const listeners: HttpsListener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.close(100);
  await cleanupProcesses();
});

/** Answers "<host> <http version> <proto>" so the test sees which name and transport arrived. */
const echoHandlers: RequestHandlers = {
  request(req, res) {
    const body = `${req.headers.host ?? '-'} ${req.httpVersion}`;
    res.writeHead(200, {'content-type': 'text/plain', 'content-length': Buffer.byteLength(body)});
    res.end(body);
  },
  upgrade(_req, socket) {
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nupgraded');
  },
};

async function start(dir: string, h2 = true, ticketKeys?: Buffer): Promise<{port: number; lines: Record<string, unknown>[]}> {
  const {log, lines} = captureLogger();
  const store = new SniStore({dir, settings: {...TLS_DEFAULTS, ...(ticketKeys === undefined ? {} : {ticketKeys})}, log, recheckMs: 200});
  const listener = await startHttpsListener({address: '127.0.0.1:0', store, handlers: echoHandlers, log, h2, ...(ticketKeys === undefined ? {} : {ticketKeys})});
  listeners.push(listener);
  return {port: Number(listener.address.split(':').pop()), lines};
}

describe('HTTPS listener with an sni-dir', () => {
  it('gives each SNI name its own certificate and a name without one no certificate at all', async () => {
    const dir = tempDir();
    const a = selfSigned(dir, 'a.test', 0x1001);
    const b = selfSigned(dir, 'b.test', 0x1002);
    const {port, lines} = await start(dir);
    const ra = await tlsProbe(port, 'a.test', {ca: a});
    expect(ra).toMatchObject({handshake: true, serial: serialOf(a), status: 200, body: 'a.test 1.1'});
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
  });

  it('serves a one-label wildcard under both spellings, and an exact pair before it', async () => {
    const dir = tempDir();
    const wild = selfSigned(dir, '*.w.test', 0x2001);
    const exact = selfSigned(dir, 'x.w.test', 0x2002);
    const under = selfSigned(dir, '*.u.test', 0x2003, '_wildcard.u.test');
    const {port} = await start(dir);
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
    const {port, lines} = await start(dir);
    expect((await tlsProbe(port, 'c.test')).serial).toBe(firstSerial);
    // a new key alone does not match the old certificate: the old pair stays
    selfSigned(stage, 'c.test', 0x3002);
    const {renameSync} = await import('node:fs');
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

  it('speaks TLS 1.2 and 1.3 only, HTTP/2 by ALPN, and HTTP/1.1 to clients that ask for it', async () => {
    const dir = tempDir();
    selfSigned(dir, 'h.test', 0x4001);
    const {port} = await start(dir);
    const h1 = await tlsProbe(port, 'h.test', {alpn: ['h2', 'http/1.1'], request: false});
    expect(h1.alpn).toBe('h2');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(h1.protocol);
    const old = await tlsProbe(port, 'h.test', {request: false, alpn: ['http/1.1'], ...({} as object)});
    expect(old.alpn).toBe('http/1.1');
    const {connect} = await import('node:tls');
    const tls11 = await new Promise<boolean>((resolve) => {
      const s = connect({host: '127.0.0.1', port, servername: 'h.test', rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1'});
      s.once('secureConnect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    expect(tls11).toBe(false);
    // an HTTP/2 request: :authority becomes Host for the router
    const session = h2connect(`https://127.0.0.1:${port}`, {servername: 'h.test', rejectUnauthorized: false});
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({':path': '/', ':authority': 'h.test'});
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
    session.close();
    expect(body).toBe('h.test 2.0');
    // an upgrade (WebSocket handshake) over HTTP/1.1 reaches the router's upgrade handler
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

  it('resumes a TLS session on another listener (router process) that shares the ticket keys, and only then', async () => {
    const dir = tempDir();
    selfSigned(dir, 't.test', 0x6001);
    const keys = randomBytes(48);
    const a = await start(dir, true, keys);
    const b = await start(dir, true, keys);
    const other = await start(dir, true, randomBytes(48));
    const {connect} = await import('node:tls');
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
    const {port} = await start(dir, false);
    expect((await tlsProbe(port, 'o.test', {alpn: ['h2', 'http/1.1']})).alpn).toBe('http/1.1');
    expect((await tlsProbe(port, 'o.test')).status).toBe(200);
  });
});
