/**
 * Reads of accepted client sockets into one shared buffer, skipping the readable stream (the router's hot path).
 *
 * A socket the router connects itself takes `onread` (upstream-pool.ts), but `net.Server` and `tls.Server` build
 * their sockets without it. Node's `onread` is two fields of the socket (the buffer, the callback) and the handle's
 * `useUserBuffer`, which `net.Socket` checks on every read, pause and resume, whatever built the socket; so an
 * accepted plain or TLS socket that has not read anything yet is switched over by setting them. Each read then lands
 * in SHARED_READ_BUFFER and calls back with its length, instead of allocating a 64 KB ArrayBuffer, pushing it through
 * the readable stream, emitting 'data' and scheduling a read-more tick (with the faster head parsing of
 * header-line.ts, 51.5 -> 44.8 CPU µs per proxied request, README "Gateways"). 'end', 'close', pause() and resume()
 * behave as before.
 *
 * The fields are found by their symbols' descriptions on a probe socket. When they are not there (another Node),
 * when the handle cannot take a user buffer, or when the socket already holds data in its stream, `readShared`
 * returns false and the caller listens for 'data' as usual. The bytes passed to the callback are valid only during
 * the call: whatever is kept (a partial head, body bytes queued or written asynchronously) must be copied.
 */
import {Socket} from 'node:net';

/**
 * Every shared-read socket, and every backend connection (upstream-pool.ts), reads into this: one thread, and a read
 * is handled (what is kept, copied) before the next one lands.
 */
export const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface OnreadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
}

const FIELDS: OnreadFields | undefined = (() => {
  const probe = new Socket();
  const symbols = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const buffer = symbols.find((s) => s.description === 'kBuffer');
  const callback = symbols.find((s) => s.description === 'kBufferCb');
  return buffer === undefined || callback === undefined ? undefined : {buffer, callback};
})();

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * Switches `socket` to reading into the shared buffer: `onRead(bytes, buffer)` gets each read as `buffer[0, bytes)`.
 * False when it cannot (then nothing changed).
 */
export function readShared(socket: Socket, onRead: (bytes: number, buffer: Buffer) => void): boolean {
  const handle = (socket as unknown as {_handle?: Partial<UserBufferHandle> | null})._handle;
  if (FIELDS === undefined || handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return false;
  if (socket.readableLength > 0) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[FIELDS.buffer] !== null || fields[FIELDS.callback] !== null) return false;
  fields[FIELDS.buffer] = SHARED_READ_BUFFER;
  fields[FIELDS.callback] = onRead;
  handle.useUserBuffer(SHARED_READ_BUFFER);
  return true;
}
