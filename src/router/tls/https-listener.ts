/**
 * The HTTPS front door (`--emperor-https ADDR`): a TLS listener that picks each connection's certificate by SNI from
 * the sni-dir (sni-store.ts), then hands the decrypted connection on by the protocol ALPN chose:
 *
 *   ClientHello ──SNI name──► SniStore.contextFor ──► context ──► handshake ──ALPN──► h2 ──► HTTP/2 server ──► handlers
 *                   │                                  none                    └──► http/1.1 (or none) ──► http1(socket)
 *                   └── no SNI ──► no certificate ◄────┘  handshake_failure alert, never another tenant's cert
 *
 * `http1(socket)` is the router's own connection handling for plain HTTP given a TLSSocket (a `net` proxy core takes
 * it as is); without one, a Node HTTP server with the router's `handlers` serves it. HTTP/2 streams go to an
 * `http2` server fed the decrypted socket, with the same `handlers` (`:authority` becomes Host). So routing, errors
 * and upgrades are one code path whatever the transport.
 *
 * Modern defaults, as Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy,
 * the client's cipher preference (clients know whether they have AES hardware). `h2: false` offers HTTP/1.1 only.
 */
import {createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse} from 'node:http';
import {createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session} from 'node:http2';
import type {Duplex} from 'node:stream';
import {createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket} from 'node:tls';
import {formatError} from '../../errors.js';
import type {Logger} from '../../log/logger.js';
import {listenOn} from '../listen-address.js';
import type {ContextSettings, SniStore} from './sni-store.js';

/** Mozilla's intermediate TLS 1.2 suites (TLS 1.3 suites are always on in OpenSSL and need no list). */
export const TLS_DEFAULTS: ContextSettings = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
};

/** What the listener hands requests to (the router's handlers). */
export interface RequestHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface HttpsListenerOptions {
  /** `127.0.0.1:8443`, `:443`, `[::1]:443`; port 0 picks one. Or a listening handle (a router process's socket). */
  readonly address: string | {readonly handle: object};
  readonly store: SniStore;
  /** Serve HTTP/2 streams, and HTTP/1.1 connections unless `http1` is given. */
  readonly handlers: RequestHandlers;
  /** Takes a decrypted HTTP/1.1 connection (the router's connection handling); default: a Node HTTP server. */
  readonly http1?: (socket: TLSSocket) => void;
  readonly log: Logger;
  /** Offer HTTP/2 by ALPN (default true). */
  readonly h2?: boolean;
  /** How long an idle client connection stays open (default 75 s, as the plain router). */
  readonly clientKeepAliveMs?: number;
  /** Extra SNI resolution tried before the store (ACME's TLS-ALPN-01 challenge certificates). */
  readonly contextOverride?: (servername: string) => SecureContext | undefined;
  /**
   * Session ticket keys (48 bytes) shared by every router process, so a client resumes its TLS session whichever
   * process SO_REUSEPORT hands its next connection to. Default: random per listener (and per context).
   */
  readonly ticketKeys?: Buffer;
}

export interface HttpsListener {
  /** The bound address with its real port. */
  readonly address: string;
  /** Handshakes refused because no certificate matched the name, since start. */
  readonly refusedHandshakes: number;
  /** Stops accepting; lets requests in flight finish for `graceMs`, then closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** The SNI callback: the name's context, or one without a certificate (a handshake_failure alert). */
function sniCallbackOf(options: HttpsListenerOptions, log: Logger, onRefused: () => void) {
  const lastRefusalLog = {at: Number.NEGATIVE_INFINITY, suppressed: 0};
  // OpenSSL ends a handshake on a context without a certificate with a handshake_failure alert, which clients report
  // clearly ("sslv3 alert handshake failure"), where an error here would only drop the connection.
  const noCertificate = createSecureContext({...TLS_DEFAULTS});
  return (servername: string, done: (error: Error | null, context?: SecureContext) => void): void => {
    const context = options.contextOverride?.(servername) ?? options.store.contextFor(servername);
    if (context !== undefined) return done(null, context);
    onRefused();
    const now = Date.now();
    if (now - lastRefusalLog.at >= 1_000) {
      log.warn('no certificate for name', {
        uwsgi: `[https] ${formatError('KAISER_TLS_UNKNOWN_NAME', {name: JSON.stringify(servername), dir: options.store.dir})}${lastRefusalLog.suppressed ? ` (+${lastRefusalLog.suppressed} more)` : ''}`,
        code: 'KAISER_TLS_UNKNOWN_NAME',
        servername,
        suppressed: lastRefusalLog.suppressed,
      });
      lastRefusalLog.at = now;
      lastRefusalLog.suppressed = 0;
    } else {
      lastRefusalLog.suppressed += 1;
    }
    done(null, noCertificate);
  };
}

/** Starts the TLS listener; resolves once it listens. */
export async function startHttpsListener(options: HttpsListenerOptions): Promise<HttpsListener> {
  const log = options.log.child({component: 'https'});
  let refused = 0;
  const offerH2 = options.h2 !== false;
  const keepAliveMs = options.clientKeepAliveMs ?? 75_000;
  const server = createTlsServer({
    ...TLS_DEFAULTS,
    SNICallback: sniCallbackOf(options, log, () => (refused += 1)),
    honorCipherOrder: false,
    ALPNProtocols: offerH2 ? ['h2', 'http/1.1'] : ['http/1.1'],
  });
  if (options.ticketKeys !== undefined) server.setTicketKeys(options.ticketKeys);
  // HTTP/2: a plain-text http2 server fed the decrypted sockets.
  const h2 = offerH2 ? createH2Server() : undefined;
  const sessions = new Set<ServerHttp2Session>();
  if (h2 !== undefined) {
    h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      // HTTP/2 names the host in :authority; the router routes by Host.
      if (req.headers.host === undefined && typeof req.headers[':authority'] === 'string') req.headers.host = req.headers[':authority'];
      options.handlers.request(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
    h2.on('session', (session: ServerHttp2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    h2.setTimeout(keepAliveMs);
  }
  // HTTP/1.1: the router's own connection handling, or a Node HTTP server with its handlers.
  let http1Server: HttpServer | undefined;
  const http1 = options.http1 ?? (() => {
    const plain = createHttpServer({requestTimeout: 0, headersTimeout: 60_000}, options.handlers.request);
    plain.on('upgrade', options.handlers.upgrade);
    plain.keepAliveTimeout = keepAliveMs;
    http1Server = plain;
    return (socket: TLSSocket) => plain.emit('connection', socket);
  })();
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (socket.alpnProtocol === 'h2' && h2 !== undefined) h2.emit('connection', socket);
    else http1(socket);
  });
  // A refused or broken handshake is the client's business: no crash, no log line per scanner.
  server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
  const address = typeof options.address === 'string' ? await listenOn(server, options.address) : await listenOnHandle(server, options.address.handle);
  log.info('https listening', {uwsgi: `*** kaiser HTTPS router enabled on ${address} (certificates from ${options.store.dir}) ***`, address, h2: offerH2});

  let closing: Promise<void> | undefined;
  return {
    address,
    get refusedHandshakes() {
      return refused;
    },
    close(graceMs = 5_000) {
      return (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        for (const session of sessions) session.close();
        http1Server?.closeIdleConnections();
        if (http1Server !== undefined) {
          // Requests in flight finish; their connections close when idle.
          http1Server.on('request', (_req: IncomingMessage, res: ServerResponse) => void (res.shouldKeepAlive = false));
        }
      }));
    },
  };
}

function listenOnHandle(server: import('node:net').Server, handle: object): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(handle, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(bound === null || typeof bound === 'string' ? String(bound) : bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`);
    });
  });
}
