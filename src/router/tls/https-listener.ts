/**
 * The HTTPS front of a router process (`--emperor-https ADDR`): a TLS server on the socket the emperor sent, which
 * picks each connection's certificate by SNI from the sni-dir (`sni-store.ts`, read by every router process itself:
 * the files are the truth), then hands the decrypted connection on by the protocol ALPN chose:
 *
 *   ClientHello ──SNI name──► SniStore.contextFor ──► context ──► handshake ──ALPN──► h2 ──► h2-bridge ──┐
 *                   │                                  none                    └──► http/1.1 ──────────┴──► HttpFront.accept
 *                   └── no SNI ──► no certificate ◄────┘  handshake_failure alert, never another tenant's cert
 *
 * HTTP/1.1 connections go to the plain front unchanged (a TLSSocket is a net.Socket), HTTP/2 streams through the
 * bridge as one HTTP/1.1 exchange each: routing, pools, errors, timeouts, the access log are one code path whatever
 * the transport.
 *
 * Modern defaults, as Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy,
 * the client's cipher preference (clients know whether they have AES hardware). The session ticket keys come from
 * the emperor, the same in every router process, so a client resumes its session whichever process SO_REUSEPORT
 * hands its next connection to.
 */
import type {Server} from 'node:net';
import {createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket} from 'node:tls';
import {formatError} from '../../errors.js';
import type {Logger} from '../../log/logger.js';
import type {HttpFront} from '../http-front.js';
import {H2Bridge} from './h2-bridge.js';
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

export interface HttpsFrontOptions {
  readonly store: SniStore;
  /** Where decrypted HTTP/1.1 connections (and HTTP/2 streams, bridged) go. */
  readonly front: HttpFront;
  readonly log: Logger;
  /** Offer HTTP/2 by ALPN. */
  readonly h2: boolean;
  /** 48 bytes shared by every router process. */
  readonly ticketKeys: Buffer;
  /** A TLS handshake must be done within this long (nginx counts it in client_header_timeout). */
  readonly handshakeTimeoutMs: number;
}

/** The SNI callback: the name's context, or one without a certificate (a handshake_failure alert). */
function sniCallbackOf(store: SniStore, log: Logger, onRefused: () => void) {
  const lastRefusalLog = {at: Number.NEGATIVE_INFINITY, suppressed: 0};
  // OpenSSL ends a handshake on a context without a certificate with a handshake_failure alert, which clients report
  // clearly ("sslv3 alert handshake failure"), where an error here would only drop the connection.
  const noCertificate = createSecureContext({...TLS_DEFAULTS});
  return (servername: string, done: (error: Error | null, context?: SecureContext) => void): void => {
    const context = store.contextFor(servername);
    if (context !== undefined) return done(null, context);
    onRefused();
    const now = Date.now();
    if (now - lastRefusalLog.at >= 1_000) {
      log.warn('no certificate for name', {
        uwsgi: `[https] ${formatError('KAISER_TLS_UNKNOWN_NAME', {name: JSON.stringify(servername), dir: store.dir})}${lastRefusalLog.suppressed ? ` (+${lastRefusalLog.suppressed} more)` : ''}`,
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

/** The TLS listeners of one router process. */
export class HttpsFront {
  readonly #options: HttpsFrontOptions;
  readonly #servers: Server[] = [];
  readonly #bridge: H2Bridge | undefined;
  #refused = 0;

  constructor(options: HttpsFrontOptions) {
    this.#options = options;
    this.#bridge = options.h2 ? new H2Bridge(options.front, options.log) : undefined;
  }

  /** Handshakes refused because no certificate matched the name, since start. */
  get refusedHandshakes(): number {
    return this.#refused;
  }

  /** Serves a listening socket handle (from the emperor), or a `{port, host}` (tests). */
  listen(handle: object): Promise<Server> {
    const {store, log, front} = this.#options;
    const server = createTlsServer({
      ...TLS_DEFAULTS,
      SNICallback: sniCallbackOf(store, log, () => (this.#refused += 1)),
      honorCipherOrder: false,
      ALPNProtocols: this.#bridge !== undefined ? ['h2', 'http/1.1'] : ['http/1.1'],
      handshakeTimeout: this.#options.handshakeTimeoutMs,
      noDelay: true,
    });
    server.setTicketKeys(this.#options.ticketKeys);
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2' && this.#bridge !== undefined) this.#bridge.accept(socket);
      else front.accept(socket, true);
    });
    // A refused or broken handshake is the client's business: no crash, no log line per scanner.
    server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(handle, () => {
        server.off('error', reject);
        server.on('error', (error) => log.warn('https listener error', {uwsgi: `[https] listener error: ${error.message}`}));
        resolve(server);
      });
    });
  }

  /** Stops accepting; HTTP/2 sessions finish their streams (HTTP/1.1 connections are the front's to close). */
  close(): void {
    for (const server of this.#servers) server.close();
    this.#bridge?.close();
  }
}
