/**
 * Small HTTP helpers of the dashboard: the security headers every response carries (a strict CSP, no framing, no
 * sniffing, no referrer to other origins, and never a CORS header), JSON and asset replies gzip-compressed when the client accepts it,
 * and a bounded request-body reader.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {promisify} from 'node:util';
import {gzip} from 'node:zlib';
import type {Asset} from './assets.js';

const gzipAsync = promisify(gzip);
/** JSON smaller than this is sent as is: compressing it saves less than the headers cost. */
const GZIP_MIN_BYTES = 1024;

/** The CSP of the application page: own scripts, styles and connections only. */
export const APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Headers on every response. */
export function setSecurityHeaders(response: ServerResponse, csp: string = APP_CSP): void {
  response.setHeader('Content-Security-Policy', csp);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('X-Frame-Options', 'DENY');
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the sign-in form's POST.
  response.setHeader('Referrer-Policy', 'same-origin');
  response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

/** Whether the client takes gzip. */
export function acceptsGzip(request: IncomingMessage): boolean {
  const header = request.headers['accept-encoding'];
  return typeof header === 'string' && /\bgzip\b/i.test(header);
}

/** Sends `value` as JSON (no caching). */
export async function sendJson(request: IncomingMessage, response: ServerResponse, status: number, value: unknown): Promise<void> {
  const body = Buffer.from(JSON.stringify(value));
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.setHeader('Vary', 'Accept-Encoding');
  if (body.length >= GZIP_MIN_BYTES && acceptsGzip(request)) {
    const zipped = await gzipAsync(body);
    response.setHeader('Content-Encoding', 'gzip');
    response.writeHead(status, {'Content-Length': zipped.length});
    response.end(zipped);
    return;
  }
  response.writeHead(status, {'Content-Length': body.length});
  response.end(body);
}

/** Sends an error as `{ok: false, error}`. */
export function sendError(request: IncomingMessage, response: ServerResponse, status: number, error: string): Promise<void> {
  return sendJson(request, response, status, {ok: false, error});
}

/** Sends a static asset, answering 304 to a matching If-None-Match. */
export function sendAsset(request: IncomingMessage, response: ServerResponse, asset: Asset): void {
  response.setHeader('ETag', asset.etag);
  // Revalidated on each load: an upgrade of kaiser changes the files behind the same names.
  response.setHeader('Cache-Control', 'private, no-cache');
  response.setHeader('Vary', 'Accept-Encoding');
  if (request.headers['if-none-match'] === asset.etag) {
    response.writeHead(304);
    response.end();
    return;
  }
  response.setHeader('Content-Type', asset.contentType);
  if (acceptsGzip(request)) {
    response.setHeader('Content-Encoding', 'gzip');
    response.writeHead(200, {'Content-Length': asset.gzipped.length});
    response.end(asset.gzipped);
    return;
  }
  response.writeHead(200, {'Content-Length': asset.body.length});
  response.end(asset.body);
}

/** Sends an HTML page. */
export function sendHtml(response: ServerResponse, status: number, html: string): void {
  const body = Buffer.from(html);
  response.setHeader('Cache-Control', 'no-store');
  response.writeHead(status, {'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length});
  response.end(body);
}

/** Reads a request body of at most `limitBytes`; undefined when it is longer or the request fails. */
export function readBody(request: IncomingMessage, limitBytes: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', () => resolve(undefined));
  });
}
