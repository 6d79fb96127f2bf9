/**
 * Blocking write of a whole buffer to an inherited descriptor (status pipe, stderr), whatever its O_NONBLOCK
 * flag: short writes are continued and EAGAIN is waited out in 1 ms steps.
 */
import {writeSync} from 'node:fs';

/**
 * Writes all of `data` to `fd`, retrying short writes and EAGAIN (the descriptor may be non-blocking when it
 * is shared with another process that set O_NONBLOCK).
 */
export function writeFullySync(fd: number, data: Buffer): void {
  let done = 0;
  let spins = 0;
  while (done < data.length) {
    try {
      done += writeSync(fd, data, done, data.length - done);
      spins = 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++spins > 5000) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); // 1 ms: the reader will drain the pipe
    }
  }
}
