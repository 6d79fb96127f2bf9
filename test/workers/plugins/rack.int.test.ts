/**
 * Rack under kaiser's master (`rack = config.ru`, src/workers/rack/worker.rb): the same requests answered as by uWSGI's
 * rack plugin (compared live when Debian's uwsgi-plugin-rack-ruby3.1 is installed), the same app behind Rack::Lint,
 * a Sinatra app, request threads, the uwsgi protocol, the master's process features, load failures, and a Rack
 * vassal under the emperor.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, tempDir} from '../../helpers/processes.js';
import {checkProcessFeatures, checkVassalLifecycle, comparable, exchange, request, startKaiserApp} from './rig.js';
import {describeAnswersAsUwsgi, describeLoadFailures, itAnswers500WhenTheAppRaises, itReadsChunkedBodies} from './suites.js';

const DIR = join(ROOT, 'test/fixtures/plugins/rack');
const ARGS = ['--plugin', 'rack', '--http-socket-modifier1', '7', '--rack', 'config.ru', '--master', '--processes', '2'];
const HAS_SINATRA = spawnSync('ruby', ['-e', 'require "sinatra/base"']).status === 0;

const CASES: Array<[string, string]> = [
  ['hello', request('GET', '/')],
  ['POST body, query and a header', request('POST', '/echo?x=1&y=two', {headers: {'X-Probe': 'p-123', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=kaiser&n=42'})],
  ['percent-encoded path and query', request('GET', '/echo?q=%2Fa%20b', {headers: {'X-Probe': 'x'}})],
  ['the Rack environment', request('POST', '/env?a=b&c', {headers: {'X-Probe': 'p', Cookie: 'a=1', 'Content-Type': 'text/x-test'}, body: 'abc'})],
  ['status, multi-line Set-Cookie', request('GET', '/teapot')],
  ['204', request('GET', '/empty')],
  ['redirect', request('GET', '/redirect')],
  ['each-body (streamed)', request('GET', '/stream')],
  ['to_path body', request('GET', '/file')],
];

describeAnswersAsUwsgi('Rack answers as uWSGI does', {
  args: ARGS,
  cwd: DIR,
  uwsgiPlugin: 'rack_ruby31',
  cases: CASES,
  more: (pair) => {
    itAnswers500WhenTheAppRaises(pair);
    itReadsChunkedBodies(pair);
  },
});

describe('Rack::Lint', () => {
  afterEach(cleanupProcesses);
  it('finds nothing to object to in what the server hands the app and does with its answers', async () => {
    const {server, target} = await startKaiserApp(['--rack', 'lint.ru'], DIR);
    const plain = await startKaiserApp(['--rack', 'config.ru'], DIR);
    for (const [name, raw] of CASES) {
      const got = comparable(await exchange(target, raw));
      expect([name, got]).toEqual([name, comparable(await exchange(plain.target, raw))]);
    }
    expect(server.output()).not.toMatch(/LintError/);
  });
});

describe('Sinatra', () => {
  afterEach(cleanupProcesses);
  (HAS_SINATRA ? it : it.skip)('serves a Sinatra app (ruby-sinatra): routes, params, forms, not_found', async () => {
    const {target} = await startKaiserApp(['--rack', 'sinatra.ru'], DIR);
    expect((await exchange(target, request('GET', '/'))).body.toString()).toBe('Hello from sinatra');
    expect((await exchange(target, request('GET', '/hi/ann?x=y'))).body.toString()).toBe('hi ann (y)');
    const form = await exchange(target, request('POST', '/form', {headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'a=1&b=two'}));
    expect(form.body.toString()).toBe('got 1 and two');
    const missing = await exchange(target, request('GET', '/nope'));
    expect([missing.status, missing.body.toString()]).toEqual([404, 'nothing here']);
  });
});

describe('threads', () => {
  afterEach(cleanupProcesses);
  it('serves requests on several threads of one worker (a request waits for another to arrive)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.ru'), "Q = Queue.new\nrun lambda { |env| env['PATH_INFO'] == '/wait' ? [200, {}, [\"released by #{Q.pop}\"]] : (Q << env['PATH_INFO']; [200, {}, ['ok']]) }\n");
    const {target} = await startKaiserApp(['--rack', 'config.ru', '--processes', '1', '--threads', '2'], dir);
    const waiting = exchange(target, request('GET', '/wait'), 20_000);
    // the first request holds one core until the second arrives on the other
    let released = '';
    await Promise.all([waiting.then((a) => (released = a.body.toString())), (async () => {
      for (let i = 0; i < 50 && released === ''; i++) await exchange(target, request('GET', `/release${i}`));
    })()]);
    expect(released).toMatch(/^released by \/release\d+$/);
  });
});

describe('the master\'s process features with Rack workers', () => {
  afterEach(cleanupProcesses);
  it('stats, harakiri and max-requests', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.ru'), "run lambda { |env| p = env['PATH_INFO']; sleep 60 if p == '/stuck'; raise 'raised' if p == '/raise'; [200, {}, ['ok']] }\n");
    await checkProcessFeatures({args: ['--rack', 'config.ru'], cwd: dir, hello: '/', stuck: '/stuck', raises: '/raise'});
  });
});

describeLoadFailures({
  cwd: DIR,
  appOption: '--rack',
  failures: [['broken.ru', /unable to load RACK app broken\.ru: RuntimeError: this app cannot start/], ['missing.ru', /no such file/]],
  app: 'config.ru',
  binOption: '--ruby-bin',
  missingRuntime: /rack apps need ruby: cannot run '\/nonexistent\/runtime' .*install the Debian package ruby \(and ruby-rack\), or set ruby-bin/,
});

describe('a Rack vassal under the emperor', () => {
  afterEach(cleanupProcesses);
  it('serves, reloads onto new code, and keeps serving when the new code fails to load', async () => {
    await checkVassalLifecycle({
      files: {
        'v1.ru': "run lambda { |env| [200, {'Content-Type' => 'text/plain'}, ['one']] }\n",
        'v2.ru': "run lambda { |env| [200, {'Content-Type' => 'text/plain'}, ['two']] }\n",
        'broken.ru': readFileSync(join(DIR, 'broken.ru'), 'utf8'),
      },
      appLines: (variant, apps) => `plugin = rack\nrack = ${join(apps, `${variant}.ru`)}`,
      bodies: ['one', 'two'],
    });
  });
});
