/**
 * What a router process answers itself on behalf of HTTPS, before a request reaches a pool: the ACME HTTP-01
 * challenge (`GET /.well-known/acme-challenge/TOKEN`, RFC 8555 §8.3, for any Host: the emperor's ACME orders leave
 * the answers as files in `SNI-DIR/.acme/challenges/`, so every router process serves them without being told), and
 * the redirect of `https-redirect` pools' plain-HTTP requests to HTTPS (308, so a POST stays a POST).
 * Both are whole raw HTTP/1.1 responses, written as the router's own error pages are.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {RequestHead} from '../request-head.js';
import {normalizeHost} from '../hosts-and-upstreams.js';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** base64url, as ACME tokens are (RFC 8555 §8.1: at least 128 bits of entropy). */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** A response the router writes itself. */
export interface LocalAnswer {
  readonly status: number;
  /** The whole response (head and body), latin1. */
  readonly text: string;
  readonly bodyBytes: number;
}

export class LocalAnswers {
  /** The HTTPS listener's port (443 is left out of redirects); undefined: no HTTPS listener, no redirects. */
  httpsPort: number | undefined;
  readonly #challengeDir: string | undefined;

  constructor(challengeDir: string | undefined, httpsPort?: number) {
    this.#challengeDir = challengeDir;
    this.httpsPort = httpsPort;
  }

  /** The answer to an ACME challenge request, or undefined when the request is not one (or ACME is off). */
  challenge(head: RequestHead, keepAlive: boolean): LocalAnswer | undefined {
    if (this.#challengeDir === undefined || !head.target.startsWith(CHALLENGE_PREFIX) || (head.method !== 'GET' && head.method !== 'HEAD')) return undefined;
    const token = head.target.slice(CHALLENGE_PREFIX.length).split('?')[0] ?? '';
    let answer: string | undefined;
    if (TOKEN.test(token)) {
      try {
        answer = readFileSync(join(this.#challengeDir, token), 'latin1');
      } catch {
        answer = undefined;
      }
    }
    return respond(answer === undefined ? 404 : 200, {'content-type': 'text/plain', 'cache-control': 'no-store'}, answer ?? 'no such ACME challenge\n', head, keepAlive);
  }

  /** The 308 to HTTPS for a plain-HTTP request, or undefined without an HTTPS listener. */
  redirect(head: RequestHead, keepAlive: boolean): LocalAnswer | undefined {
    if (this.httpsPort === undefined) return undefined;
    const location = httpsLocation(head.host, head.target, this.httpsPort);
    return respond(308, {location, 'content-type': 'text/plain'}, `redirecting to ${location}\n`, head, keepAlive);
  }
}

/** `https://HOST[:PORT]/path?query` for a request that came over plain HTTP. */
export function httpsLocation(hostHeader: string, target: string, httpsPort: number): string {
  let host = normalizeHost(hostHeader);
  if (host.includes(':')) host = `[${host}]`;
  return `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${target.startsWith('/') ? target : `/${target}`}`;
}

function respond(status: number, headers: Record<string, string>, body: string, head: RequestHead, keepAlive: boolean): LocalAnswer {
  const length = Buffer.byteLength(body, 'latin1');
  let text = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : status === 308 ? 'Permanent Redirect' : 'Not Found'}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  text += `content-length: ${length}\r\n`;
  if (!keepAlive) text += 'connection: close\r\n';
  else if (head.minor === 0) text += 'connection: keep-alive\r\n';
  const headOnly = head.method === 'HEAD';
  return {status, text: `${text}\r\n${headOnly ? '' : body}`, bodyBytes: headOnly ? 0 : length};
}
