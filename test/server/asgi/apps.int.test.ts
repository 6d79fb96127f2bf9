/**
 * Real ASGI apps from Debian, unchanged, under kaiser's ASGI worker: FastAPI (python3-fastapi), Starlette
 * (python3-starlette) and Django's own ASGI handler (python3-django). Each app's test is skipped, saying why, where
 * its package is not installed (.ci/run installs them).
 */
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, describe, expect, test} from '@jest/globals';
import {cleanup, get, startMaster, tempDir, until} from '../helpers/master.js';
import {WsClient} from './ws-client.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/asgi');
const has = (module: string) => spawnSync('/usr/bin/python3', ['-c', `import ${module}`]).status === 0;
const describeIf = (module: string, pkg: string) => (name: string, fn: () => void) =>
  has(module) ? describe(name, fn) : describe.skip(`${name} (skipped: apt-get install ${pkg})`, fn);

afterAll(cleanup);

describeIf('fastapi', 'python3-fastapi')('FastAPI', () => {
  test('JSON routes (async and sync), a body, a background task, SSE, a websocket echo and shutdown', async () => {
    const marks = join(tempDir(), 'marks');
    mkdirSync(marks);
    const {m, port} = await startMaster({asgi: 'fastapi_app:app', chdir: FIXTURES, env: {MARKS: marks}, processes: 1});
    expect(JSON.parse((await get(port, '/')).body.toString())).toMatchObject({hello: 'fastapi', started: true});
    expect(JSON.parse((await get(port, '/items/7?q=x')).body.toString())).toMatchObject({item_id: 7, q: 'x'});
    expect((await get(port, '/items/notanint')).status).toBe(422);
    const blob = Buffer.alloc(300_000, 'f');
    expect((await get(port, '/echo', {method: 'POST', body: blob})).body.equals(blob)).toBe(true);
    expect((await get(port, '/later', {method: 'POST'})).status).toBe(200);
    await until(async () => JSON.parse((await get(port, '/items/1')).body.toString()).background === 1, 10000, 'the background task');
    const sse = await fetch(`http://127.0.0.1:${port}/sse`);
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await sse.text()).toBe('data: tick 0\n\ndata: tick 1\n\ndata: tick 2\n\n');
    const ws = await WsClient.connect(port, '/ws');
    for (const text of ['one', 'two', 'three']) {
      ws.sendText(text);
      expect((await ws.next()).payload.toString()).toBe(`echo:${text}`);
    }
    ws.close();
    await ws.ended();
    m.signal('SIGTERM');
    expect(await m.exited).toBe(0);
    expect(existsSync(marks) && spawnSync('ls', [marks]).stdout.toString()).toMatch(/fastapi-stop-\d+/);
  });
});

describeIf('starlette', 'python3-starlette')('Starlette', () => {
  test('lifespan state reaches requests; streamed upload and download; a websocket endpoint', async () => {
    const {port} = await startMaster({asgi: 'starlette_app:app', chdir: FIXTURES});
    expect(JSON.parse((await get(port, '/')).body.toString())).toEqual({hello: 'starlette', greeting: 'hello from the lifespan state', path: '/'});
    expect((await get(port, '/upload', {method: 'POST', body: Buffer.alloc(500_000)})).body.toString()).toBe('500000');
    const numbers = await get(port, '/numbers');
    expect(numbers.headers['transfer-encoding']).toBe('chunked');
    expect(numbers.body.toString()).toBe('0\n1\n2\n3\n4\n');
    const ws = await WsClient.connect(port, '/ws');
    ws.sendText('hi');
    expect((await ws.next()).payload.toString()).toBe('starlette:hi');
    ws.destroy();
  });
});

describeIf('django', 'python3-django')('Django', () => {
  test("Django's ASGI handler: async and sync views, a POST body, a streaming response (lifespan skipped)", async () => {
    const {m, port} = await startMaster({asgi: 'djsite.asgi:application', chdir: FIXTURES, processes: 1});
    expect(JSON.parse((await get(port, '/?q=z')).body.toString())).toMatchObject({hello: 'django', kind: 'async', q: 'z'});
    expect(JSON.parse((await get(port, '/sync')).body.toString())).toEqual({hello: 'django', kind: 'sync'});
    expect((await get(port, '/echo', {method: 'POST', body: 'posted'})).body.toString()).toBe('posted');
    expect((await get(port, '/stream')).body.toString()).toBe('line 0\nline 1\nline 2\nline 3\n');
    expect((await get(port, '/missing')).status).toBe(404);
    expect(m.lines.join('\n')).toMatch(/ASGI lifespan not supported by the app/);
  });
});
