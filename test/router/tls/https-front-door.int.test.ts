/**
 * The HTTPS front door end to end: an emperor with --emperor-https and --sni-dir in front of real app-server
 * vassals, probed by real TLS clients (node:tls, node:http2, curl): each SNI name gets its own certificate and its
 * own vassal, an unknown name gets a handshake alert, a replaced certificate is served without a restart, and an
 * https-redirect vassal's plain-HTTP requests are sent to HTTPS.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFileSync} from 'node:child_process';
import {mkdirSync} from 'node:fs';
import {connect as h2connect} from 'node:http2';
import {request} from 'node:http';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, publish, startKaiser, tempDir, waitFor} from '../../helpers/processes.js';
import {replacePair, selfSigned, serialOf, tlsProbe} from '../../helpers/tls.js';

const WHOAMI = join(ROOT, 'test/fixtures/apps/whoami-scheme.py');

afterEach(cleanupProcesses);

function plainGet(port: number, host: string, path = '/'): Promise<{status: number; location: string | undefined; body: string}> {
  return new Promise((resolve, reject) => {
    const req = request({host: '127.0.0.1', port, path, headers: {host}, agent: false}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({status: res.statusCode ?? 0, location: res.headers.location, body}));
    });
    req.on('error', reject);
    req.end();
  });
}

async function frontDoor() {
  const dir = tempDir();
  const [vassals, sni, stage] = ['vassals', 'sni', 'stage'].map((d) => join(dir, d)) as [string, string, string];
  for (const d of [vassals, sni, stage]) mkdirSync(d);
  const certs = {a: selfSigned(sni, 'a.test', 0xa1), b: selfSigned(sni, 'b.test', 0xb1), w: selfSigned(sni, '*.w.test', 0xc1)};
  const [http, https, a, b] = [await freePort(), await freePort(), await freePort(), await freePort()];
  publish(vassals, 'a.toml', `http-socket = "127.0.0.1:${a}"\nwsgi-file = "${WHOAMI}"\nenv = ["WHOAMI=a"]\ndomain = ["a.test", "*.w.test"]\n`);
  publish(vassals, 'b.toml', `http-socket = "127.0.0.1:${b}"\nwsgi-file = "${WHOAMI}"\nenv = ["WHOAMI=b"]\ndomain = "b.test"\nhttps-redirect = true\n`);
  const kaiser = startKaiser(['--emperor', vassals, '--emperor-http', `127.0.0.1:${http}`, '--emperor-https', `127.0.0.1:${https}`, '--sni-dir', sni, '--control', join(dir, 'control.sock')]);
  await kaiser.waitForLine('kaiser HTTPS router enabled', 20_000);
  await kaiser.waitForLine('vassal a.toml is ready', 30_000);
  await kaiser.waitForLine('vassal b.toml is ready', 30_000);
  return {dir, sni, stage, certs, http, https, kaiser};
}

describe('HTTPS front door', () => {
  it('routes each SNI name to its vassal with its own certificate, refuses unknown names, and follows a replaced certificate', async () => {
    const {sni, stage, certs, https, kaiser} = await frontDoor();
    expect(await tlsProbe(https, 'a.test', {ca: certs.a})).toMatchObject({handshake: true, serial: serialOf(certs.a), status: 200, body: 'a https /'});
    expect(await tlsProbe(https, 'b.test', {ca: certs.b, path: '/x'})).toMatchObject({serial: serialOf(certs.b), status: 200, body: 'b https /x'});
    expect(await tlsProbe(https, 'one.w.test', {ca: certs.w})).toMatchObject({serial: serialOf(certs.w), body: 'a https /'});
    const unknown = await tlsProbe(https, 'nosuch.test');
    expect(unknown).toMatchObject({handshake: false});
    expect(unknown.error).toMatch(/handshake failure|alert/i);
    // openssl s_client, as an operator would check it
    const sclient = (() => {
      try {
        return execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${https}`, '-servername', 'nosuch.test'], {input: '', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000}).toString();
      } catch (error) {
        return String((error as {stderr?: Buffer}).stderr ?? error);
      }
    })();
    expect(sclient).toMatch(/alert handshake failure/);
    await kaiser.waitForLine('no certificate for "nosuch.test"', 5_000);
    // renewal: a new pair renamed in, key first; served within seconds, no restart
    const renewed = replacePair(stage, sni, 'b.test', 0xb2);
    await waitFor(async () => (await tlsProbe(https, 'b.test')).serial === serialOf(renewed), 10_000, 'the renewed b.test certificate');
    expect(await tlsProbe(https, 'b.test', {ca: renewed})).toMatchObject({status: 200, body: 'b https /'});
    expect((await tlsProbe(https, 'a.test')).serial).toBe(serialOf(certs.a));
  });

  it('redirects an https-redirect vassal to HTTPS (308, path and query kept) and serves the others over plain HTTP', async () => {
    const {http, https} = await frontDoor();
    expect(await plainGet(http, 'b.test', '/cart?id=3')).toMatchObject({status: 308, location: `https://b.test:${https}/cart?id=3`});
    expect(await plainGet(http, 'a.test', '/')).toMatchObject({status: 200, body: 'a http /'});
  });

  it('speaks HTTP/2 to clients that offer it (node:http2 and curl --http2)', async () => {
    const {certs, https} = await frontDoor();
    const session = h2connect(`https://127.0.0.1:${https}`, {servername: 'a.test', rejectUnauthorized: false});
    const answer = await new Promise<{status: number; body: string}>((resolve, reject) => {
      const stream = session.request({':path': '/h2', ':authority': 'a.test'});
      let status = 0;
      let body = '';
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({status, body}));
      stream.on('error', reject);
    });
    session.close();
    expect(answer).toEqual({status: 200, body: 'a https /h2'});
    const curl = execFileSync('curl', ['-s', '--http2', '--cacert', certs.a, '--resolve', `a.test:${https}:127.0.0.1`, '-w', ' %{http_version}', `https://a.test:${https}/c`], {timeout: 10_000}).toString();
    expect(curl).toBe('a https /c 2');
  });
});
