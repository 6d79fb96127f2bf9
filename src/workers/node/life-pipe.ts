/**
 * The life pipe (docs/runtime-protocol.md §3): `KAISER_LIFE_FD` is the read end of a pipe whose write end only
 * the master holds. Nothing is ever written on it; EOF (or an error) means the master is gone and the worker
 * must die at once, like a uWSGI worker whose master disappeared.
 */
import {createReadStream} from 'node:fs';
import net from 'node:net';

/**
 * Watches `fd` and calls `onMasterGone` once on EOF or error. The watcher does not keep the event loop alive.
 * @param fd read end of the life pipe (a pipe or a socketpair end)
 */
export function watchLifePipe(fd: number, onMasterGone: () => void): void {
  let fired = false;
  const gone = (): void => {
    if (fired) return;
    fired = true;
    onMasterGone();
  };
  let stream: NodeJS.ReadableStream & {unref?: () => void};
  try {
    // A libuv pipe handle: EOF arrives through epoll, no thread-pool thread is held by a blocking read.
    const socket = new net.Socket({fd, readable: true, writable: false});
    socket.unref();
    stream = socket;
  } catch {
    // Not a pipe/socket (odd, but a regular file or tty still gives EOF semantics through fs reads).
    stream = createReadStream('', {fd, autoClose: false});
  }
  stream.on('data', () => undefined);
  stream.on('end', gone);
  stream.on('error', gone);
  stream.on('close', gone);
}
