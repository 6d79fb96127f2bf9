/**
 * The emperor ⇄ vassal byte protocol (docs/runtime-protocol.md §2): uWSGI's single bytes on the socketpair named by
 * UWSGI_EMPEROR_FD, plus kaiser's two framed messages (115 = config packet to the vassal, 116 = event from it).
 * Both the emperor and the standalone launcher speak it; neither imports the other.
 */

/** Bytes the emperor sends. */
export const TO_VASSAL = {
  STOP: 0,
  RELOAD: 1,
  GRACEFUL_STOP: 2,
  /** kaiser extension: ask a kaiser master for its request figures (answered with a 116 `stats` event). */
  STATS: 3,
  CONFIG: 115,
} as const;

/** Bytes a vassal sends. */
export const FROM_VASSAL = {
  SPAWNED: 1,
  CONFIG_REQUEST: 2,
  ACCEPTING: 5,
  LOYAL: 17,
  VOLUNTARY_STOP: 22,
  HEARTBEAT: 26,
  EVENT: 116,
} as const;

/** An event a kaiser master reports in a 116 frame. */
export type VassalEvent =
  | {event: 'reload-failed'; error: string}
  | {event: 'reloaded'}
  | {event: 'app-load-failed'; error: string}
  | {event: string; [key: string]: unknown};

/** What the decoder yields: a plain byte, or a decoded event frame. */
export type VassalMessage = {kind: 'byte'; byte: number} | {kind: 'event'; event: VassalEvent};

/** Encodes a kaiser config packet: byte 115, u32le length, JSON. */
export function encodeConfigPacket(config: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(config), 'utf8');
  const head = Buffer.alloc(5);
  head[0] = TO_VASSAL.CONFIG;
  head.writeUInt32LE(body.length, 1);
  return Buffer.concat([head, body]);
}

const MAX_FRAME = 16 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Incremental decoder for the vassal → emperor stream. Feed it chunks; it returns whole messages and keeps partial
 * frames. A frame claiming more than 16 MiB is a protocol error: the rest of the stream is dropped.
 */
export class VassalStreamDecoder {
  #pending: Buffer = EMPTY;
  #broken = false;

  /** Decodes as much of the stream as is complete. */
  push(chunk: Buffer): VassalMessage[] {
    if (this.#broken) return [];
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: VassalMessage[] = [];
    let at = 0;
    while (at < this.#pending.length) {
      const byte = this.#pending[at]!;
      if (byte !== FROM_VASSAL.EVENT) {
        out.push({kind: 'byte', byte});
        at += 1;
        continue;
      }
      if (this.#pending.length - at < 5) break;
      const size = this.#pending.readUInt32LE(at + 1);
      if (size > MAX_FRAME) {
        this.#broken = true;
        break;
      }
      if (this.#pending.length - at - 5 < size) break;
      const text = this.#pending.subarray(at + 5, at + 5 + size).toString('utf8');
      at += 5 + size;
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && typeof (parsed as {event?: unknown}).event === 'string') {
          out.push({kind: 'event', event: parsed as VassalEvent});
        }
      } catch {
        // A malformed event is ignored, like an unknown byte: the peer may be newer than us.
      }
    }
    // A view of a consumed chunk would keep the chunk's memory alive for as long as the vassal runs.
    this.#pending = at < this.#pending.length ? this.#pending.subarray(at) : EMPTY;
    return out;
  }
}
