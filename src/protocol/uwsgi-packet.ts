/**
 * The uwsgi binary packet (UWSGI-REFERENCE §13): a 4-byte header (modifier1, u16le datasize, modifier2) and a vars
 * block of u16le-length-prefixed key/value pairs, no terminator. The front router writes one to a subscribed uWSGI
 * node per request (modifier1 0), and reads them from UDP as subscriptions (modifier1 224). Pure: no I/O.
 */

/** modifier1 values kaiser speaks. */
export const MODIFIER1 = {
  /** A WSGI (or any app) request; the node answers with a plain HTTP response and closes. */
  REQUEST: 0,
  /** A subscription (modifier2 0) or an unsubscription (modifier2 1) to a subscription server. */
  SUBSCRIPTION: 224,
} as const;

/** The largest vars block a 16-bit datasize can carry. */
export const MAX_VARS_BYTES = 0xffff;

/** One decoded packet. Values stay bytes: uWSGI passes them through as they came. */
export interface UwsgiPacket {
  readonly modifier1: number;
  readonly modifier2: number;
  readonly vars: ReadonlyMap<string, Buffer>;
  /** The vars block as received (what a subscription signature covers). */
  readonly varsBlock: Buffer;
  /** Bytes after the vars block (a request body's start; nothing for a subscription). */
  readonly rest: Buffer;
}

/** Why bytes are not a uwsgi packet. */
export type PacketError = {reason: string};

/** Encodes `vars` (in order; repeated keys allowed) as one packet. Throws past 65535 bytes of vars: callers check. */
export function encodePacket(modifier1: number, modifier2: number, vars: Iterable<readonly [string, string | Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  let size = 0;
  for (const [key, value] of vars) {
    const k = Buffer.from(key, 'latin1');
    const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    if (k.length > 0xffff || v.length > 0xffff) throw new Error(`Internal error: uwsgi var ${key} longer than 65535 bytes`);
    const head = Buffer.alloc(2);
    head.writeUInt16LE(k.length, 0);
    const valueHead = Buffer.alloc(2);
    valueHead.writeUInt16LE(v.length, 0);
    parts.push(head, k, valueHead, v);
    size += 4 + k.length + v.length;
  }
  if (size > MAX_VARS_BYTES) throw new Error(`Internal error: uwsgi vars block of ${size} bytes`);
  const header = parts[0] as Buffer;
  header[0] = modifier1;
  header.writeUInt16LE(size, 1);
  header[3] = modifier2;
  return Buffer.concat(parts, 4 + size);
}

/** The size of the vars block an encoding of `vars` would have (to refuse large requests before encoding). */
export function varsSize(vars: Iterable<readonly [string, string | Buffer]>): number {
  let size = 0;
  for (const [key, value] of vars) size += 4 + Buffer.byteLength(key, 'latin1') + (typeof value === 'string' ? Buffer.byteLength(value, 'latin1') : value.length);
  return size;
}

/** Decodes one whole packet (a UDP datagram, or a buffer known to hold the whole vars block). */
export function decodePacket(bytes: Buffer): {ok: true; value: UwsgiPacket} | {ok: false; error: PacketError} {
  if (bytes.length < 4) return {ok: false, error: {reason: `${bytes.length} bytes, shorter than the 4-byte header`}};
  const modifier1 = bytes[0] as number;
  const datasize = bytes.readUInt16LE(1);
  const modifier2 = bytes[3] as number;
  const end = 4 + datasize;
  if (bytes.length < end) return {ok: false, error: {reason: `header announces ${datasize} bytes of vars, ${bytes.length - 4} came`}};
  const vars = new Map<string, Buffer>();
  let pos = 4;
  while (pos < end) {
    if (pos + 2 > end) return {ok: false, error: {reason: 'truncated key length'}};
    const keyLength = bytes.readUInt16LE(pos);
    pos += 2;
    if (pos + keyLength + 2 > end) return {ok: false, error: {reason: 'truncated key'}};
    const key = bytes.toString('latin1', pos, pos + keyLength);
    pos += keyLength;
    const valueLength = bytes.readUInt16LE(pos);
    pos += 2;
    if (pos + valueLength > end) return {ok: false, error: {reason: `truncated value of ${JSON.stringify(key)}`}};
    // The first of a repeated key wins, as uWSGI's parser keeps the first.
    if (!vars.has(key)) vars.set(key, bytes.subarray(pos, pos + valueLength));
    pos += valueLength;
  }
  return {ok: true, value: {modifier1, modifier2, vars, varsBlock: bytes.subarray(4, end), rest: bytes.subarray(end)}};
}
