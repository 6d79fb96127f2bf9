/**
 * PSGI under kaiser's master (`psgi = app.psgi`, src/workers/psgi/worker.pl): the same requests answered as by uWSGI's
 * psgi plugin (compared live when Debian's uwsgi-plugin-psgi is installed), Plack's own server test suite
 * (Plack::Test::Suite from libplack-perl, behind Plack::Middleware::Lint), the uwsgi protocol, the master's process
 * features (stats, harakiri, max-requests), load failures, and a PSGI vassal under the emperor.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFile} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {connect} from 'node:net';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, startKaiser, tempDir} from '../../helpers/processes.js';
import {checkProcessFeatures, checkVassalLifecycle, exchange, parseAnswer, request, startKaiserApp, uwsgiPacket} from './rig.js';
import {describeAnswersAsUwsgi, describeLoadFailures, itReadsChunkedBodies} from './suites.js';

const DIR = join(ROOT, 'test/fixtures/plugins/psgi');
const ARGS = ['--plugin', 'psgi', '--http-socket-modifier1', '5', '--psgi', 'app.psgi', '--master', '--processes', '2'];
const HAS_PLACK = existsSync('/usr/share/perl5/Plack/Test/Suite.pm');

describeAnswersAsUwsgi('PSGI answers as uWSGI does', {
  args: ARGS,
  cwd: DIR,
  uwsgiPlugin: 'psgi',
  cases: [
    ['hello', request('GET', '/')],
    ['POST body, query and a header', request('POST', '/echo?x=1&y=two', {headers: {'X-Probe': 'p-123', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=kaiser&n=42'})],
    ['percent-encoded path and query', request('GET', '/echo?q=%2Fa%20b', {headers: {'X-Probe': 'x'}})],
    ['the PSGI environment', request('POST', '/env?a=b&c', {headers: {'X-Probe': 'p', Cookie: 'a=1', 'Content-Type': 'text/x-test'}, body: 'abc'})],
    ['status without a body, repeated headers', request('GET', '/teapot')],
    ['204', request('GET', '/empty')],
    ['redirect', request('GET', '/redirect')],
    ['streaming writer', request('GET', '/stream')],
    ['delayed response', request('GET', '/delayed')],
    ['filehandle body', request('GET', '/file')],
    ['the app dies: 500', request('GET', '/die')],
  ],
  more: (pair) => {
    it('frames responses for keep-alive (Content-Length or chunked) and answers pipelined requests in order', async () => {
      const {port} = pair().kaiser as {port: number};
      const socket = connect({host: '127.0.0.1', port});
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /teapot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await new Promise((resolve) => socket.on('close', resolve));
      const text = Buffer.concat(chunks).toString('latin1');
      expect(text.match(/^HTTP\/1\.1 (\d+)/gm)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 418']);
      expect(text).toContain('Content-Length: 16\r\n\r\nHello from psgi\n');
      expect(text).toContain('Transfer-Encoding: chunked');
    });

    itReadsChunkedBodies(pair);
  },
});

describe('Plack::Test::Suite', () => {
  afterEach(cleanupProcesses);
  (HAS_PLACK ? it : it.skip)('passes Plack\'s server conformance suite (libplack-perl)', async () => {
    const {target} = await startKaiserApp(['--psgi', 'plack-suite.psgi'], DIR);
    const {port} = target as {port: number};
    const tap = await new Promise<string>((resolve) => {
      execFile('perl', [join(DIR, 'plack-suite-client.pl'), String(port)], {timeout: 120_000}, (_err, stdout, stderr) => resolve(stdout + stderr));
    });
    expect(tap).toMatch(/^1\.\.\d+$/m);
    expect(tap.split('\n').filter((l) => /^\s*not ok/.test(l))).toEqual([]);
  });
});

describe('the uwsgi protocol (nginx uwsgi_pass)', () => {
  afterEach(cleanupProcesses);
  it('answers a uwsgi packet with an HTTP response and closes', async () => {
    const server = startKaiser(['--socket', '127.0.0.1:0', '--psgi', 'app.psgi'], {cwd: DIR});
    const line = await server.waitForLine(/bound to TCP address 127\.0\.0\.1:(\d+)/);
    const port = Number(/:(\d+) /.exec(line)?.[1]);
    await server.waitForLine('kaiser is running');
    const vars: Record<string, string> = {REQUEST_METHOD: 'POST', REQUEST_URI: '/echo?u=1', PATH_INFO: '/echo', QUERY_STRING: 'u=1', SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_LENGTH: '4', HTTP_X_PROBE: 'uw', SERVER_NAME: 'x', SERVER_PORT: '80'};
    const answer = await exchange({port}, Buffer.concat([uwsgiPacket(Object.entries(vars), 5), Buffer.from('data')]));
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('method=POST\npath=/echo\nquery=u=1\nprobe=uw\nbody=data\n');
    expect(parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')).status).toBe(200);
  });
});

describe('the master\'s process features with PSGI workers', () => {
  afterEach(cleanupProcesses);
  it('stats, harakiri and max-requests', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'app.psgi'), "sub { my $p = $_[0]{PATH_INFO}; sleep 60 if $p eq '/stuck'; die 'raised' if $p eq '/raise'; [200, [], ['ok']] }\n");
    await checkProcessFeatures({args: ['--psgi', 'app.psgi'], cwd: dir, hello: '/', stuck: '/stuck', raises: '/raise'});
  });
});

describeLoadFailures({
  cwd: DIR,
  appOption: '--psgi',
  failures: [['broken.psgi', /unable to load PSGI file broken\.psgi: Missing right curly/], ['not-code.psgi', /must return a code ref/], ['missing.psgi', /no such file/]],
  app: 'app.psgi',
  binOption: '--perl-bin',
  missingRuntime: /psgi apps need perl: cannot run '\/nonexistent\/runtime' .*install the Debian package perl, or set perl-bin/,
});

describe('a PSGI vassal under the emperor', () => {
  afterEach(cleanupProcesses);
  it('serves, reloads onto new code, and keeps serving when the new code does not compile', async () => {
    await checkVassalLifecycle({
      files: {
        'v1.psgi': "sub { [200, ['Content-Type' => 'text/plain'], ['one']] }\n",
        'v2.psgi': "sub { [200, ['Content-Type' => 'text/plain'], ['two']] }\n",
        'broken.psgi': readFileSync(join(DIR, 'broken.psgi'), 'utf8'),
      },
      appLines: (variant, apps) => `plugin = psgi\npsgi = ${join(apps, `${variant}.psgi`)}`,
      bodies: ['one', 'two'],
    });
  });
});

