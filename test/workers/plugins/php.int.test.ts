/**
 * PHP under kaiser's master (`php-docroot`, src/server/python/php_app.py: php-cgi over FastCGI, one backend per request
 * core): the same requests answered as by uWSGI's php plugin (compared live when Debian's uwsgi-plugin-php is
 * installed), `$_SERVER`, `$_GET`/`$_POST`/`$_COOKIE`, uploads (`$_FILES`), sessions, `php-set`, the master's process
 * features, load failures, and a PHP vassal under the emperor.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, tempDir} from '../../helpers/processes.js';
import {checkProcessFeatures, checkVassalLifecycle, exchange, request, startKaiserApp} from './rig.js';
import {describeAnswersAsUwsgi, describeLoadFailures} from './suites.js';

const DIR = join(ROOT, 'test/fixtures/plugins/php');
const ARGS = ['--plugin', 'php', '--http-socket-modifier1', '14', '--php-docroot', 'php', '--php-index', 'index.php', '--master', '--processes', '2'];
const HAS_PHP_CGI = ['/usr/bin/php-cgi'].some((p) => existsSync(p));
const describePhp = HAS_PHP_CGI ? describe : describe.skip;

describeAnswersAsUwsgi('PHP answers as uWSGI does', {
  args: ARGS,
  cwd: DIR,
  uwsgiPlugin: 'php',
  run: describePhp,
  cases: [
    ['index of the docroot', request('GET', '/')],
    ['POST body, query and a header', request('POST', '/echo.php?x=1&y=two', {headers: {'X-Probe': 'p-123', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=kaiser&n=42'})],
    ['percent-encoded query', request('GET', '/echo.php?q=%2Fa%20b', {headers: {'X-Probe': 'x'}})],
    ['$_SERVER', request('POST', '/server.php?a=b', {headers: {'X-Probe': 'p', Cookie: 'c=1', 'Content-Type': 'text/x-test'}, body: 'abc'})],
    ['$_GET, $_POST, $_COOKIE, $_REQUEST', request('POST', '/forms.php?g=1&arr[]=x&arr[]=y', {headers: {Cookie: 'k=v; k2=v2', 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'p=2&q=%C3%A9'})],
    ['http_response_code, repeated headers, setcookie', request('GET', '/status.php')],
    ['Location: gives 302', request('GET', '/redirect.php')],
    ['flushed output', request('GET', '/stream.php')],
    ['fatal error: 500', request('GET', '/fatal.php')],
    ['a file that is not .php runs as PHP too (no php-allowed-ext)', request('GET', '/notphp.txt')],
    ['directory without its slash: 301', request('GET', '/sub?a=1')],
    ['directory index', request('GET', '/sub/')],
    ['missing script: 404', request('GET', '/missing.php')],
  ],
  more: (pair) => {
    it('sets PATH_INFO from the path after the script; PHP_SELF includes it, as php-fpm (uWSGI leaves it out)', async () => {
      const body = (await exchange(pair().kaiser, request('GET', '/server.php/extra/info?a=b'))).body.toString();
      expect(body).toContain("SCRIPT_NAME='/server.php'\n");
      expect(body).toContain("PATH_INFO='/extra/info'\n");
      expect(body).toContain("PHP_SELF='/server.php/extra/info'\n");
      expect(body).toContain(`SCRIPT_FILENAME='${join(DIR, 'php/server.php')}'\n`);
      expect(body).toContain("REMOTE_ADDR='127.0.0.1'\n");
    });

    it('parses multipart uploads into $_FILES and $_POST', async () => {
      const boundary = 'kaiserboundary42';
      const body = [
        `--${boundary}`, 'Content-Disposition: form-data; name="title"', '', 'a title',
        `--${boundary}`, 'Content-Disposition: form-data; name="doc"; filename="notes.txt"', 'Content-Type: text/plain', '', 'line one\nline two',
        `--${boundary}--`, '',
      ].join('\r\n');
      const answer = await exchange(pair().kaiser, request('POST', '/forms.php', {headers: {'Content-Type': `multipart/form-data; boundary=${boundary}`}, body}));
      const json = JSON.parse(answer.body.toString()) as {post: Record<string, string>; files: Record<string, {name: string; type: string; size: number; error: number; content: string}>};
      expect(json.post).toEqual({title: 'a title'});
      expect(json.files['doc']).toEqual({name: 'notes.txt', type: 'text/plain', size: 17, error: 0, content: 'line one\nline two'});
    });

    it('reads chunked request bodies and gives PHP their CONTENT_LENGTH', async () => {
      const answer = await exchange(pair().kaiser, 'POST /echo.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
      expect(answer.body.toString()).toContain('body=abcde\n');
    });
  },
});

describePhp('sessions and php-set', () => {
  afterEach(cleanupProcesses);
  it('keeps a session across requests, in the save_path set with php-set', async () => {
    const sessions = tempDir();
    const {target} = await startKaiserApp(['--php-docroot', 'php', '--php-set', `session.save_path=${sessions}`, '--processes', '2'], DIR);
    const first = await exchange(target, request('GET', '/session.php'));
    expect(first.body.toString()).toBe('visits=1\n');
    const cookie = first.headers.find(([k]) => k === 'set-cookie')?.[1].split(';')[0] ?? '';
    expect(cookie).toMatch(/^PHPSESSID=\w+$/);
    for (let i = 2; i <= 4; i++) expect((await exchange(target, request('GET', '/session.php', {headers: {Cookie: cookie}}))).body.toString()).toBe(`visits=${i}\n`);
    const {readdirSync} = await import('node:fs');
    expect(readdirSync(sessions)).toEqual([`sess_${cookie.split('=')[1]}`]);
  });

  it('php-allowed-ext refuses other files with 403', async () => {
    const {target} = await startKaiserApp(['--php-docroot', 'php', '--php-allowed-ext', '.php'], DIR);
    expect((await exchange(target, request('GET', '/notphp.txt'))).status).toBe(403);
    expect((await exchange(target, request('GET', '/index.php'))).status).toBe(200);
  });
});

describePhp('the master\'s process features with PHP', () => {
  afterEach(cleanupProcesses);
  it('stats, harakiri (the php-cgi backend goes with its worker) and max-requests', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'index.php'), '<?php echo "ok";');
    writeFileSync(join(dir, 'stuck.php'), '<?php sleep(60);');
    await checkProcessFeatures({args: ['--php-docroot', '.'], cwd: dir, hello: '/index.php', stuck: '/stuck.php'});
  });
});

describeLoadFailures({
  cwd: DIR,
  appOption: '--php-docroot',
  failures: [['nowhere', /php-docroot nowhere: not a directory/]],
  app: 'php',
  binOption: '--php-cgi-bin',
  missingRuntime: /php apps need php-cgi: cannot run '\/nonexistent\/runtime'; install the Debian package php-cgi, or set php-cgi-bin/,
  run: describePhp,
});

describePhp('a PHP vassal under the emperor', () => {
  afterEach(cleanupProcesses);
  it('serves, reloads onto a new docroot, and keeps serving when the new one is missing', async () => {
    await checkVassalLifecycle({
      files: {'v1/index.php': '<?php echo "one";', 'v2/index.php': '<?php echo "two";'},
      appLines: (variant, apps) => `plugin = php\nphp-docroot = ${join(apps, variant)}\nphp-index = index.php`,
      bodies: ['one', 'two'],
    });
  });
});
