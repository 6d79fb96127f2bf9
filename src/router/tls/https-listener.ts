/**
 * The HTTPS front door (`--emperor-https ADDR`): a TLS listener that picks each connection's certificate by SNI from
 * the sni-dir (sni-store.ts) and hands the decrypted requests to the same handlers as the plain HTTP router, so
 * routing, keep-alive, WebSockets and error pages are one code path whatever the transport.
 *
 *   ClientHello ──SNI name──► SniStore.contextFor ──► context ──► handshake ──ALPN──► h2 | http/1.1 ──► handlers
 *                   │                                  none
 *                   └── no SNI ──► no certificate ◄────┘  handshake refused (alert), never another tenant's cert
 *
 * Modern defaults, as Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy,
 * the client's cipher preference (clients know whether they have AES hardware). HTTP/2 is offered by ALPN next to
 * HTTP/1.1 (Node's http2 with allowHTTP1); `h2: false` offers HTTP/1.1 only.
 */
import {createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse} from 'node:http2';
import {createServer as createHttpsServer, type Server as HttpsServer} from 'node:https';
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {Duplex} from 'node:stream';
import {createSecureContext, type TLSSocket} from 'node:tls';
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
  /** `127.0.0.1:8443`, `:443`, `[::1]:443`; port 0 picks one. */
  readonly address: string;
  readonly store: SniStore;
  readonly handlers: RequestHandlers;
  readonly log: Logger;
  /** Offer HTTP/2 by ALPN (default true). */
  readonly h2?: boolean;
  /** How long an idle client connection stays open (default 75 s, as the plain router). */
  readonly clientKeepAliveMs?: number;
  /** Extra SNI resolution tried before the store (ACME's TLS-ALPN-01 challenge certificates). */
  readonly contextOverride?: (servername: string) => import('node:tls').SecureContext | undefined;
}

export interface HttpsListener {
  /** The bound address with its real port. */
  readonly address: string;
  /** Handshakes refused because no certificate matched the name, since start. */
  readonly refusedHandshakes: number;
  /** Stops accepting; lets requests in flight finish for `graceMs`, then closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the TLS listener; resolves once it listens. */
export async function startHttpsListener(options: HttpsListenerOptions): Promise<HttpsListener> {
  const log = options.log.child({component: 'https'});
  let refused = 0;
  const lastRefusalLog = {at: Number.NEGATIVE_INFINITY, suppressed: 0};
  const SNICallback = (servername: string, done: (error: Error | null, context?: import('node:tls').SecureContext) => void): void => {
    const context = options.contextOverride?.(servername) ?? options.store.contextFor(servername);
    if (context !== undefined) return done(null, context);
    refused += 1;
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
    // A context without a certificate: OpenSSL ends the handshake with a handshake_failure alert, which clients
    // report clearly ("sslv3 alert handshake failure"), where an error here would only drop the connection.
    done(null, noCertificate);
  };
  const noCertificate = createSecureContext({...TLS_DEFAULTS});
  const tlsOptions = {...TLS_DEFAULTS, SNICallback, honorCipherOrder: false};
  const server: Http2SecureServer | HttpsServer = options.h2 === false
    ? createHttpsServer({...tlsOptions, requestTimeout: 0, headersTimeout: 60_000})
    : createSecureServer({...tlsOptions, allowHTTP1: true});
  const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    // HTTP/2 names the host in :authority; the router routes by Host.
    if (req.headers.host === undefined) {
      const authority = req.headers[':authority'];
      if (typeof authority === 'string') req.headers.host = authority;
    }
    options.handlers.request(req as IncomingMessage, res as ServerResponse);
  };
  server.on('request', onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => options.handlers.upgrade(req, socket, head));
  // A refused or broken handshake is the client's business: no crash, no log line per scanner.
  server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
  // HTTP/1.1 connections (https, or http2's allowHTTP1 fallback, which runs Node's HTTP/1 connection code and reads
  // the same property) close after this much idle time; HTTP/2 sessions after the same.
  const keepAliveMs = options.clientKeepAliveMs ?? 75_000;
  (server as {keepAliveTimeout?: number}).keepAliveTimeout = keepAliveMs;
  if (options.h2 !== false) server.setTimeout(keepAliveMs);
  // What close() must end: HTTP/2 sessions get a GOAWAY, HTTP/1.1 connections close once idle.
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (session: import('node:http2').ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const http1 = new Map<Duplex, number>();
  let closingNow = false;
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    http1.set(socket, 0);
    socket.once('close', () => http1.delete(socket));
  });
  server.prependListener('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket as Duplex;
    http1.set(socket, (http1.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (http1.get(socket) ?? 1) - 1;
      http1.set(socket, left);
      if (closingNow && left === 0) socket.destroy();
    });
  });
  const address = await listenOn(server, options.address);
  log.info('https listening', {uwsgi: `*** kaiser HTTPS router enabled on ${address} (certificates from ${options.store.dir}) ***`, address, h2: options.h2 !== false});

  let closing: Promise<void> | undefined;
  return {
    address,
    get refusedHandshakes() {
      return refused;
    },
    close(graceMs = 5_000) {
      return (closing ??= new Promise<void>((resolve) => {
        closingNow = true;
        const force = setTimeout(() => {
          for (const session of sessions) session.destroy();
          for (const socket of http1.keys()) socket.destroy();
        }, graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        for (const session of sessions) session.close();
        for (const [socket, inflight] of http1) if (inflight === 0) socket.destroy();
      }));
    },
  };
}
