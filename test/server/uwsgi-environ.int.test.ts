/**
 * Behind nginx, as under uWSGI (issue 15): the same requests to kaiser and to real uWSGI 2.0 running the same app
 * (environ.py dumps its environ), over HTTP (http-socket) and over the uwsgi protocol as nginx's `uwsgi_pass` sends
 * it, must give the app the same PATH_INFO (dot segments resolved as uWSGI's http parser does), the same
 * wsgi.url_scheme (HTTPS, UWSGI_SCHEME, X-Forwarded-Proto) and every variable nginx sends (HTTP_CONTENT_TYPE and
 * HTTP_CONTENT_LENGTH included). Skipped where uWSGI is not installed.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdtempSync} from 'node:fs';
import {connect} from 'node:net';
import {hostname, tmpdir} from 'node:os';
import {join} from 'node:path';
import {cleanupProcesses, waitFor, withDeadline} from '../helpers/processes.js';
import {exchange, hasUwsgiPlugin, startKaiserApp, startUwsgiApp, uwsgiPacket, type Target} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/environ.py');
const maybe = hasUwsgiPlugin('python3') ? describe : describe.skip;

/** The two servers: HTTP targets, and the paths of their uwsgi-protocol UNIX sockets. */
interface Pair {
  kaiser: Target;
  uwsgi: Target;
  kaiserUwsgi: string;
  uwsgiUwsgi: string;
}

let pair: Pair;

/** The environ the app saw for a uwsgi request sent to the UNIX socket `path`. */
function askUwsgi(path: string, vars: readonly [string, string][]): Promise<Record<string, string>> {
  return withDeadline(
    new Promise((resolve, reject) => {
      const socket = connect({path});
      const chunks: Buffer[] = [];
      socket.on('connect', () => socket.write(uwsgiPacket(vars)));
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        try {
          resolve(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, string>);
        } catch (e) {
          reject(new Error(`not an environ: ${text.slice(0, 200)} (${String(e)})`));
        }
      });
    }),
    10_000,
    () => `an answer on ${path}`,
  );
}

async function askHttp(target: Target, path: string, headers: Record<string, string> = {}): Promise<{status: number; env: Record<string, string> | undefined}> {
  const head = Object.entries({Host: 'test.local', Connection: 'close', ...headers}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const answer = await exchange(target, `GET ${path} HTTP/1.1\r\n${head}\r\n`);
  return {status: answer.status, env: answer.status === 200 ? (JSON.parse(answer.body.toString('latin1')) as Record<string, string>) : undefined};
}

maybe('the environ behind nginx, compared with uWSGI', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaiser-environ-'));
    const kaiserUwsgi = join(dir, 'kaiser-uwsgi.sock');
    const uwsgiUwsgi = join(dir, 'uwsgi-uwsgi.sock');
    const kaiser = await startKaiserApp(['--socket', kaiserUwsgi, '--wsgi-file', APP, '--processes', '1'], dir);
    const uwsgi = await startUwsgiApp(['--plugin', 'python3', '--socket', uwsgiUwsgi, '--wsgi-file', APP, '--master'], dir);
    await waitFor(() => askUwsgi(uwsgiUwsgi, [['PATH_INFO', '/']]).then(() => true, () => false), 20_000, 'uWSGI on its uwsgi socket');
    pair = {kaiser: kaiser.target, uwsgi: uwsgi.target, kaiserUwsgi, uwsgiUwsgi};
  }, 60_000);
  afterAll(cleanupProcesses);

  it('decodes PATH_INFO of HTTP requests as uWSGI does (dot segments, escapes, fragments)', async () => {
    for (const path of ['/a/b/../c', '/a/./b', '//a//b', '/a/b/..', '/../../x', '/%2e%2e/x', '/a%20b%C3%A9', '/.well-known/x', '/a/..b/...', '/a/b/.']) {
      const [k, u] = await Promise.all([askHttp(pair.kaiser, path), askHttp(pair.uwsgi, path)]);
      expect({path, status: k.status, PATH_INFO: k.env?.PATH_INFO}).toEqual({path, status: u.status, PATH_INFO: u.env?.PATH_INFO});
    }
  });

  it("gives an HTTP request the CGI variables uWSGI's http-socket gives (SERVER_NAME is the host name)", async () => {
    const [k, u] = await Promise.all([askHttp(pair.kaiser, '/p/q?a=1', {'X-Probe': 'x'}), askHttp(pair.uwsgi, '/p/q?a=1', {'X-Probe': 'x'})]);
    // REMOTE_PORT is kaiser's one addition (uWSGI 2.0.21's http-socket leaves it out); the address variables differ
    // because uWSGI listens on a UNIX socket here (REMOTE_ADDR 0.0.0.0, no port) and kaiser on TCP.
    const own = new Set(['REMOTE_PORT', 'REMOTE_ADDR', 'SERVER_PORT']);
    const cgi = (env: Record<string, string> | undefined) =>
      Object.fromEntries(Object.entries(env ?? {}).filter(([key]) => /^[A-Z_]+$/.test(key) && !own.has(key)));
    expect(cgi(k.env)).toEqual(cgi(u.env));
    expect(k.env?.['SERVER_NAME']).toBe(hostname());
  });

  it('takes wsgi.url_scheme from X-Forwarded-Proto on HTTP, as uWSGI does', async () => {
    for (const headers of [{}, {'X-Forwarded-Proto': 'https'}] as Record<string, string>[]) {
      const [k, u] = await Promise.all([askHttp(pair.kaiser, '/', headers), askHttp(pair.uwsgi, '/', headers)]);
      expect(k.env?.['wsgi.url_scheme']).toBe(u.env?.['wsgi.url_scheme']);
    }
  });

  it('passes what nginx sends over the uwsgi protocol as uWSGI does (scheme, HTTP_CONTENT_TYPE/LENGTH)', async () => {
    const nginx: [string, string][] = [
      ['QUERY_STRING', 'a=1'], ['REQUEST_METHOD', 'POST'], ['CONTENT_TYPE', 'application/json'], ['CONTENT_LENGTH', '0'],
      ['REQUEST_URI', '/p/q?a=1'], ['PATH_INFO', '/p/q'], ['DOCUMENT_ROOT', '/srv/www'], ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['REQUEST_SCHEME', 'https'], ['HTTPS', 'on'], ['REMOTE_ADDR', '192.0.2.7'], ['REMOTE_PORT', '51234'], ['SERVER_PORT', '443'],
      ['SERVER_NAME', 'shop.example'], ['HTTP_HOST', 'shop.example'], ['HTTP_CONTENT_TYPE', 'application/json'], ['HTTP_CONTENT_LENGTH', '0'],
      ['HTTP_X_REAL_IP', '192.0.2.7'],
    ];
    const variants: [string, string][][] = [
      nginx,
      nginx.map(([k, v]): [string, string] => (k === 'HTTPS' ? ['HTTPS', 'off'] : [k, v])),
      [...nginx, ['UWSGI_SCHEME', 'http']],
      [...nginx, ['UWSGI_SCHEME', 'http'], ['HTTP_X_FORWARDED_PROTO', 'https']],
      [...nginx, ['HTTP_X_FORWARDED_PROTO', 'https'], ['UWSGI_SCHEME', 'http']],
    ];
    // SCRIPT_NAME is left out: uWSGI omits it when nginx does not send it, kaiser sets '' as PEP 3333 requires.
    const keys = [...new Set(nginx.map(([k]) => k)), 'wsgi.url_scheme', 'UWSGI_SCHEME', 'HTTP_X_FORWARDED_PROTO'];
    for (const vars of variants) {
      const [k, u] = await Promise.all([askUwsgi(pair.kaiserUwsgi, vars), askUwsgi(pair.uwsgiUwsgi, vars)]);
      const pick = (env: Record<string, string>) => Object.fromEntries(keys.map((key) => [key, env[key]]));
      expect(pick(k)).toEqual(pick(u));
    }
  });
});
