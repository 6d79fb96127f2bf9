/**
 * uWSGI's logging options (issue 15), each compared with real uWSGI 2.0 running the same ini and app (logging.py):
 * `logformat` with request variables (`%(var.NAME)`, an app's `uwsgi.set_logvar`, an unknown name), X-Forwarded-For
 * as the address (`log-x-forwarded-for`), the conditions that log under `disable-logging` (`log-4xx`, `log-big`),
 * `logger = file:` + a named logger fed by `log-route` + `req-logger`, and the `log-prefix` stamp. Both servers write
 * to files the ini names, so the same lines are read back from each. Skipped where uWSGI is not installed.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {cleanupProcesses, startKaiser, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {exchange, hasUwsgiPlugin, startUwsgiApp, type Target} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/logging.py');
const maybe = hasUwsgiPlugin('python3') && hasUwsgiPlugin('logfile') ? describe : describe.skip;

/** kaiser on a UNIX http-socket (its own log may go to a logger file, so no log line is awaited): answering. */
async function startKaiserUnix(ini: string, dir: string): Promise<{server: Started; target: Target}> {
  const path = join(dir, 'kaiser.sock');
  const server = startKaiser(['--http-socket', path, '--ini', ini], {cwd: dir});
  const target = {path};
  await waitFor(async () => (existsSync(path) ? exchange(target, 'GET /ping HTTP/1.0\r\n\r\n').then(() => true, () => false) : false), 30_000, `kaiser answering on ${path}`);
  return {server, target};
}

/** The same ini for both servers, each writing its own files (`%(dir)/NAME.SERVER.log`). */
async function both(body: (server: string) => string): Promise<{dir: string; kaiser: Target; uwsgi: Target}> {
  const dir = tempDir('kaiser-uwsgi-logging-');
  for (const server of ['kaiser', 'uwsgi']) writeFileSync(join(dir, `${server}.ini`), `[uwsgi]\nwsgi-file = ${APP}\n${body(server)}`);
  const kaiser = await startKaiserUnix(join(dir, 'kaiser.ini'), dir);
  const uwsgi = await startUwsgiApp(['--plugin', 'python3,logfile', '--master', '--ini', join(dir, 'uwsgi.ini')], dir);
  return {dir, kaiser: kaiser.target, uwsgi: uwsgi.target};
}

const get = (path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: t.local\r\n${headers}Connection: close\r\n\r\n`;

/** The lines of `file` once it has `count` lines matching `match`. */
function linesOf(file: string, match: RegExp, count: number): Promise<string[]> {
  return waitFor(() => {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => match.test(line)) : [];
    return lines.length >= count ? lines : undefined;
  }, 15_000, `${count} lines matching ${match} in ${file}`);
}

maybe('uWSGI logging options, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it('logformat with request variables and log-x-forwarded-for give the same request lines', async () => {
    const {dir, kaiser, uwsgi} = await both((server) =>
      `req-logger = file:%d/req.${server}.log\nlog-x-forwarded-for = true\n` +
      'logformat = R %(addr) %(method) %(uri) %(status) %(rsize) %(var.HTTP_X_FOO) %(mine) %(user) %(proto) %(nothing) %(cl)\n');
    for (const target of [kaiser, uwsgi]) {
      await exchange(target, get('/x?y=1', 'X-Forwarded-For: 10.1.2.3, 10.0.0.1\r\nX-Foo: bar\r\n'));
      await exchange(target, get('/404', 'X-Forwarded-For: 192.0.2.7\r\n'));
    }
    const [k, u] = await Promise.all(['kaiser', 'uwsgi'].map((server) => linesOf(join(dir, `req.${server}.log`), /^R .* \/(x|404)/, 2)));
    expect(k).toEqual(u);
    expect(k).toEqual(['R 10.1.2.3, 10.0.0.1 GET /x?y=1 200 5 bar MV - HTTP/1.1 - 0', 'R 192.0.2.7 GET /404 404 2 - MV - HTTP/1.1 - 0']);
  }, 90_000);

  it('disable-logging with log-4xx and log-big logs only the 4xx and the big responses', async () => {
    const {dir, kaiser, uwsgi} = await both((server) =>
      `req-logger = file:%d/cond.${server}.log\ndisable-logging = true\nlog-4xx = true\nlog-big = 1000\nlogformat = C %(uri) %(status)\n`);
    for (const target of [kaiser, uwsgi]) {
      for (const path of ['/small', '/404', '/big', '/end']) await exchange(target, get(path));
    }
    // /end answers 200 with a small body: not logged; the lines before it are all there is.
    const [k, u] = await Promise.all(['kaiser', 'uwsgi'].map((server) => linesOf(join(dir, `cond.${server}.log`), /^C /, 2)));
    expect(k).toEqual(['C /404 404', 'C /big 200']);
    expect(u).toEqual(k);
  }, 90_000);

  it('logger, a named logger fed by log-route, req-logger and log-prefix route lines as uWSGI does', async () => {
    const {dir, kaiser, uwsgi} = await both((server) => [
      `logger = file:%d/all.${server}.log`,
      `logger = spawns file:%d/spawns.${server}.log`,
      'log-route = spawns ^.*spawned',
      `req-logger = file:%d/req.${server}.log`,
      'log-prefix = [app]',
      '',
    ].join('\n'));
    for (const target of [kaiser, uwsgi]) await exchange(target, get('/print'));
    for (const server of ['kaiser', 'uwsgi']) {
      const spawns = await linesOf(join(dir, `spawns.${server}.log`), /spawned uWSGI worker 1/, 1);
      expect(spawns[0]).toMatch(/^\[app\] - spawned uWSGI worker 1 /);
      const all = await linesOf(join(dir, `all.${server}.log`), /APPLINE from the app/, 1);
      expect(all).toEqual(['APPLINE from the app']);
      const everything = readFileSync(join(dir, `all.${server}.log`), 'utf8');
      expect(everything).not.toContain('spawned');
      expect(everything).not.toContain('GET /print');
      await linesOf(join(dir, `req.${server}.log`), /^\[pid: \d+\|app: 0\|req: \d+\/\d+\] .* GET \/print => generated 5 bytes/, 1);
    }
  }, 90_000);
});
