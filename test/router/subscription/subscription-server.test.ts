import {createSocket} from 'node:dgram';
import {encodePacket} from '../../../src/protocol/uwsgi-packet.js';
import {decodePacket} from '../../../src/protocol/uwsgi-packet.js';
import {startSubscriptionServer, subscriptionOf, type SubscriptionServer} from '../../../src/router/subscription/subscription-server.js';
import {captureLogger} from '../../helpers/capture-logger.js';
import {waitFor} from '../../helpers/processes.js';

/** What uWSGI 2.0's uwsgi_send_subscription puts in a packet, in its order. */
function uwsgiAnnounce(key: string, address: string, extra: [string, string][] = [], modifier2 = 0): Buffer {
  return encodePacket(224, modifier2, [['key', key], ['address', address], ['modifier1', '0'], ['modifier2', '0'], ['cores', '4'], ['load', '0'], ['weight', '1'], ...extra]);
}

function parse(packet: Buffer, sender = '127.0.0.1') {
  const decoded = decodePacket(packet);
  if (!decoded.ok) throw new Error(decoded.error.reason);
  return subscriptionOf(decoded.value, sender);
}

describe('subscription packets', () => {
  it('reads a uWSGI announce: key, address, weight, modifiers; the uwsgi protocol unless proto = http', () => {
    expect(parse(uwsgiAnnounce('App.Test', '127.0.0.1:3031'))).toEqual({ok: true, value: {command: 'subscribe', announce: {
      key: 'app.test', name: '127.0.0.1:3031', address: {host: '127.0.0.1', port: 3031}, protocol: 'uwsgi', modifier1: 0, modifier2: 0, weight: 1, cores: 4, load: 0,
    }}});
    expect(parse(uwsgiAnnounce('app.test', '127.0.0.1:8001', [['proto', 'http']]))).toMatchObject({ok: true, value: {announce: {protocol: 'http'}}});
    expect(parse(uwsgiAnnounce('app.test', '127.0.0.1:3031', [], 1))).toEqual({ok: true, value: {command: 'unsubscribe', key: 'app.test', name: '127.0.0.1:3031'}});
  });

  it('reaches a wildcard address at the sender, and accepts UNIX sockets only from this machine', () => {
    expect(parse(uwsgiAnnounce('a.test', ':3031'), '127.0.0.5')).toMatchObject({ok: true, value: {announce: {address: {host: '127.0.0.5', port: 3031}}}});
    expect(parse(uwsgiAnnounce('a.test', '0.0.0.0:3031'), '127.0.0.7')).toMatchObject({ok: true, value: {announce: {address: {host: '127.0.0.7', port: 3031}}}});
    expect(parse(uwsgiAnnounce('a.test', '/run/app.sock'))).toMatchObject({ok: true, value: {announce: {address: {socketPath: '/run/app.sock'}}}});
    expect(parse(uwsgiAnnounce('a.test', '/run/app.sock'), '10.0.0.2')).toMatchObject({ok: false});
  });

  it('refuses packets that are not subscriptions, with the reason', () => {
    expect(parse(encodePacket(0, 0, [['key', 'a.test'], ['address', '127.0.0.1:1']]))).toMatchObject({ok: false, error: expect.stringContaining('modifier1 0') as string});
    expect(parse(encodePacket(224, 0, [['address', '127.0.0.1:1']]))).toEqual({ok: false, error: 'no key'});
    expect(parse(encodePacket(224, 0, [['key', 'a.test']]))).toMatchObject({ok: false, error: expect.stringContaining('no address') as string});
    expect(parse(uwsgiAnnounce('../../etc', '127.0.0.1:1'))).toMatchObject({ok: false, error: expect.stringContaining('not a host name') as string});
    expect(parse(uwsgiAnnounce('a.test', 'localhost'))).toMatchObject({ok: false});
    expect(parse(uwsgiAnnounce('a.test', '127.0.0.1:0'))).toMatchObject({ok: false, error: expect.stringContaining('bad port') as string});
    expect(parse(encodePacket(224, 7, [['key', 'a.test'], ['address', '127.0.0.1:1']]))).toMatchObject({ok: false, error: expect.stringContaining('unknown command') as string});
  });
});

describe('subscription server', () => {
  let server: SubscriptionServer | undefined;
  const client = createSocket('udp4');
  afterAll(() => client.close());
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('adds announced nodes to pools over UDP, logs refusals once a second, and sweeps silent nodes', async () => {
    const {log, lines} = captureLogger();
    let now = 0;
    server = await startSubscriptionServer({address: '127.0.0.1:0', toleranceMs: 3_000, log, now: () => now, sweepMs: 20});
    const port = Number(server.address.split(':').pop());
    const send = (packet: Buffer) => new Promise<void>((resolve) => client.send(packet, port, '127.0.0.1', () => resolve()));
    await send(uwsgiAnnounce('sub.test', '127.0.0.1:3031'));
    await send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await send(Buffer.from([224]));
    await waitFor(() => server?.pools.snapshot(now).some((p) => p.key === 'sub.test' && p.nodes.length === 1) === true, 5_000, 'the node to join its pool');
    await waitFor(() => lines.some((l) => l['code'] === 'KAISER_SUBSCRIPTION_REFUSED'), 5_000, 'the refusal log line');
    expect(lines.filter((l) => l['code'] === 'KAISER_SUBSCRIPTION_REFUSED')).toHaveLength(1);
    expect(lines.some((l) => String(l['uwsgi']).includes('sub.test => new node: 127.0.0.1:3031'))).toBe(true);
    now = 3_001;
    await waitFor(() => lines.some((l) => String(l['uwsgi']).includes('marking 127.0.0.1:3031 as failed (no announce received in 3 seconds)')), 5_000, 'the node to expire');
    expect(server.pools.size).toBe(0);
  });
});
