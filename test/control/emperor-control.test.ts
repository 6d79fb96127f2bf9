/** The bridge from a running emperor to the control socket: rows, summary, per-state refusals, log tails; and the pieces it stands on (log book, socket path, request parsing). */
import {describe, expect, it} from '@jest/globals';
import type {VassalSpec} from '../../src/config/vassal-spec.js';
import type {Emperor} from '../../src/emperor/emperor.js';
import type {Vassal, VassalSnapshot} from '../../src/emperor/vassal.js';
import type {VassalStateId} from '../../src/emperor/vassal-states.js';
import {defaultControlPath, resolveControlPath} from '../../src/control/control-path.js';
import {emperorControl, socketsOf, type GovernedEmperor, type GovernedVassal} from '../../src/control/emperor-control.js';
import {VassalLogBook} from '../../src/control/log-book.js';
import {parseControlRequest} from '../../src/control/protocol.js';

// The real classes must keep fitting the shapes the bridge drives (a compile-time check; `npm test` type-checks).
export const vassalFits = (vassal: Vassal): GovernedVassal => vassal;
export const emperorFits = (emperor: Emperor, vassal: (name: string) => GovernedVassal | undefined): GovernedEmperor => ({
  startedAt: emperor.startedAt,
  snapshots: () => emperor.snapshots(),
  vassal,
});

const NOW = 1_800_000_000_000;

function snapshot(name: string, state: VassalStateId, fields: Partial<VassalSnapshot> = {}): VassalSnapshot & {cpuPercent: number; rssBytes: number} {
  return {
    name, kind: 'command', state, pid: state === 'ready' ? 500 : -1, born: NOW - 100_000, lastSpawn: NOW - 90_500, readyAt: 0, restarts: 1,
    failures: 0, loyal: false, lastLoyal: 0, accepting: false, lastHeartbeat: 0, nextRetryAt: 0, lastExit: undefined,
    lastError: undefined, file: `/srv/${name}`, appStats: undefined, cpuPercent: 12.345, rssBytes: 2048, ...fields,
  };
}

class FakeVassal implements GovernedVassal {
  readonly calls: string[] = [];
  constructor(public state: {id: VassalStateId}, readonly spec: VassalSpec | undefined = undefined) {}
  reload(): void {
    this.calls.push('reload');
  }
  restart(): void {
    this.calls.push('restart');
  }
  snapshot(): {lastError: string | undefined} {
    return {lastError: undefined};
  }
  hold(): Promise<void> {
    this.calls.push('hold');
    return Promise.resolve();
  }
  start(): void {
    this.calls.push('start');
  }
}

function world(states: Record<string, VassalStateId>) {
  const vassals = new Map(Object.entries(states).map(([name, id]) => [name, new FakeVassal({id})]));
  const emperor: GovernedEmperor = {
    startedAt: NOW - 61_000,
    snapshots: () => [...vassals].map(([name, v]) => snapshot(name, v.state.id, v.state.id === 'invalid' ? {lastError: 'bad.ini:3 error'} : {})),
    vassal: (name) => vassals.get(name),
  };
  const book = new VassalLogBook(3);
  return {vassals, book, control: emperorControl(emperor, book, {version: 'kaiser-test', dir: '/srv', now: () => NOW})};
}

describe('emperorControl', () => {
  it('turns snapshots into ls rows', () => {
    const {control} = world({'web.ini': 'ready', 'bad.ini': 'invalid'});
    expect(control.rows()).toEqual([
      {name: 'web.ini', kind: 'command', state: 'ready', pid: 500, cpu: 12.3, rss: 2048, uptime: 90, restarts: 1, sockets: [], lastError: null, source: 'dir'},
      expect.objectContaining({name: 'bad.ini', pid: -1, uptime: 0, lastError: 'bad.ini:3 error'}),
    ]);
  });

  it('counts ready, failing and held vassals in the status', () => {
    const {control} = world({a: 'ready', b: 'replacing', c: 'backoff', d: 'invalid', e: 'held'});
    expect(control.status()).toMatchObject({pid: process.pid, uptime: 61, vassals: 5, ready: 2, failing: 2, held: 1, version: 'kaiser-test', dir: '/srv'});
  });

  it('reloads a running vassal and says why a held or invalid one is not reloaded', () => {
    const {control, vassals} = world({up: 'ready', held: 'held', bad: 'invalid'});
    expect(control.reload('up')).toEqual({ok: true, value: undefined});
    expect(vassals.get('up')?.calls).toEqual(['reload']);
    expect(control.reload('held')).toEqual({ok: false, error: expect.stringContaining('kaiser start held')});
    expect(control.reload('bad')).toEqual({ok: false, error: expect.stringContaining('invalid')});
    expect(control.reload('nope').ok).toBe(false);
  });

  it('stops with hold and starts only what is held or backing off', () => {
    const {control, vassals} = world({up: 'ready', held: 'held', retrying: 'backoff'});
    expect(control.stop('up').ok).toBe(true);
    expect(vassals.get('up')?.calls).toEqual(['hold']);
    expect(control.start('up')).toEqual({ok: false, error: expect.stringContaining('already running')});
    expect(control.start('held').ok).toBe(true);
    expect(control.start('retrying').ok).toBe(true);
    expect(vassals.get('held')?.calls).toEqual(['start']);
  });

  it('tails and follows the log book of known vassals only', () => {
    const {control, book} = world({up: 'ready'});
    for (const line of ['a', 'b', 'c', 'd']) book.append('up', line);
    expect(control.logTail('up', 10)).toEqual({ok: true, value: ['b', 'c', 'd']});
    expect(control.logTail('up', 2)).toEqual({ok: true, value: ['c', 'd']});
    const seen: string[] = [];
    const followed = control.followLogs('up', (line) => seen.push(line));
    if (!followed.ok) throw new Error(followed.error);
    book.append('up', 'e');
    followed.value();
    book.append('up', 'f');
    expect(seen).toEqual(['e']);
    expect(control.logTail('nope', 1).ok).toBe(false);
  });
});

describe('socketsOf', () => {
  it('lists the sockets of command and app-server vassals', () => {
    expect(socketsOf({kind: 'command', sockets: ['tcp://127.0.0.1:8000']} as unknown as VassalSpec)).toEqual(['tcp://127.0.0.1:8000']);
    expect(socketsOf({kind: 'app-server', serverConfig: {_name: 'a.ini', http: ':8080', socket: ['/run/a.sock']}} as unknown as VassalSpec)).toEqual([
      'http=:8080',
      'socket=/run/a.sock',
    ]);
  });
});

describe('VassalLogBook', () => {
  it('keeps the newest lines, cuts runaway lines and drops a follower that throws', () => {
    const book = new VassalLogBook(2);
    book.follow('v', () => {
      throw new Error('gone');
    });
    book.append('v', 'one');
    book.append('v', 'x'.repeat(20_000));
    book.append('v', 'three');
    const [long, last] = book.tail('v', 5);
    expect(long?.endsWith('…[cut]')).toBe(true);
    expect(last).toBe('three');
    book.forget('v');
    expect(book.tail('v', 5)).toEqual([]);
  });
});

describe('defaultControlPath', () => {
  it('uses /run for root, then XDG_RUNTIME_DIR, then /tmp/kaiser-UID', () => {
    expect(defaultControlPath({uid: 0, env: {}, canWrite: () => true})).toBe('/run/kaiser/control.sock');
    expect(defaultControlPath({uid: 0, env: {XDG_RUNTIME_DIR: '/run/user/0'}, canWrite: () => false})).toBe('/run/user/0/kaiser/control.sock');
    expect(defaultControlPath({uid: 1000, env: {XDG_RUNTIME_DIR: '/run/user/1000'}, canWrite: () => true})).toBe('/run/user/1000/kaiser/control.sock');
    expect(defaultControlPath({uid: 1000, env: {}, canWrite: () => true})).toBe('/tmp/kaiser-1000/control.sock');
  });

  it('is overridden by KAISER_CONTROL, which --control overrides', () => {
    const facts = {uid: 1000, env: {KAISER_CONTROL: '/x/env.sock'}, canWrite: () => false};
    expect(resolveControlPath(undefined, facts)).toBe('/x/env.sock');
    expect(resolveControlPath('/x/flag.sock', facts)).toBe('/x/flag.sock');
  });
});

describe('parseControlRequest', () => {
  it('accepts the documented requests and fills logs defaults', () => {
    expect(parseControlRequest('{"cmd":"ls"}')).toEqual({ok: true, value: {cmd: 'ls'}});
    expect(parseControlRequest('{"cmd":"logs","name":"a.ini"}')).toEqual({ok: true, value: {cmd: 'logs', name: 'a.ini', lines: 10, follow: false}});
  });

  it('rejects what is not a request, with a code', () => {
    expect(parseControlRequest('null')).toMatchObject({ok: false, error: {code: 'KAISER_CONTROL_BAD_JSON'}});
    expect(parseControlRequest('{"cmd":"stop","name":""}')).toMatchObject({ok: false, error: {code: 'KAISER_CONTROL_BAD_REQUEST'}});
    expect(parseControlRequest('{"cmd":"logs","name":"a","follow":"yes"}')).toMatchObject({ok: false, error: {code: 'KAISER_CONTROL_BAD_REQUEST'}});
    expect(parseControlRequest('{"cmd":"logs","name":"a","lines":1.5}')).toMatchObject({ok: false, error: {code: 'KAISER_CONTROL_BAD_REQUEST'}});
  });
});
