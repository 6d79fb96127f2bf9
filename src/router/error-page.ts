/**
 * The small pages the front router answers with itself: 404 for a Host no vassal serves, 400 without a Host, and
 * 502/503 when the vassal cannot answer. Plain and short, naming the vassal and its state so an operator reading a
 * browser tab knows where to look.
 */
import type {ServerResponse} from 'node:http';

/** Why the router answered instead of the vassal. */
export type RouterFailure =
  | {kind: 'no-host'}
  | {kind: 'unknown-host'; host: string}
  /** The vassal is not in a state that serves (starting, backoff, stopped…), or could not be woken. */
  | {kind: 'unavailable'; vassal: string; state: string; cause: string}
  /** The vassal should be serving but its socket refused, reset or timed out. */
  | {kind: 'bad-gateway'; vassal: string; state: string; cause: string}
  /** The request cannot be carried to the upstream (a uwsgi packet holds 64 KiB of headers; chunked bodies are bounded). */
  | {kind: 'refused'; status: 413 | 431; cause: string};

/** The status code for a failure. */
export function statusOf(failure: RouterFailure): number {
  switch (failure.kind) {
    case 'no-host':
      return 400;
    case 'unknown-host':
      return 404;
    case 'unavailable':
      return 503;
    case 'bad-gateway':
      return 502;
    case 'refused':
      return failure.status;
    default: {
      const never: never = failure;
      throw new Error(`Internal error: unknown router failure ${JSON.stringify(never)}`);
    }
  }
}

/** Writes the answer for `failure` (keeps the client connection open unless the request body was left unread). */
export function sendFailure(res: ServerResponse, failure: RouterFailure): void {
  const status = statusOf(failure);
  const {type, body} = bodyOf(failure);
  const headers: Record<string, string | number> = {'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store'};
  // A starting vassal is worth retrying shortly; browsers and curl --retry honour this.
  if (failure.kind === 'unavailable') headers['retry-after'] = 1;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function bodyOf(failure: RouterFailure): {type: string; body: string} {
  switch (failure.kind) {
    case 'no-host':
      return {type: 'text/plain; charset=utf-8', body: 'no Host header: kaiser routes by Host\n'};
    case 'unknown-host':
      return {type: 'text/plain; charset=utf-8', body: `no vassal serves ${failure.host}\n`};
    case 'unavailable':
      return page(503, 'Service Unavailable', failure.vassal, failure.state, failure.cause);
    case 'bad-gateway':
      return page(502, 'Bad Gateway', failure.vassal, failure.state, failure.cause);
    case 'refused':
      return {type: 'text/plain; charset=utf-8', body: `${failure.cause}\n`};
    default: {
      const never: never = failure;
      throw new Error(`Internal error: unknown router failure ${JSON.stringify(never)}`);
    }
  }
}

function page(status: number, title: string, vassal: string, state: string, cause: string): {type: string; body: string} {
  const body =
    `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${title}</title></head><body>` +
    `<h1>${status} ${title}</h1><p>vassal <b>${escapeHtml(vassal)}</b> is ${escapeHtml(state)}: ${escapeHtml(cause)}</p>` +
    `<hr><p>kaiser</p></body></html>\n`;
  return {type: 'text/html; charset=utf-8', body};
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
