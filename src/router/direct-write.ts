/**
 * Writes of plain TCP and unix sockets straight to their libuv handle, skipping the writable stream (the router's
 * hot path: one write of the request head to the backend, one of the response to the client, per request).
 *
 * `socket.write` goes through the Writable machinery on every call: `writeOrBuffer`, a `WriteWrap` made from its
 * template, the handle call, then `onwrite` and an after-write tick, about a tenth of the router's CPU per request
 * (README "Gateways"). Node's own `stream_base_commons` calls the handle's `writeBuffer(req, buffer)` /
 * `writeLatin1String(req, text)` with a `WriteWrap`; so does this module, with one spare `WriteWrap` reused while
 * writes complete synchronously (libuv's `uv_try_write` wrote everything, the C++ side never touched the object),
 * which on loopback they nearly always do.
 *
 * Order, backpressure, errors, half-close:
 * - Only a socket whose writable stream holds nothing (`writableLength` 0: nothing buffered, nothing in flight), that
 *   is not corked, connected, not ended and not TLS, is written directly; anything else goes through `socket.write` as before.
 *   libuv keeps every write of a handle in one queue (`uv_try_write` refuses while the queue is not empty), so a
 *   direct write still in flight and a later `socket.write` leave in order, and `socket.end()`'s shutdown waits for
 *   the queue.
 * - A write libuv could not finish at once (`kLastWriteWasAsync`) keeps its buffer alive on its `WriteWrap` and
 *   returns false, like `socket.write`; when the socket's last direct write in flight completes, `onDrain` is called
 *   (the socket emits no 'drain' for bytes it never saw; bytes written through the stream meanwhile have the
 *   stream's own 'drain'). `pendingWriteBytes` counts libuv's queue as well (send-timeout checks).
 * - An error, at once or on completion, destroys the socket with it ('error', then 'close'), as the stream would.
 * - TLS sockets are not written here: a TLSWrap takes one write at a time (the stream serialises them).
 *
 * Where the internal binding or the handle methods are missing (another Node), `directWrite` is `socket.write`.
 */
import {getSystemErrorName} from 'node:util';
import type {Socket} from 'node:net';

interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  socket: Socket | null;
  buffer: Buffer | string | null;
  onDrain: (() => void) | null;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writeLatin1String(req: WriteReq, data: string): number;
  readonly writeQueueSize: number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

const BINDING: StreamWrapBinding | undefined = (() => {
  try {
    // process.binding('stream_wrap') is the internal binding itself (an allow-listed module in Node 20).
    const binding = (process as unknown as {binding(name: string): Partial<StreamWrapBinding>}).binding('stream_wrap');
    if (typeof binding.WriteWrap !== 'function' || !ArrayBuffer.isView(binding.streamBaseState) || typeof binding.kLastWriteWasAsync !== 'number') return undefined;
    return binding as StreamWrapBinding;
  } catch {
    return undefined;
  }
})();

/** A write request whose last use completed synchronously: the C++ side never bound it, so it can be reused. */
let spare: WriteReq | undefined;

function newReq(): WriteReq {
  const req = new (BINDING as StreamWrapBinding).WriteWrap();
  req.oncomplete = onWriteComplete;
  req.socket = null;
  req.buffer = null;
  req.onDrain = null;
  return req;
}

function writeError(status: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`write ${code}`), {errno: status, code, syscall: 'write'});
}

/** Direct writes still in flight, per socket (only sockets that have any: the rare case). */
const inFlight = new WeakMap<Socket, number>();

function onWriteComplete(this: WriteReq, status: number): void {
  const socket = this.socket as Socket;
  const onDrain = this.onDrain as () => void;
  this.socket = this.buffer = this.onDrain = null;
  const left = (inFlight.get(socket) ?? 1) - 1;
  if (left === 0) inFlight.delete(socket);
  else inFlight.set(socket, left);
  if (socket.destroyed) return;
  if (status < 0) {
    socket.destroy(writeError(status));
    return;
  }
  if (left === 0) onDrain();
}

/** The socket's handle when it can be written directly now, else undefined. */
function directHandle(socket: Socket): StreamHandle | undefined {
  if (BINDING === undefined || socket.writableLength !== 0 || socket.writableCorked !== 0 || socket.connecting || socket.writableEnded || socket.destroyed || (socket as {encrypted?: boolean}).encrypted === true) return undefined;
  const handle = (socket as unknown as {_handle?: Partial<StreamHandle> | null})._handle;
  if (handle === null || handle === undefined || typeof handle.writeBuffer !== 'function' || typeof handle.writeLatin1String !== 'function') return undefined;
  return handle as StreamHandle;
}

/**
 * Writes `data` (a string is sent as latin1) to `socket`. True: all of it is with the kernel, write more. False: it
 * waits (`onDrain` is called once the socket can take more, unless the socket fails first) or the socket failed.
 */
export function directWrite(socket: Socket, data: Buffer | string, onDrain: () => void): boolean {
  const handle = directHandle(socket);
  if (handle === undefined) return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  const req = spare ?? newReq();
  spare = undefined;
  const err = typeof data === 'string' ? handle.writeLatin1String(req, data) : handle.writeBuffer(req, data);
  if (err !== 0) {
    // Not reused: a failed write may have bound the request to its C++ side before failing.
    socket.destroy(writeError(err));
    return false;
  }
  if ((BINDING as StreamWrapBinding).streamBaseState[(BINDING as StreamWrapBinding).kLastWriteWasAsync] === 0) {
    spare = req;
    return true;
  }
  // In flight: the request is bound to its C++ write until it completes (then it is garbage).
  req.socket = socket;
  req.buffer = data;
  req.onDrain = onDrain;
  inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
  return false;
}

/** Bytes written but not yet with the kernel: the stream's and libuv's queues. */
export function pendingWriteBytes(socket: Socket): number {
  const handle = (socket as unknown as {_handle?: Partial<StreamHandle> | null})._handle;
  return socket.writableLength + (typeof handle?.writeQueueSize === 'number' ? handle.writeQueueSize : 0);
}

/** Whether writes can skip the stream in this Node (tests). */
export const DIRECT_WRITE_AVAILABLE = BINDING !== undefined;
