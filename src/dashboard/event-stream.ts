/**
 * Server-sent events for the dashboard (`GET /api/events`): the set of open streams, each written with
 * `event: NAME\ndata: JSON\n\n`. A message is serialized once and written to every stream. A client that stops
 * reading is dropped once BACKLOG_LIMIT_BYTES are queued for it, so a stalled browser cannot grow the emperor's
 * memory; a comment every HEARTBEAT_MS keeps proxies from closing idle streams and finds dead peers.
 *
 * Also `TransitionFeed`: the emperor takes one `onVassalTransition` listener; the feed fans it out to the dashboard.
 */
import type {ServerResponse} from 'node:http';

const BACKLOG_LIMIT_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15_000;
/** Streams beyond this many are refused (503). */
export const MAX_STREAMS = 64;

/** One state change of one vassal (the emperor's `VassalTransition`). */
export interface Transition {
  vassal: string;
  from: string;
  to: string;
  event: string;
  /** Unix milliseconds. */
  at: number;
}

/** Subscribes a listener to transitions; returns the unsubscribe function. */
export type TransitionSource = (listener: (transition: Transition) => void) => () => void;

/** Fans the emperor's single `onVassalTransition` callback out to any number of listeners. */
export class TransitionFeed {
  readonly #listeners = new Set<(transition: Transition) => void>();

  /** Hands `transition` to every listener; one that throws is dropped, never the emperor's path. */
  emit(transition: Transition): void {
    for (const listener of this.#listeners) {
      try {
        listener(transition);
      } catch {
        this.#listeners.delete(listener);
      }
    }
  }

  /** The `events` source `startDashboard` takes. */
  readonly subscribe: TransitionSource = (listener) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };
}

interface Stream {
  readonly response: ServerResponse;
  readonly onClose: () => void;
}

/** The open event streams. */
export class EventStreams {
  readonly #streams = new Set<Stream>();
  readonly #heartbeat: NodeJS.Timeout;

  constructor() {
    this.#heartbeat = setInterval(() => this.#writeAll(': keep-alive\n\n'), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Turns `response` into an event stream; `onClose` runs once when it ends, whoever ends it. */
  open(response: ServerResponse, onClose: () => void = () => undefined): (event: string, data: unknown) => void {
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    response.write('retry: 1000\n\n');
    const stream: Stream = {response, onClose};
    this.#streams.add(stream);
    response.once('close', () => this.#drop(stream));
    return (event, data) => this.#write(stream, encodeEvent(event, data));
  }

  /** Sends one event to every stream. */
  broadcast(event: string, data: unknown): void {
    if (this.#streams.size > 0) this.#writeAll(encodeEvent(event, data));
  }

  /** Ends every stream. */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const stream of [...this.#streams]) {
      this.#drop(stream);
      stream.response.end();
    }
  }

  #writeAll(text: string): void {
    for (const stream of [...this.#streams]) this.#write(stream, text);
  }

  #write(stream: Stream, text: string): void {
    if (!this.#streams.has(stream)) return;
    if (stream.response.writableLength > BACKLOG_LIMIT_BYTES) {
      this.#drop(stream);
      stream.response.destroy();
      return;
    }
    stream.response.write(text);
  }

  #drop(stream: Stream): void {
    if (!this.#streams.delete(stream)) return;
    stream.onClose();
  }
}

/** One SSE message. JSON never contains a raw newline, so `data:` stays one line. */
export function encodeEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
