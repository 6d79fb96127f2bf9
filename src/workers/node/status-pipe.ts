/**
 * Worker → master status messages (docs/runtime-protocol.md §3): one JSON object per line on the pipe named by
 * `KAISER_STATUS_FD`: `{"act":"loaded"}`, `{"act":"load-failed","error":"…"}`, `{"act":"accepting"}`.
 * Writes are synchronous so a message is on the pipe before the worker goes on (or exits 22).
 */
import {writeFullySync} from './write-fully.js';

/** A message the worker sends to its master. */
export type StatusMessage = {act: 'loaded'} | {act: 'accepting'} | {act: 'load-failed'; error: string};

/** The status pipe; a no-op without a descriptor (a worker started by hand). */
export class StatusPipe {
  private broken = false;

  /** @param fd the inherited write end, or undefined when `KAISER_STATUS_FD` is unset */
  constructor(private readonly fd: number | undefined) {}

  /** Sends one message; a vanished master (EPIPE, EBADF) is ignored: the life pipe reports it. */
  send(message: StatusMessage): void {
    if (this.fd === undefined || this.broken) return;
    try {
      writeFullySync(this.fd, Buffer.from(`${JSON.stringify(message)}\n`));
    } catch {
      this.broken = true;
    }
  }
}
