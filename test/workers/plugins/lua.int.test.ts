/**
 * Lua WSAPI under kaiser's master (`lua = app.lua`, src/workers/lua/worker.lua): the same requests answered as by
 * uWSGI's lua plugin (compared live when Debian's uwsgi-plugin-lua5.1 is installed), an app using lua-wsapi's request
 * and response helpers, the uwsgi protocol, the master's process features, load failures, and a Lua vassal under
 * the emperor.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, tempDir} from '../../helpers/processes.js';
import {checkProcessFeatures, checkVassalLifecycle, exchange, request, startKaiserApp} from './rig.js';
import {describeAnswersAsUwsgi, describeLoadFailures, itAnswers500WhenTheAppRaises, itReadsChunkedBodies} from './suites.js';

const DIR = join(ROOT, 'test/fixtures/plugins/lua');
const ARGS = ['--plugin', 'lua', '--http-socket-modifier1', '6', '--lua', 'app.lua', '--master', '--processes', '2'];
const HAS_LUA = spawnSync('lua5.1', ['-e', 'require("posix.unistd")']).status === 0;
const HAS_WSAPI = spawnSync('lua5.1', ['-e', 'require("wsapi.request")']).status === 0;
const describeLua = HAS_LUA ? describe : describe.skip;

describeAnswersAsUwsgi('Lua WSAPI answers as uWSGI does', {
  args: ARGS,
  cwd: DIR,
  uwsgiPlugin: 'lua51',
  run: describeLua,
  cases: [
    ['hello', request('GET', '/')],
    ['POST body, query and a header', request('POST', '/echo?x=1&y=two', {headers: {'X-Probe': 'p-123', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=kaiser&n=42'})],
    ['percent-encoded path and query', request('GET', '/echo?q=%2Fa%20b', {headers: {'X-Probe': 'x'}})],
    ['the WSAPI environment', request('POST', '/env?a=b&c', {headers: {'X-Probe': 'p', Cookie: 'a=1', 'Content-Type': 'text/x-test'}, body: 'abc'})],
    ['status and a streamed body', request('GET', '/teapot')],
    ['204', request('GET', '/empty')],
    ['redirect', request('GET', '/redirect')],
    ['coroutine stream', request('GET', '/stream')],
  ],
  more: (pair) => {
    itAnswers500WhenTheAppRaises(pair);
    itReadsChunkedBodies(pair);
  },
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

describeLoadFailures({
  cwd: DIR,
  appOption: '--lua',
  failures: [['broken.lua', /unable to load Lua app broken\.lua: broken\.lua:3: unexpected symbol/], ['not-app.lua', /must return the WSAPI app .* not number/], ['missing.lua', /unable to load Lua app missing\.lua: cannot open missing\.lua/]],
  app: 'app.lua',
  binOption: '--lua-bin',
  missingRuntime: /lua apps need lua5\.1: cannot run '\/nonexistent\/runtime' .*install the Debian package lua5\.1 \(and lua-posix\), or set lua-bin/,
  run: describeLua,
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
