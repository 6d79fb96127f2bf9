/**
 * CGI under kaiser's master (`cgi = DIR`, src/server/python/cgi_app.py): the same requests answered as by uWSGI's cgi
 * plugin (compared live when Debian's uwsgi-core is installed), the RFC 3875 environment, request bodies (length and
 * chunked), streaming, keep-alive, cgi-timeout, and a CGI vassal under the emperor with a reload and a failed reload.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {writeFileSync} from 'node:fs';
import {connect} from 'node:net';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, startKaiser, tempDir, waitFor200, waitFor, httpGet} from '../../helpers/processes.js';
import {comparable, exchange, request, startKaiserApp} from './rig.js';
import {describeAnswersAsUwsgi} from './suites.js';

const FIXTURES = join(ROOT, 'test/fixtures/plugins');
const ARGS = ['--plugin', 'cgi', '--http-socket-modifier1', '9', '--cgi', 'cgi', '--cgi-allowed-ext', '.cgi', '--cgi-index', 'index.cgi', '--master', '--processes', '2'];

describeAnswersAsUwsgi('CGI answers as uWSGI does', {
  args: ARGS,
  cwd: FIXTURES,
  uwsgiPlugin: 'cgi',
  cases: [
    ['index of the docroot', request('GET', '/')],
    ['POST with a body and a query', request('POST', '/echo.cgi?x=1&y=two', {headers: {'X-Probe': 'p-123', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=kaiser&n=42'})],
    ['percent-encoded query and extra path', request('GET', '/echo.cgi/extra/path?q=%2Fa%20b', {headers: {'X-Probe': 'x'}})],
    ['Status: header', request('GET', '/status.cgi')],
    ['Location: without Status is a 302', request('GET', '/redirect.cgi')],
    ['LF-only header block, streamed output', request('GET', '/stream.cgi')],
    ['missing script is 404', request('GET', '/nope.cgi')],
    ['extension not allowed is 403', request('GET', '/script.sh')],
    ['not executable is 403', request('GET', '/plain.cgi')],
    ['directory without a slash is a 301 to the slash', request('GET', '/sub?a=1')],
    ['index of a subdirectory', request('GET', '/sub/')],
  ],
  more: (pair) => {
    it('answers HEAD with the head only (uWSGI sends the script\'s body too)', async () => {
      const raw = request('HEAD', '/index.cgi');
      const got = comparable(await exchange(pair().kaiser, raw));
      expect(got.body).toBe('');
      const {uwsgi} = pair();
      if (uwsgi !== undefined) expect({...got, body: 'x'}).toEqual({...comparable(await exchange(uwsgi, raw)), body: 'x'});
    });

    it('gives the script the RFC 3875 meta-variables (same values as uWSGI but the server address)', async () => {
      const raw = request('POST', '/env.cgi/more/info?a=b', {headers: {'X-Probe': 'p', Accept: 'text/plain', 'Content-Type': 'text/x-test'}, body: 'abc'});
      const vars = (answer: string) => Object.fromEntries(answer.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const got = vars((await exchange(pair().kaiser, raw)).body.toString());
      const docroot = join(FIXTURES, 'cgi');
      expect(got).toMatchObject({
        GATEWAY_INTERFACE: 'CGI/1.1',
        SERVER_PROTOCOL: 'HTTP/1.1',
        SERVER_SOFTWARE: expect.stringMatching(/^uWSGI\//),
        REQUEST_METHOD: 'POST',
        SCRIPT_NAME: '/env.cgi',
        PATH_INFO: '/more/info',
        PATH_TRANSLATED: `${docroot}/more/info`,
        QUERY_STRING: 'a=b',
        CONTENT_LENGTH: '3',
        CONTENT_TYPE: 'text/x-test',
        REMOTE_ADDR: '127.0.0.1',
        SERVER_PORT: String((pair().kaiser as {port: number}).port),
        HTTP_X_PROBE: 'p',
        HTTP_ACCEPT: 'text/plain',
        DOCUMENT_ROOT: docroot,
        SCRIPT_FILENAME: `${docroot}/env.cgi`,
        REDIRECT_STATUS: '200',
        cwd: docroot,
        args: '',
      });
      expect(got['SERVER_NAME']).toBeTruthy();
      const {uwsgi} = pair();
      if (uwsgi !== undefined) {
        const want = vars((await exchange(uwsgi, raw)).body.toString());
        for (const key of ['GATEWAY_INTERFACE', 'REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED', 'QUERY_STRING', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'HTTP_X_PROBE', 'DOCUMENT_ROOT', 'SCRIPT_FILENAME', 'cwd']) {
          expect([key, got[key]]).toEqual([key, want[key]]);
        }
      }
    });

    it('passes an ISINDEX query (no "=") as arguments, RFC 3875 §4.4', async () => {
      const body = (await exchange(pair().kaiser, request('GET', '/env.cgi?one+two%20three'))).body.toString();
      expect(body).toContain('args=one two three');
    });

    it('reads a chunked request body first and gives the script its CONTENT_LENGTH', async () => {
      const raw = 'POST /echo.cgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
      const answer = await exchange(pair().kaiser, raw);
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toContain('body=hello world\n');
    });

    it('keeps the connection alive between CGI requests', async () => {
      const {port} = pair().kaiser as {port: number};
      const socket = connect({host: '127.0.0.1', port});
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => (text += c));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => text.includes('0\r\n\r\n'), 10_000, 'the first response');
      socket.write('GET /stream.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await new Promise((resolve) => socket.on('close', resolve));
      expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
      expect(text).toContain('Hello from cgi');
      expect(text).toContain('part 3');
    });

    it('answers 500 to a script whose output has no header block', async () => {
      const answer = await exchange(pair().kaiser, request('GET', '/noheaders.cgi'));
      expect(answer.status).toBe(500);
    });
  },
});

describe('cgi-timeout', () => {
  afterEach(cleanupProcesses);

  it('kills a script silent for longer than cgi-timeout and answers 504 when no body went out', async () => {
    const {server, target} = await startKaiserApp(['--cgi', 'cgi', '--cgi-timeout', '1'], FIXTURES);
    const answer = await exchange(target, request('GET', '/slow.cgi'));
    expect([answer.status, answer.body.toString()]).toEqual([504, 'Gateway Timeout']);
    await server.waitForLine('CGI timeout');
    expect((await exchange(target, request('GET', '/index.cgi'))).body.toString()).toBe('Hello from cgi\n');
  });
});

describe('a CGI vassal under the emperor', () => {
  afterEach(cleanupProcesses);

  it('serves, reloads with a new docroot, and keeps serving the old one when the new one is missing', async () => {
    const dir = tempDir();
    const vassals = join(dir, 'vassals');
    const apps = join(dir, 'apps');
    for (const [sub, text] of [['v1', 'one'], ['v2', 'two']] as const) {
      const d = join(apps, sub);
      const {mkdirSync, chmodSync} = await import('node:fs');
      mkdirSync(d, {recursive: true});
      writeFileSync(join(d, 'index.cgi'), `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n${text}\\n'\n`);
      chmodSync(join(d, 'index.cgi'), 0o755);
    }
    const {mkdirSync} = await import('node:fs');
    mkdirSync(vassals);
    const {freePort} = await import('../../helpers/processes.js');
    const port = await freePort();
    const ini = (docroot: string) => `[uwsgi]\nplugin = cgi\nhttp-socket = 127.0.0.1:${port}\ncgi = ${docroot}\ncgi-index = index.cgi\nprocesses = 2\n`;
    writeFileSync(join(vassals, 'site.ini'), ini(join(apps, 'v1')));
    const emperor = startKaiser(['--emperor', vassals]);
    expect((await waitFor200(port, 20_000)).body).toBe('one\n');
    writeFileSync(join(vassals, 'site.ini'), ini(join(apps, 'v2')));
    await waitFor(async () => (await httpGet(port))?.body === 'two\n', 20_000, 'the reloaded docroot');
    writeFileSync(join(vassals, 'site.ini'), ini(join(apps, 'missing')));
    await emperor.waitForLine(/reload.failed|reload failed/, 20_000);
    expect((await httpGet(port))?.body).toBe('two\n');
  });
});
