/**
 * The emperor's side of the router processes (`RouterProcesses`, run from `dist/` since it forks
 * `dist/router/router-process.js`): a process gets the routing table before its listening sockets, so a client that
 * connects the moment the front door is up is routed, never answered "no vassal serves" for want of a table.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {loadVassalSpec} from '../../src/config/vassal-spec.js';
import type {RouterProcesses as RouterProcessesType} from '../../src/router/router-processes.js';
import type {Logger} from '../../src/log/logger.js';
import {PYTHON, ROOT} from '../helpers/processes.js';
import {TEST_SETTINGS, captureLogger, closeRig, cleanups, hello, rawExchange, startUpstream, statuses} from './rig.js';

afterEach(closeRig);

const {RouterProcesses} = (await import(pathToFileURL(join(ROOT, 'dist/router/router-processes.js')).href)) as {RouterProcesses: typeof RouterProcessesType};

describe('router processes (emperor side)', () => {
  it('route the first connection: the table reaches a process before its sockets', async () => {
    const upstream = await startUpstream(hello('a'));
    const loaded = loadVassalSpec('/srv/vassals/a.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${upstream.port}\nwsgi-file = app.py\ndomain = a.test\n`, {vassalDir: '/srv/vassals', fileExists: () => false, nowMs: 0});
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
    const spec = loaded.value;
    const routers = new RouterProcesses({
      python: PYTHON,
      processes: 1,
      settings: TEST_SETTINGS,
      listeners: [{kind: 'http', address: '127.0.0.1:0'}],
      vassals: () => [{spec, owner: undefined, state: 'ready'}],
      emperorUid: undefined,
      log: captureLogger().log as unknown as Logger,
    });
    const starting = routers.start();
    cleanups.push(() => routers.stop(1_000));
    // The address is known once the socket is bound, before any process accepts: this request waits in the backlog
    // and is the very first thing the process reads.
    let address: string | undefined;
    while ((address = routers.addresses('http')[0]) === undefined) await new Promise((resolve) => setImmediate(resolve));
    const first = rawExchange(Number(/:(\d+)$/.exec(address)?.[1]), 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n', 20_000);
    expect(await starting).toEqual({ok: true, value: undefined});
    const reply = await first;
    expect(statuses(reply)).toEqual([200]);
    expect(reply).toContain('\r\n\r\n');
    expect(reply.split('\r\n\r\n')[1]).toContain('hello from a');
  });
});
