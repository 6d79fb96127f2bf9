import {request as httpRequest, type IncomingMessage} from 'node:http';
import {statSync} from 'node:fs';
import {gunzipSync} from 'node:zlib';
import {afterEach, describe, expect, it} from '@jest/globals';
import {parseTokenBook} from '../../src/dashboard/auth.js';
import {resolveVassalName, startDashboard} from '../../src/dashboard/server.js';
import {VassalHistory} from '../../src/dashboard/history.js';
import {TransitionFeed} from '../../src/dashboard/event-stream.js';
import {BEARER, CapturedLog, FakeControl, OTHER_TOKEN, row, send, startRig, TOKEN, type Rig} from './dashboard-rig.js';
import {waitFor} from '../helpers/processes.js';

const ACTION = {...BEARER, 'X-Requested-With': 'kaiser'};
let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const twoVassals = () => [row('web.toml'), row('shop.ini', {state: 'backoff', pid: -1, lastError: '<img src=x onerror=alert(1)>'})];

function noCors(headers: Record<string, unknown>): void {
  expect(Object.keys(headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
}

describe('dashboard authentication over TCP', () => {
  it('answers 401 to pages, assets, API and events without a token, with the sign-in form for /', async () => {
    rig = await startRig(twoVassals());
    const page = await send(rig, '/');
    expect(page.status).toBe(401);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('<form method="post" action="/api/login">');
    expect(page.body).not.toContain('web.toml');
    for (const path of ['/api/vassals', '/api/vassals/web.toml', '/api/status', '/api/events', '/assets/app.js', '/assets/vendor/uplot.js', '/nope']) {
      const answer = await send(rig, path);
      expect([path, answer.status]).toEqual([path, 401]);
      expect(answer.body).not.toContain('web.toml');
    }
  });

  it('refuses a wrong or malformed bearer token', async () => {
    rig = await startRig(twoVassals());
    for (const authorization of ['Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      expect((await send(rig, '/api/vassals', {headers: {Authorization: authorization}})).status).toBe(401);
    }
  });

  it('serves the API to a bearer token: the rows of kaiser ls --json', async () => {
    rig = await startRig(twoVassals());
    const answer = await send(rig, '/api/vassals', {headers: {Authorization: `Bearer ${OTHER_TOKEN}`}});
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(rig.control.rows());
    expect(answer.headers['cache-control']).toBe('no-store');
    noCors(answer.headers);
  });

  it('exchanges a token for an HttpOnly SameSite=Strict session cookie through the sign-in form, and signs out', async () => {
    rig = await startRig(twoVassals());
    const wrong = await send(rig, '/api/login', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'token=nope'});
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('wrong token');
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const login = await send(rig, '/api/login', {
      method: 'POST',
      headers: {'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${rig.port}`},
      body: `token=${encodeURIComponent(TOKEN)}`,
    });
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/');
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^kaiser_session=[\w-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const session = cookie.split(';')[0]!;

    const page = await send(rig, '/', {headers: {Cookie: session}});
    expect(page.status).toBe(200);
    expect(page.body).toContain('/assets/app.js');
    expect((await send(rig, '/api/vassals', {headers: {Cookie: session}})).status).toBe(200);
    expect((await send(rig, '/api/vassals', {headers: {Cookie: 'kaiser_session=forged'}})).status).toBe(401);
    expect(rig.log.entries.some((e) => e.message === 'dashboard login' && e.fields['by'] === 'ops')).toBe(true);

    const logout = await send(rig, '/api/logout', {method: 'POST', headers: {Cookie: session, 'X-Requested-With': 'kaiser'}});
    expect(logout.status).toBe(200);
    expect((await send(rig, '/api/vassals', {headers: {Cookie: session}})).status).toBe(401);
  });

  it('takes a JSON login from scripts, and refuses a cross-origin one', async () => {
    rig = await startRig(twoVassals());
    const ok = await send(rig, '/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token: OTHER_TOKEN})});
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ok: true, name: 'ci'});
    const cross = await send(rig, '/api/login', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', Origin: 'http://evil.example'},
      body: JSON.stringify({token: OTHER_TOKEN}),
    });
    expect(cross.status).toBe(403);
    expect(cross.headers['set-cookie']).toBeUndefined();
    expect((await send(rig, '/api/login')).status).toBe(405);
  });

  it('refuses to start over TCP without a token book', async () => {
    const control = new FakeControl([]);
    const started = await startDashboard({
      address: '127.0.0.1:0',
      control,
      history: new VassalHistory(),
      events: new TransitionFeed().subscribe,
      tokens: undefined,
      log: new CapturedLog(),
      emperorStats: () => ({rss: 0, cpu: 0, loopLagMs: 0}),
    });
    expect(started.ok).toBe(false);
    if (!started.ok) expect(started.error).toContain('--dashboard-token-file');
  });
});

describe('dashboard actions', () => {
  it('reloads, stops and starts with a token and X-Requested-With, logging the token name', async () => {
    rig = await startRig(twoVassals());
    for (const action of ['reload', 'stop']) {
      const answer = await send(rig, `/api/vassals/web.toml/${action}`, {method: 'POST', headers: ACTION});
      expect([action, answer.status]).toEqual([action, 200]);
    }
    expect((await send(rig, '/api/vassals/shop.ini/start', {method: 'POST', headers: {...ACTION, Origin: `http://127.0.0.1:${rig.port}`}})).status).toBe(200);
    expect(rig.control.actions).toEqual(['reload web.toml', 'stop web.toml', 'start shop.ini']);
    const logged = rig.log.entries.filter((e) => e.message === 'dashboard action');
    expect(logged.map((e) => [e.fields['by'], e.fields['action'], e.fields['vassal']])).toEqual([
      ['ops', 'reload', 'web.toml'],
      ['ops', 'stop', 'web.toml'],
      ['ops', 'start', 'shop.ini'],
    ]);
    expect(String(logged[0]!.fields['uwsgi'])).toBe('[dashboard] ops asked to reload web.toml: done');
  });

  it('finds a vassal by its name without .toml or .ini, and answers 404 for an unknown one', async () => {
    rig = await startRig(twoVassals());
    expect((await send(rig, '/api/vassals/web/reload', {method: 'POST', headers: ACTION})).status).toBe(200);
    expect(rig.control.actions).toEqual(['reload web.toml']);
    expect((await send(rig, '/api/vassals/ghost/reload', {method: 'POST', headers: ACTION})).status).toBe(404);
    expect(resolveVassalName([{name: 'a.ini'}, {name: 'a.toml'}], 'a')).toBeUndefined();
  });

  it('answers 409 with the reason when the emperor refuses', async () => {
    rig = await startRig(twoVassals());
    const answer = await send(rig, '/api/vassals/web.toml/start', {method: 'POST', headers: ACTION});
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body).error).toContain('already running');
  });

  it('refuses (403) an action without X-Requested-With, from another origin, or cross-site', async () => {
    rig = await startRig(twoVassals());
    const refusals: Record<string, string>[] = [
      {...BEARER},
      {...BEARER, 'X-Requested-With': 'XMLHttpRequest'},
      {...ACTION, Origin: 'http://evil.example'},
      {...ACTION, Origin: `http://127.0.0.1:${rig.port! + 1}`},
      {...ACTION, Origin: 'null'},
      {...ACTION, 'Sec-Fetch-Site': 'cross-site'},
    ];
    for (const headers of refusals) {
      const answer = await send(rig, '/api/vassals/web.toml/reload', {method: 'POST', headers});
      expect([headers, answer.status]).toEqual([headers, 403]);
      noCors(answer.headers);
    }
    expect(rig.control.actions).toEqual([]);
  });

  it('refuses an action without authentication (401) and a GET on an action URL (405)', async () => {
    rig = await startRig(twoVassals());
    expect((await send(rig, '/api/vassals/web.toml/reload', {method: 'POST', headers: {'X-Requested-With': 'kaiser'}})).status).toBe(401);
    const get = await send(rig, '/api/vassals/web.toml/reload', {headers: BEARER});
    expect(get.status).toBe(405);
    expect(get.headers['allow']).toBe('POST');
    const preflight = await send(rig, '/api/vassals/web.toml/reload', {
      method: 'OPTIONS',
      headers: {Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST'},
    });
    expect(preflight.status).toBe(401);
    noCors(preflight.headers);
    expect(rig.control.actions).toEqual([]);
  });
});

describe('dashboard API', () => {
  it('gives one vassal with its history, config file and last log lines', async () => {
    rig = await startRig(twoVassals());
    rig.control.print('web.toml', 'GET / 200');
    rig.history.record(Date.now(), rig.control.rows());
    rig.control.transition('web.toml', 'reloading', 'RELOAD');
    await waitFor(() => rig!.history.transitions('web.toml').length === 1, 5_000, 'the transition is in the history');
    const answer = await send(rig, '/api/vassals/web', {headers: BEARER});
    expect(answer.status).toBe(200);
    const detail = JSON.parse(answer.body);
    expect(detail.name).toBe('web.toml');
    expect(detail.state).toBe('reloading');
    expect(detail.history.samples.cpu.length).toBeGreaterThanOrEqual(2);
    expect(detail.history.transitions).toEqual([expect.objectContaining({from: 'ready', to: 'reloading', event: 'RELOAD'})]);
    expect(detail.config).toContain('exec = ');
    expect(detail.logs).toEqual(['GET / 200']);
  });

  it('sends security headers and no CORS header, and gzips what it can', async () => {
    rig = await startRig(twoVassals());
    const page = await send(rig, '/', {headers: BEARER});
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    noCors(page.headers);
    const zipped = await new Promise<{res: IncomingMessage; body: Buffer}>((resolve, reject) => {
      const req = httpRequest({host: '127.0.0.1', port: rig!.port, path: '/assets/vendor/uplot.js', headers: {...BEARER, 'Accept-Encoding': 'gzip, br'}}, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({res, body: Buffer.concat(chunks)}));
      });
      req.on('error', reject);
      req.end();
    });
    expect(zipped.res.headers['content-encoding']).toBe('gzip');
    expect(zipped.res.headers['content-type']).toMatch(/javascript/);
    expect(gunzipSync(zipped.body).toString()).toContain('export default uPlot;');
    const etag = String(zipped.res.headers['etag']);
    expect((await send(rig, '/assets/vendor/uplot.js', {headers: {...BEARER, 'If-None-Match': etag}})).status).toBe(304);
    expect((await send(rig, '/assets/../server.js', {headers: BEARER})).status).toBe(404);
    expect((await send(rig, '/assets/%2e%2e%2fserver.js', {headers: BEARER})).status).toBe(404);
  });
});

/** Reads an event stream until `match` holds on what arrived. */
function readEvents(rig: Rig, path: string, headers: Record<string, string>) {
  let text = '';
  const waiters: {match: (text: string) => boolean; resolve: () => void}[] = [];
  let response: IncomingMessage | undefined;
  const req = httpRequest({host: '127.0.0.1', port: rig.port, path, headers}, (res) => {
    response = res;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      for (const w of [...waiters]) if (w.match(text)) w.resolve();
    });
  });
  req.end();
  return {
    get text() {
      return text;
    },
    get status() {
      return response?.statusCode;
    },
    waitFor(match: (text: string) => boolean, withinMs = 5_000): Promise<void> {
      if (match(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`event not seen within ${withinMs} ms; got:\n${text}`)), withinMs);
        waiters.push({match, resolve: () => (clearTimeout(timer), resolve())});
      });
    },
    close: () => req.destroy(),
  };
}

describe('dashboard events', () => {
  it('streams a state event with the fresh row on every transition, and samples', async () => {
    rig = await startRig(twoVassals(), {sampleMs: 100});
    const events = readEvents(rig, '/api/events', BEARER);
    await events.waitFor((t) => t.includes('event: status'));
    rig.control.transition('web.toml', 'reloading', 'RELOAD', {restarts: 1});
    await events.waitFor((t) => t.includes('event: state'));
    const data = /event: state\ndata: (.*)\n/.exec(events.text)![1]!;
    expect(JSON.parse(data)).toEqual(expect.objectContaining({vassal: 'web.toml', from: 'ready', to: 'reloading', event: 'RELOAD', row: expect.objectContaining({restarts: 1})}));
    await events.waitFor((t) => /event: sample\ndata: .*"web\.toml",1\.5,26214400/.test(t));
    events.close();
  });

  it('follows the log of ?follow=NAME: the tail, then each new line', async () => {
    rig = await startRig(twoVassals());
    rig.control.print('web.toml', 'old line');
    const events = readEvents(rig, '/api/events?follow=web', BEARER);
    await events.waitFor((t) => t.includes('event: logs') && t.includes('old line'));
    rig.control.print('web.toml', '<b>new</b> line');
    await events.waitFor((t) => t.includes('event: log\ndata: {"vassal":"web.toml","line":"<b>new</b> line"}'));
    events.close();
    await waitFor(() => rig!.control.followers.get('web.toml')?.size === 0, 5_000, 'the follower is unsubscribed');
  });

  it('refuses the event stream without authentication', async () => {
    rig = await startRig(twoVassals());
    const events = readEvents(rig, '/api/events', {});
    await events.waitFor((t) => t.includes('authentication required'));
    expect(events.status).toBe(401);
    events.close();
  });
});

describe('dashboard over a UNIX socket', () => {
  it('listens 0600 and takes the socket permissions as authentication', async () => {
    rig = await startRig(twoVassals(), {unix: true});
    expect(statSync(rig.socketPath!).mode & 0o777).toBe(0o600);
    expect((await send(rig, '/api/vassals')).status).toBe(200);
    expect((await send(rig, '/')).status).toBe(200);
    expect((await send(rig, '/api/vassals/web/reload', {method: 'POST'})).status).toBe(403);
    expect((await send(rig, '/api/vassals/web/reload', {method: 'POST', headers: {'X-Requested-With': 'kaiser', Origin: 'http://evil.example'}})).status).toBe(403);
    expect((await send(rig, '/api/vassals/web/reload', {method: 'POST', headers: {'X-Requested-With': 'kaiser'}})).status).toBe(200);
    expect(rig.log.entries.find((e) => e.message === 'dashboard action')?.fields['by']).toBe('unix-socket');
  });
});

describe('token book', () => {
  it('reads name:token lines and names the token it recognises', () => {
    const book = parseTokenBook('# ops team\nops: aaaaaaaaaaaaaaaa1 \n\nci:bbbbbbbbbbbbbbbb2\n');
    expect(book.ok).toBe(true);
    if (!book.ok) return;
    expect(book.value.size).toBe(2);
    expect(book.value.verify('aaaaaaaaaaaaaaaa1')).toBe('ops');
    expect(book.value.verify('bbbbbbbbbbbbbbbb2')).toBe('ci');
    expect(book.value.verify('bbbbbbbbbbbbbbbb')).toBeUndefined();
    expect(book.value.verify('')).toBeUndefined();
  });

  it('refuses malformed lines, short tokens, duplicate names and empty books, naming the line but never the token', () => {
    const cases: [string, string][] = [
      ['no-colon-here-at-all', 'f:1: expected name:token'],
      ['ops:short', 'f:1: the token of ops is shorter than 16 characters'],
      ['ops:aaaaaaaaaaaaaaaa\nops:bbbbbbbbbbbbbbbb', 'f:2: the name ops appears twice'],
      ['bad name:aaaaaaaaaaaaaaaa', 'f:1: a token name'],
      ['# only a comment\n', 'f: no name:token line'],
    ];
    for (const [text, message] of cases) {
      const book = parseTokenBook(text, 'f');
      expect(book.ok).toBe(false);
      if (!book.ok) {
        expect(book.error).toContain(message);
        expect(book.error).not.toContain('aaaaaaaaaaaaaaaa');
      }
    }
  });
});
