/**
 * uWSGI's internal routing and add-header (issue 15), compared with real uWSGI 2.0: the same ini (routes with
 * basicauth by pair and by htpasswd file, redirects with `$1` and `${VAR}`, rewrite, return, break, goto/label,
 * route-host, route-uri, route-run, route-if/route-if-not conditions, addheader/delheader, add-header) under kaiser and under uWSGI with its router
 * plugins; every request must get the same status, headers (framing left out) and body, and the app the same
 * PATH_INFO, QUERY_STRING and REMOTE_USER. Skipped where uWSGI or its router plugins are not installed.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {createHash} from 'node:crypto';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {cleanupProcesses} from '../helpers/processes.js';
import {comparable, exchange, hasUwsgiPlugin, startKaiserApp, startUwsgiApp, type Target} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/environ.py');
const PLUGINS = ['python3', 'router_basicauth', 'router_redirect', 'router_rewrite'];
const maybe = PLUGINS.every(hasUwsgiPlugin) ? describe : describe.skip;

// crypt(3) DES of "alessandro" with salt "ab" (what `htpasswd -d` writes), and a {SHA} line for "pw2"
const DES_LINE = 'serena:ab2hjY/6Aau4E';
const SHA_LINE = `kratos:{SHA}${createHash('sha1').update('pw2').digest('base64')}`;

const INI = `[uwsgi]
plugins = ${PLUGINS.join(',')}
wsgi-file = ${APP}
add-header = X-Global: yes
route = ^/auth/pair basicauth:pair realm,serena:alessandro
route = ^/auth/file basicauth:file realm,htpasswd
route = ^/auth/user basicauth:user realm,roberta:
route = ^/auth/none basicauth:none realm,
route = ^/auth/next basicauth-next:next realm,a:b
route = ^/auth/next return:403
route = ^/old/(.*)$ redirect:http://\${HTTP_HOST}/new/$1?from=\${qs[from]}
route = ^/perm/(.*) redirect-301:/p/$1
route = ^/rw/(\\w+) rewrite:/rewritten/$1?added=1
route = ^/rewritten/ addheader:X-Rewritten: \${PATH_INFO}
route = ^/deny return:403
route = ^/teapot break-with-status:418
route = ^/busy break:503 Busy
route = ^/drop break:
route-uri = \\?admin=1 return:401
route-host = ^forbidden\\. return:404
route-run = addheader:X-Run: \${REQUEST_METHOD}
route = ^/skip goto:later
route = ^/skip return:500
route-label = later
route = ^/skip addheader:X-Skipped: yes
route = ^/del delheader:Content-Type
route = ^/last rewrite-last:/final
route = ^/final return:404
route-if = equal:\${PATH_INFO};/if/equal return:403
route-if = startswith:\${REQUEST_URI};/if/start addheader:X-Start: yes
route-if-not = empty:\${HTTP_X_TOKEN} addheader:X-Token: \${HTTP_X_TOKEN}
route-if = regexp:\${PATH_INFO};^/if/re/(\\w+)$ rewrite:/if/rewritten/$1
route-if = ishigher:\${qs[n]};10 break:429 Too Many
route-if = endswith:\${PATH_INFO};.php return:404
route-if = contains:\${HTTP_USER_AGENT};BadBot return:403
route-if = equal:\${PATH_INFO} return:500
route-if-not = isfile:\${DOCUMENT_ROOT}/nothing/here addheader:X-No-File: yes
`;

const basic = (pair: string) => ({Authorization: `Basic ${Buffer.from(pair).toString('base64')}`});

/** What one request got: the comparable answer and the app's view of the request, or `dropped`. */
async function ask(target: Target, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<unknown> {
  const head = Object.entries({Host: 'test.local', ...headers, Connection: 'close'}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  try {
    const answer = await exchange(target, `${method} ${path} HTTP/1.1\r\n${head}\r\n`);
    const view = comparable(answer);
    if (answer.status === 200 && method !== 'HEAD') {
      const env = JSON.parse(view.body) as Record<string, string>;
      return {...view, body: ['PATH_INFO', 'QUERY_STRING', 'REMOTE_USER', 'REQUEST_URI'].map((k) => `${k}=${env[k] ?? '(unset)'}`)};
    }
    return view;
  } catch {
    return 'dropped';
  }
}

let workDir = '';
let kaiser: Target;
let uwsgi: Target;

maybe('internal routing and add-header, compared with uWSGI', () => {
  beforeAll(async () => {
    const dir = (workDir = mkdtempSync(join(tmpdir(), 'kaiser-routing-')));
    writeFileSync(join(dir, 'routes.ini'), INI);
    writeFileSync(join(dir, 'htpasswd'), `${DES_LINE}\n${SHA_LINE}\n`);
    [kaiser, uwsgi] = await Promise.all([
      startKaiserApp(['--ini', 'routes.ini', '--processes', '1'], dir).then((s) => s.target),
      startUwsgiApp(['--ini', 'routes.ini'], dir).then((s) => s.target),
    ]);
  }, 60_000);
  afterAll(async () => {
    await cleanupProcesses();
    rmSync(workDir, {recursive: true, force: true});
  });

  const same = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const [k, u] = await Promise.all([ask(kaiser, path, headers, method), ask(uwsgi, path, headers, method)]);
    expect({path, headers, answer: k}).toEqual({path, headers, answer: u});
    return k;
  };

  it('answers basicauth as uWSGI does: 401 with the realm, or the app with REMOTE_USER', async () => {
    const denied = await same('/auth/pair');
    expect(denied).toMatchObject({status: 401, body: 'Unauthorized'});
    await same('/auth/pair', basic('serena:alessandro'));
    await same('/auth/pair', basic('serena:wrong'));
    await same('/auth/pair', {Authorization: 'Bearer abcdefgh'});
    await same('/auth/file', basic('serena:alessandro'));
    await same('/auth/file', basic('kratos:pw2'));
    await same('/auth/file', basic('kratos:nope'));
    await same('/auth/user', basic('roberta:'));
    await same('/auth/none', basic('a:b'));
    await same('/auth/next', basic('a:wrong'));
    await same('/auth/next');
  });

  it('redirects with captures and variables', async () => {
    expect(await same('/old/a/b?from=me')).toMatchObject({status: 302});
    expect(await same('/perm/x')).toMatchObject({status: 301});
  });

  it('rewrites PATH_INFO and QUERY_STRING, and later rules see the new path', async () => {
    await same('/rw/abc?q=1');
    await same('/rw/abc');
    await same('/last');
  });

  it('returns, breaks with a status, and drops the connection on a bare break', async () => {
    for (const path of ['/deny', '/teapot', '/busy', '/drop', '/x?admin=1']) await same(path);
    await same('/x', {Host: 'forbidden.example'});
  });

  it('runs route-if and route-if-not conditions, with regexp captures, as uWSGI does', async () => {
    expect(await same('/if/equal')).toMatchObject({status: 403});
    expect(await same('/if/equal/not')).toMatchObject({status: 200});
    await same('/if/start?x=1');
    await same('/plain', {'X-Token': 'abc'});
    await same('/if/re/abc');
    expect(await same('/x?n=11')).toMatchObject({status: 429});
    expect(await same('/x?n=9')).toMatchObject({status: 200});
    expect(await same('/a/index.php')).toMatchObject({status: 404});
    expect(await same('/x', {'User-Agent': 'a BadBot b'})).toMatchObject({status: 403});
  });

  it('runs route-run, goto/label, addheader and delheader around the app, and add-header everywhere', async () => {
    expect(await same('/plain')).toMatchObject({status: 200});
    await same('/skip');
    await same('/del');
    await same('/plain', {}, 'POST');
  });
});
