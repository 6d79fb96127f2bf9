/**
 * The pipe between the emperor and its router processes (Node's IPC channel, JSON messages): what each side may
 * say. The emperor owns the listening sockets and sends each router process a copy with its `listen` message, so a
 * router that dies loses no queued connection and its replacement accepts on the same socket.
 *
 *   emperor ──start──► router         settings and the listeners to expect
 *   emperor ──listen + socket──► router   one per listener (`kind` says which front serves it)
 *   router ──listening──► emperor     once every listener accepts
 *   emperor ──table──► router         every pool (sent whole, coalesced; `seq` grows)
 *   router ──applied──► emperor       the table `seq` now routes requests
 *   emperor ──reopen-logs──► router   SIGUSR2: reopen the access log
 *   emperor ──stop──► router          stop accepting, finish requests in flight within graceMs, exit
 */
import type {BalanceMode} from './pool-table.js';
import type {PoolSpec} from './pools.js';

/** How a router process behaves; the emperor's `--emperor-http-*` options. */
export interface RouterSettings {
  readonly balance: BalanceMode;
  /** Client connections per router process; 0 = from the descriptor limit (half of it, less a reserve). */
  readonly maxConnections: number;
  /** Total time to read a request head (nginx's client_header_timeout). */
  readonly headersTimeoutMs: number;
  /** Idle time of a keep-alive client connection between requests (nginx's keepalive_timeout). */
  readonly keepaliveTimeoutMs: number;
  /** Idle time while reading a request body or writing to a client that does not read (client_body_timeout). */
  readonly bodyTimeoutMs: number;
  /** Idle time waiting on a backend (nginx's proxy_read_timeout). */
  readonly upstreamTimeoutMs: number;
  /** Time to connect to a backend. */
  readonly connectTimeoutMs: number;
  /** A member that refused or reset is skipped this long (nginx's fail_timeout). */
  readonly failTimeoutMs: number;
  /** Active health checks: GET this path on every HTTP member each `healthIntervalMs` (undefined: off). */
  readonly healthCheckPath: string | undefined;
  readonly healthIntervalMs: number;
  /** Combined-format access log file (undefined: off). */
  readonly accessLog: string | undefined;
  readonly logFormat: 'human' | 'json';
  /** Where the emperor's ACME orders leave HTTP-01 answers (`SNI-DIR/.acme/challenges`); undefined: no ACME. */
  readonly acmeChallengeDir: string | undefined;
}

/** What an `https` listener needs: the certificates, HTTP/2 or not, and the session ticket keys every process shares. */
export interface HttpsListenerSettings {
  readonly sniDir: string;
  readonly h2: boolean;
  /** 48 bytes, base64: the same in every router process, so a client resumes its session whichever one it reaches. */
  readonly ticketKeys: string;
}

/** A listening socket and the front that serves it: `http` (--emperor-http), `https` (--emperor-https), `fastrouter`. */
export interface ListenerSpec {
  readonly id: string;
  readonly kind: string;
  /** The address as bound (with the real port), for logs. */
  readonly address: string;
  /** Kind-specific settings (`https`: HttpsListenerSettings). */
  readonly options?: HttpsListenerSettings;
}

export type ToRouter =
  | {act: 'start'; settings: RouterSettings; listeners: ListenerSpec[]}
  | {act: 'listen'; id: string}
  | {act: 'table'; seq: number; pools: PoolSpec[]}
  | {act: 'reopen-logs'}
  | {act: 'stop'; graceMs: number};

export type FromRouter = {act: 'listening'} | {act: 'applied'; seq: number} | {act: 'failed'; error: string};
