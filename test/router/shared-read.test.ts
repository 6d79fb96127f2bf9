import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {createServer, connect, type Server, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createServer as createTlsServer, connect as connectTls} from 'node:tls';
import {readShared} from '../../src/router/shared-read.js';
import {selfSigned} from '../helpers/tls.js';

/** Echoes what it reads, upper-cased, and keeps a copy of every read (the buffer is reused by the next read). */
function sharedEcho(socket: Socket, kept: Buffer[]): boolean {
  const switched = readShared(socket, (bytes, buffer) => {
    kept.push(Buffer.from(buffer.subarray(0, bytes)));
    socket.write(buffer.toString('latin1', 0, bytes).toUpperCase());
  });
  socket.on('end', () => socket.end());
  return switched;
}

function listening(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as {port: number}).port)));
}

/** Sends `parts` one after the other, each after the answer to the previous one; resolves with the answers. */
async function converse(socket: Socket, parts: string[]): Promise<string[]> {
  const answers: string[] = [];
  for (const part of parts) {
    const answer = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
    socket.write(part);
    answers.push(await answer);
  }
  socket.end();
  await new Promise((resolve) => socket.on('close', resolve));
  return answers;
}

describe('readShared', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  it('switches an accepted plain socket to the shared buffer: every read arrives, end and close still come', async () => {
    const kept: Buffer[] = [];
    let switched: boolean | undefined;
    let closed = false;
    const server = createServer((socket) => {
      switched = sharedEcho(socket, kept);
      socket.on('close', () => (closed = true));
    });
    servers.push(server);
    const port = await listening(server);
    const answers = await converse(connect(port, '127.0.0.1'), ['first read', 'second', 'third one, longer than the others']);
    expect(switched).toBe(true);
    expect(answers).toEqual(['FIRST READ', 'SECOND', 'THIRD ONE, LONGER THAN THE OTHERS']);
    // Each copy kept its own bytes although every read landed in the same buffer.
    expect(kept.map((b) => b.toString())).toEqual(['first read', 'second', 'third one, longer than the others']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });

  it('switches an accepted TLS socket the same way (decrypted bytes land in the shared buffer)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaiser-shared-read-'));
    try {
      selfSigned(dir, 'shared.test', 1);
      const kept: Buffer[] = [];
      let switched: boolean | undefined;
      const server = createTlsServer({key: readFileSync(join(dir, 'shared.test.key')), cert: readFileSync(join(dir, 'shared.test.crt'))}, (socket) => {
        switched = sharedEcho(socket, kept);
      });
      servers.push(server);
      const port = await listening(server);
      const client = connectTls({port, host: '127.0.0.1', servername: 'shared.test', rejectUnauthorized: false});
      await new Promise((resolve) => client.once('secureConnect', resolve));
      const answers = await converse(client, ['over tls', 'again']);
      expect(switched).toBe(true);
      expect(answers).toEqual(['OVER TLS', 'AGAIN']);
      expect(kept.map((b) => b.toString())).toEqual(['over tls', 'again']);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });

  it('leaves a socket that already holds data in its stream as it is', async () => {
    let switched: boolean | undefined;
    const server = createServer({pauseOnConnect: false}, (socket) => {
      socket.once('readable', () => {
        switched = readShared(socket, () => undefined);
        socket.end(String(switched));
      });
    });
    servers.push(server);
    const port = await listening(server);
    const client = connect(port, '127.0.0.1');
    client.write('early');
    const answer = await new Promise<string>((resolve) => client.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    client.destroy();
    expect(answer).toBe('false');
    expect(switched).toBe(false);
  });
});
