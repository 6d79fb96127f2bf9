import {createHash} from 'node:crypto';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {createServer, connect, type Server, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createServer as createTlsServer, connect as connectTls} from 'node:tls';
import {DIRECT_WRITE_AVAILABLE, directWrite, pendingWriteBytes} from '../../src/router/direct-write.js';
import {selfSigned} from '../helpers/tls.js';

function listening(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as {port: number}).port)));
}

/** A server whose accepted socket is handed out paused (it reads nothing until resumed). */
async function pausedPeer(servers: Server[]): Promise<{port: number; accepted: Promise<Socket>}> {
  let accept!: (socket: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (accept = resolve));
  const server = createServer({pauseOnConnect: true}, accept);
  servers.push(server);
  return {port: await listening(server), accepted};
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Everything the peer reads until EOF, hashed, and its length. */
function drainToEnd(socket: Socket): Promise<{bytes: number; sha256: string}> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve) => {
    socket.on('data', (data: Buffer) => {
      bytes += data.length;
      hash.update(data);
    });
    socket.on('end', () => resolve({bytes, sha256: hash.digest('hex')}));
    socket.resume();
  });
}

describe('directWrite', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) server.close();
  });

  it('is available in this Node (else the router silently falls back to socket.write)', () => {
    expect(DIRECT_WRITE_AVAILABLE).toBe(true);
  });

  it('keeps order across direct and stream writes when the peer stops reading, reports backpressure, drains, and ends after the queue', async () => {
    const peer = await pausedPeer(servers);
    const socket = await connected(peer.port);
    sockets.push(socket);
    const reader = await peer.accepted;
    sockets.push(reader);
    const expected = createHash('sha256');
    let sent = 0;
    let drains = 0;
    let drained!: () => void;
    const drainedOnce = new Promise<void>((resolve) => (drained = resolve));
    const onDrain = (): void => {
      drains += 1;
      drained();
    };
    // Numbered 64 KiB chunks, every third one a latin1 string, until the kernel's buffers are full.
    let accepted = true;
    let i = 0;
    for (; accepted && i < 16_384; i += 1) {
      const chunk = Buffer.alloc(64 * 1024, i % 251);
      expected.update(chunk);
      sent += chunk.length;
      accepted = directWrite(socket, i % 3 === 0 ? chunk.toString('latin1') : chunk, onDrain);
    }
    expect(accepted).toBe(false);
    expect(pendingWriteBytes(socket)).toBeGreaterThan(0);
    // While a direct write waits, later bytes go through the stream (libuv keeps one queue) and still arrive after it.
    const tail = Buffer.from('the end, written through socket.write');
    expected.update(tail);
    sent += tail.length;
    socket.write(tail);
    directWrite(socket, Buffer.from('x'), onDrain); // the stream holds bytes: this one goes through it, after them
    expected.update('x');
    sent += 1;
    socket.end();
    const received = drainToEnd(reader);
    await drainedOnce;
    expect(await received).toEqual({bytes: sent, sha256: expected.digest('hex')});
    expect(drains).toBe(1);
  });

  it('destroys the socket with the error when the peer is gone', async () => {
    const peer = await pausedPeer(servers);
    const socket = await connected(peer.port);
    sockets.push(socket);
    const reader = await peer.accepted;
    socket.pause(); // the failure must come from a write, not from a read seeing the reset
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => socket.on('error', resolve));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    reader.resetAndDestroy();
    // Writes fail once the reset has arrived; until then they may be taken.
    const chunk = Buffer.alloc(64 * 1024);
    const writeUntilFailure = async (): Promise<void> => {
      while (!socket.destroyed) {
        directWrite(socket, chunk, () => undefined);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await writeUntilFailure();
    expect(['ECONNRESET', 'EPIPE']).toContain((await failed).code);
    await closed;
  });

  it('leaves a TLS socket to its stream (one TLS write at a time): bytes arrive in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaiser-direct-write-'));
    selfSigned(dir, 'localhost', 1);
    const key = readFileSync(join(dir, 'localhost.key'));
    const cert = readFileSync(join(dir, 'localhost.crt'));
    rmSync(dir, {recursive: true, force: true});
    let done!: (text: string) => void;
    const received = new Promise<string>((resolve) => (done = resolve));
    const server = createTlsServer({key, cert}, (tlsSocket) => {
      let text = '';
      tlsSocket.on('data', (data: Buffer) => (text += data.toString('latin1')));
      tlsSocket.on('end', () => done(text));
    });
    servers.push(server);
    const port = await listening(server);
    const client = await new Promise<Socket>((resolve) => {
      const s = connectTls({port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false}, () => resolve(s));
    });
    sockets.push(client);
    for (let i = 0; i < 100; i += 1) directWrite(client, i % 2 === 0 ? `${i},` : Buffer.from(`${i},`), () => undefined);
    client.end();
    expect(await received).toBe(Array.from({length: 100}, (_, i) => `${i},`).join(''));
  });
});
