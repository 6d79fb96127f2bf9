/**
 * uWSGI's process options (issue 15) with real processes, each run under kaiser and under real uWSGI 2.0 with the
 * same options where Debian's uWSGI has them: max-worker-lifetime recycles the worker (kaiser: 0 failed requests),
 * evil-reload-on-rss kills a growing worker, harakiri-verbose logs the worker's syscall and wait channel,
 * exit-on-reload turns SIGHUP into exit 0, a client that hangs up gives a write-error line and an OSError in the
 * app's write() unless ignore-write-errors / disable-write-exception, so-keepalive arms TCP keepalive on client
 * connections (/proc/net/tcp), reuse-port lets another SO_REUSEPORT socket bind the port. The uWSGI halves are
 * skipped where uWSGI is not installed. Kaiser only (uWSGI does these in another process: its emperor, its http
 * router): exit-on-reload under the emperor, and http-timeout on an `http =` socket.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {join} from 'node:path';
import {PYTHON, cleanupProcesses, freePort, publish, startKaiser, startProcess, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {UWSGI, exchange, hasUwsgiPlugin, request, startKaiserApp} from '../workers/plugins/rig.js';

const APPS = join(process.cwd(), 'test/fixtures/apps');
const withUwsgi = hasUwsgiPlugin('python3');
const SERVERS = withUwsgi ? (['kaiser', 'uwsgi'] as const) : (['kaiser'] as const);
type Kind = (typeof SERVERS)[number];

interface Running {
  server: Started;
  port: number;
}

async function start(kind: Kind, args: string[]): Promise<Running> {
  const cwd = tempDir('kaiser-procs-');
  if (kind === 'kaiser') {
    const {server, target} = await startKaiserApp(args, cwd);
    return {server, port: (target as {port: number}).port};
  }
  const port = await freePort();
  const server = startProcess(UWSGI, ['--plugin', 'python3', '--master', '--die-on-term', '--http-socket', `127.0.0.1:${port}`, ...args], {cwd});
  await waitFor(() => exchange({port}, request('GET', '/')).then(() => true, () => false), 20_000, `uWSGI answering on ${port}`);
  return {server, port};
}

/** The body of GET `path`, or undefined when the request failed. */
async function get(port: number, path = '/'): Promise<string | undefined> {
  try {
    const answer = await exchange({port}, request('GET', path), 10_000);
    return answer.status === 200 ? answer.body.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Sends requests one after another until `done()` holds; counts the failed ones. */
async function requestsUntil(port: number, done: (body: string | undefined) => boolean, withinMs: number, what: string): Promise<{failed: number; bodies: string[]}> {
  const bodies: string[] = [];
  let failed = 0;
  await waitFor(async () => {
    const body = await get(port);
    if (body === undefined) failed++;
    else bodies.push(body);
    return done(body);
  }, withinMs, what);
  return {failed, bodies};
}

describe('uWSGI process options, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it.each(SERVERS)('max-worker-lifetime recycles the worker (%s)', async (kind) => {
    // uWSGI refuses a max-worker-lifetime not above min-worker-lifetime (10 s by default), which kaiser does not have
    const {server, port} = await start(kind, ['--wsgi-file', join(APPS, 'slow.py'), '--processes', '1', '--min-worker-lifetime', '1',
      '--max-worker-lifetime', '2']);
    const first = await get(port);
    expect(first).toMatch(/^\d+$/);
    const {failed} = await requestsUntil(port, (body) => body !== undefined && body !== first, 60_000, 'a request answered by a new worker');
    expect(server.output()).toMatch(/worker 1 lifetime reached, it was running for \d+ second\(s\)/);
    if (kind === 'kaiser') expect(failed).toBe(0);      // the successor accepts before the old worker retires
  }, 90_000);

  it.each(SERVERS)('evil-reload-on-rss kills a worker that grows past it and a new one serves (%s)', async (kind) => {
    const {server, port} = await start(kind, ['--wsgi-file', join(APPS, 'leak.py'), '--processes', '1', '--evil-reload-on-rss', '64']);
    const first = await get(port);
    await requestsUntil(port, (body) => body !== undefined && body !== first, 60_000, 'a request answered by a new worker');
    expect(server.output()).toMatch(/\*\*\* EVIL RELOAD ON WORKER 1 RSS: \d+ \(pid: \d+\) \*\*\*/);
  }, 90_000);

  it.each(SERVERS)('harakiri-verbose logs the syscall and wait channel of the worker it kills (%s)', async (kind) => {
    const {server, port} = await start(kind, ['--wsgi-file', join(APPS, 'slow.py'), '--processes', '1', '--harakiri', '1', '--harakiri-verbose']);
    void get(port, '/sleep?30');
    await server.waitForLine(/HARAKIRI ON WORKER 1/, 30_000);
    await server.waitForLine(/HARAKIRI: -- syscall> \S/, 10_000);
    await server.waitForLine(/HARAKIRI: -- wchan> \S/, 10_000);
  }, 60_000);

  it.each(SERVERS)('exit-on-reload: SIGHUP stops the server with exit 0 (%s)', async (kind) => {
    const {server} = await start(kind, ['--wsgi-file', join(APPS, 'hello.py'), '--exit-on-reload']);
    server.signal('SIGHUP');
    const exit = await server.exited;
    expect(exit).toEqual({code: 0, signal: null});
    expect(server.output()).toContain('uWSGI: GAME OVER (insert coin)');
  }, 60_000);
});

/** GET /stream and hang up once the first bytes of the answer arrive. */
function hangUpDuringStream(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({host: '127.0.0.1', port});
    socket.on('connect', () => socket.write(request('GET', '/stream')));
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

describe('a client that hangs up during the response, compared with uWSGI', () => {
  afterAll(cleanupProcesses);
  const APP = join(APPS, 'stream-write.py');
  const WRITE_ERROR = /uwsgi_response_write_body_do\(\): .* during GET \/stream/;

  it.each(SERVERS)('is one log line and an OSError in write() by default (%s)', async (kind) => {
    const {server, port} = await start(kind, ['--wsgi-file', APP]);
    await hangUpDuringStream(port);
    await server.waitForLine(/stream: write raised OSError/, 30_000);
    expect(server.output()).toMatch(WRITE_ERROR);
  }, 60_000);

  it.each(SERVERS)('ignore-write-errors keeps the OSError and drops the line (%s)', async (kind) => {
    const {server, port} = await start(kind, ['--wsgi-file', APP, '--ignore-write-errors']);
    await hangUpDuringStream(port);
    await server.waitForLine(/stream: write raised OSError/, 30_000);
    expect(server.output()).not.toMatch(WRITE_ERROR);
  }, 60_000);

  it.each(SERVERS)('disable-write-exception lets write() return (%s)', async (kind) => {
    const {server, port} = await start(kind, ['--wsgi-file', APP, '--disable-write-exception']);
    await hangUpDuringStream(port);
    await server.waitForLine(/stream: every write returned/, 60_000);
    expect(server.output()).not.toMatch(/stream: write raised/);
  }, 90_000);
});

/** The "tr" (timer) field of the server side of the connection from `clientPort` to `serverPort` in /proc/net/tcp. */
function timerOf(serverPort: number, clientPort: number): number | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex(serverPort)}`) && f[2]?.endsWith(`:${hex(clientPort)}`) && f[3] === '01') return Number(f[5]?.split(':')[0]);
  }
  return undefined;
}

/** Holds a connection open on a request of /sleep?5; resolves with the client's port once connected. */
function slowRequest(port: number): Promise<{clientPort: number; socket: Socket}> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port});
    socket.once('error', reject);
    socket.on('connect', () => {
      socket.on('error', () => undefined);
      socket.write(request('GET', '/sleep?5'));
      resolve({clientPort: socket.localPort ?? 0, socket});
    });
  });
}

describe('socket options, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it.each(SERVERS)('so-keepalive arms TCP keepalive on the client connection (%s)', async (kind) => {
    const {port} = await start(kind, ['--wsgi-file', join(APPS, 'slow.py'), '--so-keepalive']);
    const {clientPort, socket} = await slowRequest(port);
    // /proc/net/tcp "tr" 2 = the keepalive timer is armed on the server's side of this connection
    await waitFor(() => timerOf(port, clientPort) === 2, 10_000, 'the keepalive timer on the accepted connection');
    socket.destroy();
  }, 60_000);

  it('without so-keepalive no keepalive timer runs (kaiser)', async () => {
    const {port} = await start('kaiser', ['--wsgi-file', join(APPS, 'hello.py')]);
    const socket = connect({host: '127.0.0.1', port});
    const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));    // keep-alive: stays open
    await answered;
    // no timer at all once the response is acknowledged (a retransmit timer, 1, may run until then; keepalive is 2)
    await waitFor(() => timerOf(port, socket.localPort ?? 0) === 0, 10_000, 'the idle connection without any timer');
    socket.destroy();
  }, 60_000);

  const bindsToo = (port: number) =>
    spawnSync(PYTHON, ['-c', `import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\ns.bind(('127.0.0.1', ${port}))`]).status === 0;

  it.each(SERVERS)('reuse-port lets another SO_REUSEPORT socket bind the port (%s)', async (kind) => {
    const plain = await start(kind, ['--wsgi-file', join(APPS, 'hello.py')]);
    const shared = await start(kind, ['--wsgi-file', join(APPS, 'hello.py'), '--reuse-port']);
    expect([bindsToo(plain.port), bindsToo(shared.port)]).toEqual([false, true]);
  }, 60_000);
});

describe('kaiser only: behaviour uWSGI shows in another process', () => {
  afterAll(cleanupProcesses);

  it('exit-on-reload under the emperor: a changed vassal file stops the vassal (exit 0) and the emperor starts it again', async () => {
    const dir = tempDir('kaiser-exit-on-reload-');
    const port = await freePort();
    const vassal = (extra: string) => `[uwsgi]\nwsgi-file = ${join(APPS, 'slow.py')}\nhttp-socket = 127.0.0.1:${port}\nexit-on-reload = true\n${extra}`;
    publish(dir, 'app.ini', vassal(''));
    const emperor = startKaiser(['--emperor', dir]);
    const first = await waitFor(() => get(port), 30_000, 'the vassal answering');
    publish(dir, 'app.ini', vassal('env = CHANGED=1\n'));
    await requestsUntil(port, (body) => body !== undefined && body !== first, 60_000, 'an answer from the vassal started again');
    expect(emperor.output()).toContain('uWSGI: GAME OVER (insert coin)');
  }, 90_000);

  it('http-timeout is the idle timeout of http = sockets; http-socket keeps socket-timeout', async () => {
    const [httpPort, socketPort] = [await freePort(), await freePort()];
    const server = startKaiser(['--http', `127.0.0.1:${httpPort}`, '--http-socket', `127.0.0.1:${socketPort}`, '--wsgi-file', join(APPS, 'hello.py'),
      '--socket-timeout', '1', '--http-timeout', '60'], {cwd: tempDir('kaiser-http-timeout-')});
    await server.waitForLine('kaiser is running', 20_000);
    const idle = (port: number) => {
      const socket = connect({host: '127.0.0.1', port});
      const state = {closed: false};
      socket.on('error', () => undefined);
      socket.on('close', () => (state.closed = true));
      return {socket, state};
    };
    // the routed connection first: without http-timeout the core would close it first (it sweeps in accept order)
    const routed = idle(httpPort);        // http = …
    await new Promise((resolve) => routed.socket.once('connect', resolve));
    const direct = idle(socketPort);      // http-socket = …
    await waitFor(() => direct.state.closed, 20_000, 'the idle http-socket connection closed after socket-timeout');
    expect(routed.state.closed).toBe(false);
    routed.socket.destroy();
  }, 60_000);
});
