/**
 * A small RFC 6455 client for the ASGI tests (Node 20 has no WebSocket client): the opening handshake (checks the
 * accept key), masked text/binary/ping/close frames out, frames in (reassembled only as far as the tests need:
 * the server sends unfragmented frames), and the HTTP response when the upgrade is refused.
 */
import {createHash, randomBytes} from 'node:crypto';
import {connect, type Socket} from 'node:net';

export const OP = {text: 1, binary: 2, close: 8, ping: 9, pong: 10} as const;

export interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** What the server answered to the upgrade request when it was not 101. */
export class Refused extends Error {
  constructor(readonly status: number, readonly response: string) {
    super(`websocket upgrade refused with ${status}`);
  }
}

export class WsClient {
  readonly #socket: Socket;
  #buf = Buffer.alloc(0);
  readonly #frames: Frame[] = [];
  readonly #waiters: Array<() => void> = [];
  #ended = false;
  /** Response headers of the 101, lower-cased. */
  headers: Record<string, string> = {};

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  static connect(port: number, path: string, opts: {protocols?: string[]; headers?: Record<string, string>} = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const client = new WsClient(socket);
      const key = randomBytes(16).toString('base64');
      let head = Buffer.alloc(0);
      let upgraded = false;
      socket.on('error', (e) => (upgraded ? client.#end() : reject(e)));
      socket.on('close', () => {
        if (!upgraded) reject(new Refused(Number(/^HTTP\/1\.1 (\d+)/.exec(head.toString('latin1'))?.[1] ?? 0), head.toString('latin1')));
        client.#end();
      });
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) return client.#feed(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
        if (status !== 101) return; // read the refusal until the server closes
        for (const line of text.split('\r\n').slice(1)) {
          const i = line.indexOf(':');
          client.headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
        }
        const expected = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (client.headers['sec-websocket-accept'] !== expected) return reject(new Error('bad Sec-WebSocket-Accept'));
        upgraded = true;
        resolve(client);
        const rest = head.subarray(end + 4);
        if (rest.length) client.#feed(rest);
      });
      const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      const protocols = opts.protocols ? `Sec-WebSocket-Protocol: ${opts.protocols.join(', ')}\r\n` : '';
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${protocols}${extra}\r\n`);
    });
  }

  #feed(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let pos = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        pos = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        pos = 10;
      }
      if (b.length < pos + len) return;
      this.#frames.push({opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(pos, pos + len))});
      this.#buf = b.subarray(pos + len);
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  #end(): void {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Sends one final masked frame. */
  send(opcode: number, payload: Buffer | string): void {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const mask = randomBytes(4);
    const n = data.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    if (n >= 126 && n < 65536) {
      head[0] = 0x80 | opcode;
      head[1] = 0x80 | 126;
      head.writeUInt16BE(n, 2);
    } else if (n >= 65536) {
      head[0] = 0x80 | opcode;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    const masked = Buffer.alloc(n);
    for (let i = 0; i < n; i++) masked[i] = data[i]! ^ mask[i & 3]!;
    this.#socket.write(Buffer.concat([head, mask, masked]));
  }

  sendText(text: string): void {
    this.send(OP.text, text);
  }

  close(code = 1000): void {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    this.send(OP.close, p);
  }

  /** The next frame from the server (rejects when the connection ends first, or after `withinMs`). */
  async next(withinMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const f = this.#frames.shift();
      if (f) return f;
      if (this.#ended) throw new Error('websocket connection ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no websocket frame in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server has closed the TCP connection. */
  ended(withinMs = 10_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    return (async () => {
      while (!this.#ended) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('websocket connection still open');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          this.#waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    })();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
