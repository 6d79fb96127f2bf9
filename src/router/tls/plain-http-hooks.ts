/**
 * What the front router answers itself on behalf of HTTPS: the ACME HTTP-01 challenge
 * (`GET /.well-known/acme-challenge/TOKEN`, RFC 8555 §8.3, for any Host) and the redirect of `https-redirect`
 * vassals' plain-HTTP requests (308, so a POST stays a POST). Both run before routing.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {normalizeHost} from '../route-table.js';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** base64url, as ACME tokens are (RFC 8555 §8.1: at least 128 bits of entropy). */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** Whether the request asks for an ACME challenge (over plain HTTP, where CAs look). */
export function isAcmeChallenge(req: IncomingMessage): boolean {
  return req.url !== undefined && req.url.startsWith(CHALLENGE_PREFIX) && (req.method === 'GET' || req.method === 'HEAD');
}

/** Answers a challenge request: the key authorization as text/plain, or 404 for a token nobody asked for. */
export function answerChallenge(req: IncomingMessage, res: ServerResponse, keyAuthorizationOf: (token: string) => string | undefined): void {
  const token = (req.url ?? '').slice(CHALLENGE_PREFIX.length).split('?')[0] ?? '';
  const answer = TOKEN.test(token) ? keyAuthorizationOf(token) : undefined;
  const body = answer ?? 'no such ACME challenge\n';
  res.writeHead(answer === undefined ? 404 : 200, {'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store'});
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** `https://HOST[:PORT]/path?query` for a request that came over plain HTTP. */
export function httpsRedirectLocation(hostHeader: string, url: string, httpsPort: number): string {
  let host = normalizeHost(hostHeader);
  if (host.includes(':')) host = `[${host}]`;
  return `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${url.startsWith('/') ? url : `/${url}`}`;
}

/** Sends a 308 to `location`. */
export function redirect(res: ServerResponse, location: string): void {
  const body = `redirecting to ${location}\n`;
  res.writeHead(308, {location, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body)});
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Whether the request came over TLS. */
export function isEncrypted(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}
