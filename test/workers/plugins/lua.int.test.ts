/**
 * Lua WSAPI under kaiser's master (`lua = app.lua`, src/workers/lua/worker.lua): the same requests answered as by
 * uWSGI's lua plugin (compared live when Debian's uwsgi-plugin-lua5.1 is installed), an app using lua-wsapi's request
 * and response helpers, the uwsgi protocol, the master's process features, load failures, and a Lua vassal under
 * the emperor.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, startKaiser, tempDir} from '../../helpers/processes.js';
import {checkProcessFeatures, checkVassalLifecycle, comparable, exchange, hasUwsgiPlugin, request, startKaiserApp, startUwsgiApp, type Target} from './rig.js';

const DIR = join(ROOT, 'test/fixtures/plugins/lua');
const ARGS = ['--plugin', 'lua', '--http-socket-modifier1', '6', '--lua', 'app.lua', '--master', '--processes', '2'];
const HAS_LUA = spawnSync('lua5.1', ['-e', 'require("posix.unistd")']).status === 0;
const HAS_WSAPI = spawnSync('lua5.1', ['-e', 'require("wsapi.request")']).status === 0;
const describeLua = HAS_LUA ? describe : describe.skip;

describeLua('Lua WSAPI answers as uWSGI does', () => {
  let kaiser: Target;
  let uwsgi: Target | undefined;
  beforeAll(async () => {
    kaiser = (await startKaiserApp(ARGS, DIR)).target;
    if (hasUwsgiPlugin('lua51')) uwsgi = (await startUwsgiApp(ARGS, DIR)).target;
  });
  afterAll(cleanupProcesses);

  const cases: Array<[string, string]> = [
    ['hello', request('GET', '/')],
    ['POST body, query and a header', request('POST', '/echo?x=1&y=two', {headers: {'X-Probe': 'p-123', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=kaiser&n=42'})],
    ['percent-encoded path and query', request('GET', '/echo?q=%2Fa%20b', {headers: {'X-Probe': 'x'}})],
    ['the WSAPI environment', request('POST', '/env?a=b&c', {headers: {'X-Probe': 'p', Cookie: 'a=1', 'Content-Type': 'text/x-test'}, body: 'abc'})],
    ['status and a streamed body', request('GET', '/teapot')],
    ['204', request('GET', '/empty')],
    ['redirect', request('GET', '/redirect')],
    ['coroutine stream', request('GET', '/stream')],
  ];
  for (const [name, raw] of cases) {
    it(name, async () => {
      const got = comparable(await exchange(kaiser, raw));
      expect(got.status).toBeGreaterThanOrEqual(200);
      if (uwsgi !== undefined) expect(got).toEqual(comparable(await exchange(uwsgi, raw)));
    });
  }

  it('answers 500 when the app raises (uWSGI closes the connection without a response)', async () => {
    const answer = await exchange(kaiser, request('GET', '/die'));
    expect([answer.status, answer.body.toString()]).toEqual([500, 'Internal Server Error']);
  });

  it('reads chunked request bodies', async () => {
    const answer = await exchange(kaiser, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    expect(answer.body.toString()).toContain('body=abcde\n');
  });
});

describeLua('lua-wsapi', () => {
  afterEach(cleanupProcesses);
  (HAS_WSAPI ? it : it.skip)('serves an app built with wsapi.request and wsapi.response (a module with run)', async () => {
    const {target} = await startKaiserApp(['--lua', 'wsapi.lua'], DIR);
    const answer = await exchange(target, request('POST', '/?name=ann', {headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'field=value'}));
    expect([answer.status, answer.body.toString()]).toEqual([200, 'name=ann\nposted=value\n']);
  });
});

describeLua('the master\'s process features with Lua workers', () => {
  afterEach(cleanupProcesses);
  it('stats, harakiri and max-requests', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'app.lua'), "return function(env)\n  if env.PATH_INFO == '/stuck' then while true do end end\n  if env.PATH_INFO == '/raise' then error('raised') end\n  return 200, {}, coroutine.wrap(function() coroutine.yield('ok') end)\nend\n");
    await checkProcessFeatures({args: ['--lua', 'app.lua'], cwd: dir, hello: '/', stuck: '/stuck', raises: '/raise'});
  });
});

describeLua('load failures', () => {
  afterEach(cleanupProcesses);
  for (const [file, why] of [['broken.lua', /unable to load Lua app broken\.lua: broken\.lua:3: unexpected symbol/], ['not-app.lua', /must return the WSAPI app .* not number/], ['missing.lua', /unable to load Lua app missing\.lua: cannot open missing\.lua/]] as const) {
    it(`exits 22 naming the problem: ${file}`, async () => {
      const server = startKaiser(['--http-socket', '127.0.0.1:0', '--lua', file], {cwd: DIR});
      expect((await server.exited).code).toBe(22);
      expect(server.output()).toMatch(why);
    });
  }

  it('names the Debian package when the runtime is missing', async () => {
    const server = startKaiser(['--http-socket', '127.0.0.1:0', '--lua', 'app.lua', '--lua-bin', '/nonexistent/lua5.1'], {cwd: DIR});
    expect((await server.exited).code).toBe(22);
    expect(server.output()).toMatch(/lua apps need lua5\.1: cannot run '\/nonexistent\/lua5\.1' .*install the Debian package lua5\.1 \(and lua-posix\), or set lua-bin/);
  });
});

describeLua('a Lua vassal under the emperor', () => {
  afterEach(cleanupProcesses);
  it('serves, reloads onto new code, and keeps serving when the new code does not compile', async () => {
    const app = (text: string) => `return function(env) return 200, {['Content-Type'] = 'text/plain'}, coroutine.wrap(function() coroutine.yield('${text}') end) end\n`;
    await checkVassalLifecycle({
      files: {'v1.lua': app('one'), 'v2.lua': app('two'), 'broken.lua': readFileSync(join(DIR, 'broken.lua'), 'utf8')},
      appLines: (variant, apps) => `plugin = lua\nlua = ${join(apps, `${variant}.lua`)}`,
      bodies: ['one', 'two'],
    });
  });
});
