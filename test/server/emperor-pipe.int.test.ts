/**
 * The master's side of the emperor pipe (docs/runtime-protocol.md §2), driven over fd 3 (a UNIX
 * socketpair, as libuv creates for a 'pipe' stdio slot): 1/5/17 bytes, config request on SIGHUP,
 * 115 config + 1 reload, 116 events, app-load-failed, and EOF = exit 1.
 */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Duplex} from 'node:stream';
import {afterAll, expect, test} from '@jest/globals';
import {runtimeConfig} from './helpers/runtime-config.js';
import {APPS, Master, cleanup, get, tempDir, until} from './helpers/master.js';

afterAll(cleanup);

function vassal(cfg: Record<string, unknown>): {m: Master; pipe: Duplex; got: Buffer[]} {
  const m = new Master(runtimeConfig({'http-socket': ['127.0.0.1:0'], ...cfg}), {UWSGI_EMPEROR_FD: '3'}, ['ignore', 'ignore', 'pipe', 'pipe']);
  const pipe = m.proc.stdio[3] as Duplex;
  const got: Buffer[] = [];
  pipe.on('data', (c: Buffer) => got.push(c));
  pipe.on('error', () => undefined);
  return {m, pipe, got};
}

function frame(type: number, json: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(json));
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32LE(body.length, 1);
  return Buffer.concat([head, body]);
}

test('spawned/accepting/loyal bytes, config request on SIGHUP, framed config + reload, EOF exits 1', async () => {
  const dir = tempDir();
  const file = join(dir, 'app.py');
  writeFileSync(file, "def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'one']\n");
  const {m, pipe, got} = vassal({'wsgi-file': file});
  const bytes = () => Buffer.concat(got);
  await until(() => bytes().includes(5), 10000, 'byte 5');
  expect([...bytes()]).toEqual([1, 5]);
  const port = await m.port(0);
  expect((await get(port, '/')).body.toString()).toBe('one');
  await until(() => bytes().includes(17), 5000, 'byte 17');

  // SIGHUP: the master asks for its config (byte 2); we answer 115 + 1 with a new callable
  got.length = 0;
  writeFileSync(file, "def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'one']\ndef other(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'two']\n");
  m.signal('SIGHUP');
  await until(() => bytes().includes(2), 5000, 'byte 2');
  pipe.write(Buffer.concat([frame(115, runtimeConfig({'http-socket': ['127.0.0.1:0'], 'wsgi-file': file, callable: 'other'})), Buffer.from([1])]));
  await until(() => bytes().includes(Buffer.from('{"event": "reloaded"}')) || bytes().toString().includes('reloaded'), 10000, 'reloaded event');
  expect(bytes().includes(5)).toBe(true);
  await until(() => m.count(/retired \(reload\)/) === 1, 5000, 'old worker retired');
  expect((await get(port, '/')).body.toString()).toBe('two');

  pipe.end();
  pipe.destroy();
  expect(await m.exited).toBe(1);
  await m.waitFor(/lost connection with my emperor/);
});

test('a first load failure is reported as an app-load-failed event, exit 22', async () => {
  const {m, got} = vassal({'wsgi-file': join(APPS, 'crash-at-import.py')});
  expect(await m.exited).toBe(22);
  const text = Buffer.concat(got);
  expect(text[0]).toBe(1);
  const i = text.indexOf(116);
  expect(i).toBeGreaterThan(0);
  const n = text.readUInt32LE(i + 1);
  const ev = JSON.parse(text.subarray(i + 5, i + 5 + n).toString()) as {event: string; error: string};
  expect(ev.event).toBe('app-load-failed');
  expect(ev.error).toContain('boom at import');
});
