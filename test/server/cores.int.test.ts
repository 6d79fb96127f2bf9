/**
 * The request cores of one worker (`threads = 2`, src/server/python/core.py) taking turns: a request that blocks in
 * the app holds neither new connections nor those the worker accepted before it.
 */
import {execFileSync} from 'node:child_process';
import {closeSync, openSync, readFileSync, writeSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {join} from 'node:path';
import {afterAll, describe, expect, test} from '@jest/globals';
import {waitFor} from '../helpers/processes.js';
import {APPS, cleanup, get, startMaster, tempDir} from './helpers/master.js';

afterAll(cleanup);

/** Connections waiting in the accept queue of the TCP listener on 127.0.0.1:`port` (/proc/net/tcp: a LISTEN
 * socket's rx_queue), -1 when there is no such listener. */
function acceptQueue(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === '0A') return parseInt(f[4]?.split(':')[1] ?? '', 16);
  }
  return -1;
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

function answer(s: Socket): Promise<string> {
  const got: Buffer[] = [];
  s.on('data', (c: Buffer) => got.push(c));
  return new Promise((resolve) => s.on('close', () => resolve(Buffer.concat(got).toString('latin1'))));
}

const atGate = /hold\.py: at the gate/;

/** A master of hold.py with one worker of two cores, and the FIFO its `/gate?FIFO` requests wait at: each byte
 * written to `gateFd` lets one of them pass. */
async function gatedMaster() {
  const gate = join(tempDir(), 'gate');
  execFileSync('mkfifo', [gate]);
  const gateFd = openSync(gate, 'r+'); // a writer from the start: the app's open() of it does not block
  const {m, port} = await startMaster({'wsgi-file': join(APPS, 'hold.py'), processes: 1, threads: 2});
  return {gate, gateFd, m, port};
}

/** Once both cores are at the gate: two connections that have sent nothing yet queue, one gate opens, and the core
 * it frees accepts both in one go. */
async function acceptedTogether(m: Awaited<ReturnType<typeof gatedMaster>>['m'], port: number, gateFd: number) {
  await waitFor(() => m.count(atGate) === 2, 20000, 'both cores at the gate');
  const [a, b] = [await connected(port), await connected(port)];
  const [answerA, answerB] = [answer(a), answer(b)];
  await waitFor(() => acceptQueue(port) === 2, 20000, 'two connections queued');
  writeSync(gateFd, 'x');
  await waitFor(() => acceptQueue(port) === 0, 20000, 'the freed core accepting both');
  return {a, b, answerA, answerB};
}

describe('threads = 2 (hold.py)', () => {
  test('connections accepted together before their requests arrive are not held by the first one blocking', async () => {
    // Both cores are held at a gate while two connections that have sent nothing yet queue; one gate opens and its
    // core accepts both; the other gate opens. The first connection's request blocks until the second's comes in:
    // a worker whose cores each keep what they accepted never answers it (the core holding both is blocked).
    const {gate, gateFd, m, port} = await gatedMaster();
    const gates = [get(port, `/gate?${gate}`, {timeoutMs: 60000})];
    await m.waitFor(atGate);
    gates.push(get(port, `/gate?${gate}`, {timeoutMs: 60000}));
    const {a, b, answerA, answerB} = await acceptedTogether(m, port, gateFd);
    writeSync(gateFd, 'x');
    for (const g of await Promise.all(gates)) expect(g.body.toString()).toBe('passed');
    closeSync(gateFd);
    a.write('GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await m.waitFor(/hold\.py: waiting/);
    b.write('GET /release HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await answerA).toMatch(/\r\n\r\nreleased$/);
    expect(await answerB).toMatch(/\r\n\r\nok$/);
  });

  test('requests that arrive together are not held behind the first one blocking', async () => {
    // Both cores are held at a gate (keep-alive connections, so a core can be sent back to the gate) while two
    // connections are accepted; one core is sent back; then both connections send their request at once, and a gate
    // opens: the core it frees finds both requests ready. The first blocks until the second is answered: a core that
    // takes both in one poll and serves them in turn never answers it.
    const {gate, gateFd, m, port} = await gatedMaster();
    const toGate = `GET /gate?${gate} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const [g1, g2] = [await connected(port), await connected(port)];
    const passed = (s: Socket) => {
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      return () => text.split('passed').length - 1;
    };
    const [passed1, passed2] = [passed(g1), passed(g2)];
    g1.write(toGate);
    await m.waitFor(atGate);
    g2.write(toGate);
    const {a, b, answerA, answerB} = await acceptedTogether(m, port, gateFd);
    await waitFor(() => passed1() + passed2() === 1, 20000, 'one gate passed');
    (passed1() === 1 ? g1 : g2).write(toGate);
    await waitFor(() => m.count(atGate) === 3, 20000, 'both cores at the gate again');
    a.write('GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    b.write('GET /release HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    writeSync(gateFd, 'x');
    await m.waitFor(/hold\.py: waiting/);
    writeSync(gateFd, 'x');
    expect(await answerA).toMatch(/\r\n\r\nreleased$/);
    expect(await answerB).toMatch(/\r\n\r\nok$/);
    await waitFor(() => passed1() + passed2() === 3, 20000, 'all gates passed');
    closeSync(gateFd);
    g1.destroy();
    g2.destroy();
  });
});
