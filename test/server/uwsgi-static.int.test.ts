/**
 * Static files and mount points (issue 15), compared with real uWSGI 2.0: the same ini with static-map,
 * static-map2, check-static, static-index, static-skip-ext, static-expires*, static-gzip-all, add-header, and mount
 * with manage-script-name, under kaiser and under uWSGI; every request must get the same status, headers (framing
 * left out) and body, or, when the app answers, the same PATH_INFO and SCRIPT_NAME. Skipped where uWSGI is not
 * installed.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {cleanupProcesses} from '../helpers/processes.js';
import {comparable, exchange, hasUwsgiPlugin, startKaiserApp, startUwsgiApp, uwsgiPacket, type Target} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/environ.py');
const maybe = hasUwsgiPlugin('python3') ? describe : describe.skip;

/** The comparable answer; for the app's answers, what it saw of the path instead of its whole environ. */
async function ask(target: Target, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<unknown> {
  const head = Object.entries({Host: 'test.local', ...headers, Connection: 'close'}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const answer = await exchange(target, `${method} ${path} HTTP/1.1\r\n${head}\r\n`);
  const view = comparable(answer);
  if (view.headers.includes('content-type: application/json') && method !== 'HEAD') {
    const env = JSON.parse(view.body) as Record<string, string>;
    // uWSGI leaves SCRIPT_NAME out when it has none; kaiser sets '' (PEP 3333): the same thing to the app
    return {...view, body: `app saw SCRIPT_NAME=${env.SCRIPT_NAME ?? ''} PATH_INFO=${env.PATH_INFO}`};
  }
  return view;
}

function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kaiser-static-'));
  for (const d of ['static/sub', 'public', 'files/static', 'secret']) mkdirSync(join(dir, d), {recursive: true});
  const files: Record<string, string> = {
    'static/a.css': 'body{}', 'static/a.css.gz': 'GZIPPED', 'static/sub/index.html': '<p>index</p>', 'static/skip.py': 'x = 1',
    'static/data.json': '{"a": 1}', 'static/noext': 'plain', 'public/robots.txt': 'User-agent: *', 'files/static/f.txt': 'map2',
    'secret/key.txt': 'secret',
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
    utimesSync(join(dir, name), 1_000_000_000, 1_000_000_000);
  }
  symlinkSync(join(dir, 'secret/key.txt'), join(dir, 'static/link.txt'));
  writeFileSync(join(dir, 'app.ini'), `[uwsgi]
plugins = python3
wsgi-file = ${APP}
mount = /api=${APP}
manage-script-name = true
static-map = /static=${dir}/static
static-map = /robots.txt=${dir}/public/robots.txt
static-map2 = /files=${dir}
check-static = ${dir}/public
static-index = index.html
static-skip-ext = .py
static-expires-mtime = \\.css$ 60
static-expires-type-mtime = text/plain=120
static-expires-uri-mtime = ^/static/data 30
static-gzip-ext = .css
add-header = X-Global: yes
`);
  return dir;
}

let workDir = '';
let kaiser: Target;
let uwsgi: Target;
let kaiserUwsgi: Target;
let uwsgiUwsgi: Target;

/** Over the uwsgi protocol, as nginx sends a request (its SCRIPT_NAME too): the comparable answer. */
async function askUwsgi(target: Target, path: string, extra: [string, string][] = []): Promise<unknown> {
  const vars: [string, string][] = [['REQUEST_METHOD', 'GET'], ['REQUEST_URI', path], ['PATH_INFO', path], ['QUERY_STRING', ''],
    ['SERVER_PROTOCOL', 'HTTP/1.1'], ['HTTP_HOST', 'test.local'], ['SERVER_NAME', 'test.local'], ['SERVER_PORT', '80'], ['REMOTE_ADDR', '127.0.0.1'], ...extra];
  const answer = await exchange(target, uwsgiPacket(vars));
  const view = comparable(answer);
  if (!view.headers.includes('content-type: application/json')) return view;
  const env = JSON.parse(view.body) as Record<string, string>;
  return {...view, body: `app saw SCRIPT_NAME=${env.SCRIPT_NAME ?? ''} PATH_INFO=${env.PATH_INFO}`};
}

maybe('static files and mount points, compared with uWSGI', () => {
  beforeAll(async () => {
    const dir = (workDir = tree());
    kaiserUwsgi = {path: join(dir, 'kaiser-uwsgi.sock')};
    uwsgiUwsgi = {path: join(dir, 'uwsgi-uwsgi.sock')};
    [kaiser, uwsgi] = await Promise.all([
      startKaiserApp(['--ini', 'app.ini', '--processes', '1', '--socket', kaiserUwsgi.path], dir).then((s) => s.target),
      startUwsgiApp(['--ini', 'app.ini', '--socket', uwsgiUwsgi.path], dir).then((s) => s.target),
    ]);
  }, 60_000);
  afterAll(async () => {
    await cleanupProcesses();
    rmSync(workDir, {recursive: true, force: true});
  });

  const same = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const [k, u] = await Promise.all([ask(kaiser, path, headers, method), ask(uwsgi, path, headers, method)]);
    expect({path, headers, method, answer: k}).toEqual({path, headers, method, answer: u});
    return k;
  };

  it('serves mapped files with uWSGI\'s headers, without the app', async () => {
    expect(await same('/static/a.css')).toMatchObject({status: 200, body: 'body{}'});
    for (const path of ['/static/data.json', '/static/noext', '/robots.txt', '/files/static/f.txt', '/static/sub/', '/static/sub']) await same(path);
    expect(await same('/robots.txt')).toMatchObject({body: 'User-agent: *'});
  });

  it('answers HEAD without a body, If-Modified-Since with 304, and gzip to clients that take it', async () => {
    await same('/static/a.css', {}, 'HEAD');
    expect(await same('/static/a.css', {'If-Modified-Since': 'Sun, 09 Sep 2001 01:46:40 GMT'})).toMatchObject({status: 304});
    await same('/static/a.css', {'If-Modified-Since': 'Sun, 09 Sep 2001 01:46:39 GMT'});
    expect(await same('/static/a.css', {'Accept-Encoding': 'gzip'})).toMatchObject({body: 'GZIPPED'});
  });

  it('leaves to the app what it must not serve: missing files, skipped extensions, other methods, escapes', async () => {
    for (const path of ['/static/missing', '/static/skip.py', '/static/link.txt', '/static/../secret/key.txt', '/static/%2e%2e/secret/key.txt']) {
      expect(await same(path)).toMatchObject({status: 200});
    }
    await same('/static/a.css', {}, 'POST');
  });

  it('splits SCRIPT_NAME and PATH_INFO at the mount point as uWSGI does', async () => {
    for (const path of ['/api/x/y', '/api', '/api/', '/apix', '/', '/other']) await same(path);
  });

  it('does the same behind nginx (uwsgi protocol), where SCRIPT_NAME may come with the request', async () => {
    const cases: [string, [string, string][]][] = [['/static/a.css', []], ['/api/x', []], ['/x', [['SCRIPT_NAME', '/api']]], ['/static/missing', []]];
    for (const [path, extra] of cases) {
      const [k, u] = await Promise.all([askUwsgi(kaiserUwsgi, path, extra), askUwsgi(uwsgiUwsgi, path, extra)]);
      expect({path, extra, answer: k}).toEqual({path, extra, answer: u});
    }
  });
});
