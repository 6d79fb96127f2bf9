/**
 * The small answers the front router gives itself: 404 for a Host no vassal serves, 400 for a request it will not
 * forward, 408 when a client is too slow, 502/503/504 when the backend cannot answer. Plain and short, naming the
 * vassal and its state so an operator reading a browser tab knows where to look. Built as whole raw HTTP/1.1
 * responses: the router processes write them in one go.
 */

/** Why the router answered instead of a backend. */
export type RouterFailure =
  | {kind: 'no-host'}
  | {kind: 'bad-request'; status: 400 | 431 | 501 | 505; reason: string}
  | {kind: 'timeout'; status: 408; reason: string}
  | {kind: 'unknown-host'; host: string}
  /** No member of the pool is in a state that serves (starting, backoff, stopped…). */
  | {kind: 'unavailable'; vassal: string; state: string; cause: string}
  /** The backend should be serving but its socket refused, reset or broke the protocol. */
  | {kind: 'bad-gateway'; vassal: string; state: string; cause: string}
  | {kind: 'gateway-timeout'; vassal: string; state: string; cause: string}
  /** The request cannot be carried to the upstream (a uwsgi packet holds 64 KiB of headers; chunked bodies are bounded). */
  | {kind: 'refused'; status: 413 | 431; cause: string};

const REASONS: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 413: 'Content Too Large', 431: 'Request Header Fields Too Large',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

/** The status code for a failure. */
export function statusOf(failure: RouterFailure): number {
  switch (failure.kind) {
    case 'no-host':
      return 400;
    case 'bad-request':
    case 'timeout':
      return failure.status;
    case 'unknown-host':
      return 404;
    case 'unavailable':
      return 503;
    case 'bad-gateway':
      return 502;
    case 'refused':
      return failure.status;
    case 'gateway-timeout':
      return 504;
    default: {
      const never: never = failure;
      throw new Error(`Internal error: unknown router failure ${JSON.stringify(never)}`);
    }
  }
}

/** The whole response for `failure`; `close` adds `Connection: close`; `headOnly` leaves the body out (HEAD). */
export function failureResponse(failure: RouterFailure, {close, headOnly}: {close: boolean; headOnly: boolean}): {status: number; text: string; bodyBytes: number} {
  const status = statusOf(failure);
  const {type, body} = bodyOf(failure);
  const length = Buffer.byteLength(body);
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: ${type}\r\ncontent-length: ${length}\r\ncache-control: no-store\r\n`;
  // A starting vassal is worth retrying shortly; browsers and curl --retry honour this.
  if (failure.kind === 'unavailable') head += 'retry-after: 1\r\n';
  if (close) head += 'connection: close\r\n';
  return {status, text: `${head}\r\n${headOnly ? '' : body}`, bodyBytes: headOnly ? 0 : length};
}

function bodyOf(failure: RouterFailure): {type: string; body: string} {
  switch (failure.kind) {
    case 'no-host':
      return {type: 'text/plain; charset=utf-8', body: 'no Host header: kaiser routes by Host\n'};
    case 'bad-request':
      return {type: 'text/plain; charset=utf-8', body: `bad request: ${failure.reason}\n`};
    case 'timeout':
      return {type: 'text/plain; charset=utf-8', body: `${failure.reason}\n`};
    case 'unknown-host':
      return {type: 'text/plain; charset=utf-8', body: `no vassal serves ${failure.host}\n`};
    case 'unavailable':
      return page(503, failure.vassal, failure.state, failure.cause);
    case 'bad-gateway':
      return page(502, failure.vassal, failure.state, failure.cause);
    case 'refused':
      return {type: 'text/plain; charset=utf-8', body: `${failure.cause}\n`};
    case 'gateway-timeout':
      return page(504, failure.vassal, failure.state, failure.cause);
    default: {
      const never: never = failure;
      throw new Error(`Internal error: unknown router failure ${JSON.stringify(never)}`);
    }
  }
}

function page(status: number, vassal: string, state: string, cause: string): {type: string; body: string} {
  const title = `${status} ${REASONS[status] ?? 'Error'}`;
  const body =
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>` +
    `<h1>${title}</h1><p>vassal <b>${escapeHtml(vassal)}</b> is ${escapeHtml(state)}: ${escapeHtml(cause)}</p>` +
    `<hr><p>kaiser</p></body></html>\n`;
  return {type: 'text/html; charset=utf-8', body};
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
