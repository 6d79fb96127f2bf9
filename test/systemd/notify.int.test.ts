/**
 * sd_notify against real AF_UNIX datagram sockets (a path and an abstract name). Node cannot bind one, so a tiny
 * python3 receiver binds it and prints each datagram as one JSON line with its own CLOCK_MONOTONIC reading.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {join} from 'node:path';
import {Notifier} from '../../src/systemd/notify.js';
import {PYTHON, cleanupProcesses, processTree, startProcess, tempDir, waitFor, type Started} from '../helpers/processes.js';

const RECEIVER = `
import json, socket, sys, time
address = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind('\\0' + address[1:] if address.startswith('@') else address)
print('bound', flush=True)
while True:
    data = sock.recv(65536)
    print(json.dumps({'message': data.decode('utf-8'), 'monotonicUsec': time.monotonic_ns() // 1000}), flush=True)
`;

interface Datagram {
  /** The assignments of one datagram, in order. */
  fields: [string, string][];
  monotonicUsec: number;
}

let notifier: Notifier | undefined;

afterEach(async () => {
  await notifier?.close();
  notifier = undefined;
  await cleanupProcesses();
});

async function startReceiver(address: string): Promise<Started> {
  const receiver = startProcess(PYTHON, ['-c', RECEIVER, address]);
  await receiver.waitForLine('bound', 5_000);
  return receiver;
}

function datagrams(receiver: Started): Datagram[] {
  return receiver.lines
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const {message, monotonicUsec} = JSON.parse(line) as {message: string; monotonicUsec: number};
      const fields = message.split('\n').map((assignment): [string, string] => {
        const at = assignment.indexOf('=');
        return [assignment.slice(0, at), assignment.slice(at + 1)];
      });
      return {fields, monotonicUsec};
    });
}

function firstKeys(receiver: Started): string[] {
  return datagrams(receiver).map((d) => d.fields[0]![0]);
}

function waitForDatagrams(receiver: Started, count: number, what: string): Promise<Datagram[]> {
  return waitFor(() => (datagrams(receiver).length >= count ? datagrams(receiver) : undefined), 5_000, what);
}

describe.each([
  ['a socket path', () => join(tempDir(), 'notify.sock')],
  ['an abstract socket', () => `@kaiser-test-${process.pid}-${Math.random().toString(36).slice(2)}`],
])('Notifier on %s', (_kind, addressFor) => {
  it('sends READY=1, STATUS, RELOADING=1 with MONOTONIC_USEC and STOPPING=1, each with MAINPID', async () => {
    const address = addressFor();
    const receiver = await startReceiver(address);
    notifier = Notifier.fromEnvironment({env: {NOTIFY_SOCKET: address}});
    expect(notifier.isEnabled).toBe(true);

    notifier.status('3 vassals\nready');
    notifier.ready();
    notifier.reloading();
    notifier.ready();
    notifier.stopping();
    const got = await waitForDatagrams(receiver, 5, 'five datagrams');

    expect(got.map((d) => d.fields[0])).toEqual([
      ['STATUS', '3 vassals ready'],
      ['READY', '1'],
      ['RELOADING', '1'],
      ['READY', '1'],
      ['STOPPING', '1'],
    ]);
    for (const d of got) expect(d.fields).toContainEqual(['MAINPID', String(process.pid)]);
    const reloading = got[2]!;
    const monotonic = reloading.fields.find(([key]) => key === 'MONOTONIC_USEC');
    expect(monotonic?.[1]).toMatch(/^\d+$/);
    // Same clock as the receiver's CLOCK_MONOTONIC: sent before it was received, and not long before.
    const sentUsec = Number(monotonic![1]);
    expect(sentUsec).toBeLessThanOrEqual(reloading.monotonicUsec);
    expect(reloading.monotonicUsec - sentUsec).toBeLessThan(30_000_000);
  });
});

describe('Notifier watchdog', () => {
  it('sends WATCHDOG=1 repeatedly when WATCHDOG_USEC is set for our pid', async () => {
    const address = join(tempDir(), 'notify.sock');
    const receiver = await startReceiver(address);
    notifier = Notifier.fromEnvironment({env: {NOTIFY_SOCKET: address, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid)}});
    notifier.ready();
    expect(notifier.startWatchdog()).toBe(true);
    const got = await waitForDatagrams(receiver, 4, 'READY=1 and three watchdog beats');
    expect(got[0]!.fields[0]).toEqual(['READY', '1']);
    expect(got.slice(1, 4).map((d) => d.fields[0])).toEqual([['WATCHDOG', '1'], ['WATCHDOG', '1'], ['WATCHDOG', '1']]);
  });

  it('does not start when WATCHDOG_PID names another process or WATCHDOG_USEC is unset', async () => {
    const address = join(tempDir(), 'notify.sock');
    const receiver = await startReceiver(address);
    notifier = Notifier.fromEnvironment({env: {NOTIFY_SOCKET: address, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1'}});
    expect(notifier.startWatchdog()).toBe(false);
    await notifier.close();
    notifier = Notifier.fromEnvironment({env: {NOTIFY_SOCKET: address}});
    expect(notifier.startWatchdog()).toBe(false);
    notifier.stopping();
    await waitForDatagrams(receiver, 1, 'STOPPING=1');
    expect(firstKeys(receiver)).toEqual(['STOPPING']);
  });
});

/** Like RECEIVER, with SO_PASSCRED as systemd sets it: prints the sender pid the kernel attached to each datagram. */
const CREDENTIALS_RECEIVER = `
import json, socket, struct, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(sys.argv[1])
print('bound', flush=True)
while True:
    data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = next((struct.unpack('3i', d)[0] for level, kind, d in ancillary if kind == socket.SCM_CREDENTIALS), None)
    print(json.dumps({'message': data.decode('utf-8'), 'senderPid': pid}), flush=True)
`;

describe('Notifier credentials', () => {
  // systemd accepts a message under NotifyAccess=main only when its sender credentials name the main pid.
  const asRoot = process.getuid?.() === 0;
  (asRoot ? it : it.skip)(`sends with the emperor's pid as the sender, not the helper's${asRoot ? '' : ' (SKIPPED: needs root)'}`, async () => {
    const address = join(tempDir(), 'notify.sock');
    const receiver = startProcess(PYTHON, ['-c', CREDENTIALS_RECEIVER, address]);
    await receiver.waitForLine('bound', 5_000);
    notifier = Notifier.fromEnvironment({env: {NOTIFY_SOCKET: address}});
    notifier.ready();
    const line = await receiver.waitForLine('senderPid', 5_000);
    expect(JSON.parse(line)).toEqual({message: `READY=1\nMAINPID=${process.pid}`, senderPid: process.pid});
  });
});

describe('Notifier helper', () => {
  it('sends what was queued and exits when closed', async () => {
    const address = join(tempDir(), 'notify.sock');
    const receiver = await startReceiver(address);
    notifier = Notifier.fromEnvironment({env: {NOTIFY_SOCKET: address}});
    const helpersBefore = processTree(process.pid).length;
    notifier.stopping();
    await notifier.close();
    expect(notifier.isEnabled).toBe(false);
    await waitForDatagrams(receiver, 1, 'STOPPING=1');
    expect(firstKeys(receiver)).toEqual(['STOPPING']);
    expect(processTree(process.pid).length).toBe(helpersBefore - 1);
  });

  it('warns once and turns into a no-op when python3 cannot be started', async () => {
    const warnings: string[] = [];
    notifier = Notifier.fromEnvironment({
      env: {NOTIFY_SOCKET: join(tempDir(), 'notify.sock')},
      python: '/nonexistent/python3',
      log: {warn: (message) => warnings.push(message)},
    });
    notifier.ready();
    await waitFor(() => !notifier!.isEnabled, 5_000, 'the notifier to give up');
    notifier.stopping();
    expect(warnings).toEqual(['cannot start the sd_notify helper; not notifying systemd']);
  });

  it('is a no-op that starts no process without NOTIFY_SOCKET', async () => {
    const before = processTree(process.pid).length;
    notifier = Notifier.fromEnvironment({env: {WATCHDOG_USEC: '200000'}});
    expect(notifier.isEnabled).toBe(false);
    notifier.ready();
    notifier.status('x');
    notifier.reloading();
    notifier.stopping();
    expect(notifier.startWatchdog()).toBe(false);
    expect(processTree(process.pid).length).toBe(before);
    await notifier.close();
  });
});
