/** The control server over a real UNIX socket in a temp dir, with a fake emperor: answers, bad input, limits, permissions, stale and live sockets. */
import {execFileSync} from 'node:child_process';
import {existsSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from '@jest/globals';
import {startControlServer, type ControlServer} from '../../src/control/server.js';
import {MAX_REQUEST_BYTES} from '../../src/control/protocol.js';
import {FakeEmperor, RawClient, ask, captureLog, removeTempDirs, tempDir} from './control-rig.js';

const servers: ControlServer[] = [];
const clients: RawClient[] = [];

async function serve(emperor = new FakeEmperor(), path = join(tempDir(), 'control.sock')): Promise<{path: string; emperor: FakeEmperor; server: ControlServer}> {
  const started = await startControlServer(path, emperor, captureLog());
  if (!started.ok) throw new Error(started.error);
  servers.push(started.value);
  return {path, emperor, server: started.value};
}

function client(path: string): RawClient {
  const c = new RawClient(path);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  removeTempDirs();
});

describe('startControlServer', () => {
  it('answers ls with the rows of the emperor', async () => {
    const {path} = await serve();
    const answer = await ask(path, {cmd: 'ls'});
    expect(answer['ok']).toBe(true);
    expect((answer['vassals'] as {name: string}[]).map((v) => v.name)).toEqual(['shop.ini', 'blog.ini']);
  });

  it('answers status with the summary', async () => {
    const {path} = await serve();
    expect(await ask(path, {cmd: 'status'})).toMatchObject({ok: true, status: {pid: 99, vassals: 2, failing: 1}});
  });

  it('reloads a known vassal and refuses an unknown one with KAISER_CONTROL_UNKNOWN_VASSAL', async () => {
    const {path, emperor} = await serve();
    expect(await ask(path, {cmd: 'reload', name: 'shop.ini'})).toEqual({ok: true, cmd: 'reload', name: 'shop.ini'});
    const unknown = await ask(path, {cmd: 'reload', name: 'nope.ini'});
    expect(unknown).toMatchObject({ok: false, code: 'KAISER_CONTROL_UNKNOWN_VASSAL'});
    expect(unknown['error']).toContain('shop.ini');
    expect(emperor.actions).toEqual(['reload shop.ini']);
  });

  it('passes on a refusal of the emperor as KAISER_CONTROL_REFUSED', async () => {
    const {path} = await serve();
    const answer = await ask(path, {cmd: 'start', name: 'shop.ini'});
    expect(answer).toMatchObject({ok: false, code: 'KAISER_CONTROL_REFUSED'});
    expect(answer['error']).toContain('already running');
  });

  it('answers garbage bytes with KAISER_CONTROL_BAD_JSON and keeps the connection usable', async () => {
    const {path} = await serve();
    const c = client(path);
    c.send(Buffer.from([0xff, 0x00, 0xfe, 0x9c, 0x0a]));
    c.send('{"cmd":\n[1,2]\n"ls"\n{"cmd":"ls"}\n');
    const answers = await c.answers(5);
    expect(answers.slice(0, 4).map((a) => a['code'])).toEqual(['KAISER_CONTROL_BAD_JSON', 'KAISER_CONTROL_BAD_JSON', 'KAISER_CONTROL_BAD_JSON', 'KAISER_CONTROL_BAD_JSON']);
    expect(answers[4]).toMatchObject({ok: true});
  });

  it('names unknown commands and malformed requests', async () => {
    const {path} = await serve();
    expect(await ask(path, {cmd: 'rm -rf'})).toMatchObject({ok: false, code: 'KAISER_CONTROL_UNKNOWN_COMMAND'});
    expect(await ask(path, {cmd: 'reload'})).toMatchObject({ok: false, code: 'KAISER_CONTROL_BAD_REQUEST'});
    expect(await ask(path, {cmd: 'logs', name: 'shop.ini', lines: -1})).toMatchObject({ok: false, code: 'KAISER_CONTROL_BAD_REQUEST'});
    expect(await ask(path, {nocmd: true})).toMatchObject({ok: false, code: 'KAISER_CONTROL_BAD_REQUEST'});
  });

  it('closes a connection whose line is longer than 64 KiB, with KAISER_CONTROL_LINE_TOO_LONG', async () => {
    const {path} = await serve();
    const c = client(path);
    c.send('x'.repeat(MAX_REQUEST_BYTES + 1));
    const [answer] = await c.answers(1);
    expect(answer).toMatchObject({ok: false, code: 'KAISER_CONTROL_LINE_TOO_LONG'});
    await c.closed;
    expect(await ask(path, {cmd: 'ls'})).toMatchObject({ok: true});
  });

  it('answers KAISER_CONTROL_INTERNAL when the emperor throws, and keeps serving', async () => {
    const emperor = new FakeEmperor();
    const {path} = await serve(emperor);
    emperor.throwOnLs = true;
    expect(await ask(path, {cmd: 'ls'})).toMatchObject({ok: false, code: 'KAISER_CONTROL_INTERNAL'});
    emperor.throwOnLs = false;
    expect(await ask(path, {cmd: 'ls'})).toMatchObject({ok: true});
  });

  it('turns away connections beyond the limit with KAISER_CONTROL_BUSY', async () => {
    const {path} = await serve();
    const open: RawClient[] = [];
    for (let i = 0; i < 64; i++) {
      const c = client(path);
      c.send('{"cmd":"status"}\n');
      open.push(c);
    }
    // Every one answered, so the server counts all 64.
    await Promise.all(open.map((c) => c.answers(1)));
    const extra = client(path);
    const [answer] = await extra.answers(1);
    expect(answer).toMatchObject({ok: false, code: 'KAISER_CONTROL_BUSY'});
    await extra.closed;
    open[0]?.close();
    await open[0]?.closed;
    // The slot is free once the server saw the close; ask until it has (each try is an answer, not a sleep).
    let again: Record<string, unknown> = {};
    for (let i = 0; i < 50 && again['ok'] !== true; i++) again = await ask(path, {cmd: 'status'});
    expect(again['ok']).toBe(true);
  });

  it('returns the log tail, then streams followed lines until the client disconnects', async () => {
    const {path, emperor} = await serve();
    expect(await ask(path, {cmd: 'logs', name: 'shop.ini', lines: 2})).toEqual({ok: true, lines: ['line 2', 'line 3']});
    const c = client(path);
    c.send('{"cmd":"logs","name":"shop.ini","lines":1,"follow":true}\n');
    expect((await c.answers(1))[0]).toEqual({ok: true, lines: ['line 3']});
    await emperor.followersAre(1);
    emperor.emit('fresh line');
    expect((await c.answers(2))[1]).toEqual({line: 'fresh line'});
    c.close();
    await emperor.followersAre(0);
  });

  it('creates the socket 0600 in a 0700 directory it makes', async () => {
    const dir = join(tempDir(), 'deep', 'kaiser');
    const {path} = await serve(new FakeEmperor(), join(dir, 'control.sock'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('replaces a stale socket file nobody listens on', async () => {
    const path = join(tempDir(), 'control.sock');
    // A process that bound the path and died leaves the file behind.
    execFileSync('/usr/bin/python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
    expect(statSync(path).isSocket()).toBe(true);
    await serve(new FakeEmperor(), path);
    expect(await ask(path, {cmd: 'ls'})).toMatchObject({ok: true});
  });

  it('refuses to start where a live server answers, and leaves that server alone', async () => {
    const {path} = await serve();
    const second = await startControlServer(path, new FakeEmperor(), captureLog());
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.error).toContain('already listening');
    expect(await ask(path, {cmd: 'ls'})).toMatchObject({ok: true});
  });

  it('refuses a path that exists and is not a socket', async () => {
    const path = join(tempDir(), 'control.sock');
    writeFileSync(path, 'precious');
    const started = await startControlServer(path, new FakeEmperor(), captureLog());
    expect(started.ok).toBe(false);
    expect(existsSync(path)).toBe(true);
  });

  it('on close ends every connection, followers included, and removes the socket file', async () => {
    const {path, emperor, server} = await serve();
    const c = client(path);
    c.send('{"cmd":"logs","name":"shop.ini","follow":true}\n');
    await c.answers(1);
    await emperor.followersAre(1);
    await server.close();
    await c.closed;
    await emperor.followersAre(0);
    expect(existsSync(path)).toBe(false);
  });
});
