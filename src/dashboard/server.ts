/**
 * The web dashboard (`--dashboard ADDR`): one Node http server, no framework, another front-end to the same
 * `EmperorControl` as the control socket. It serves the page and its assets, a JSON API, server-sent events, and
 * actions, and owns the dashboard's sampler (every SAMPLE_INTERVAL_MS: the rows into `VassalHistory` and a `sample`
 * event) and the batching of transitions into `state` events.
 *
 *   request ──► security headers ──► /api/login? ──► authenticated? ──no──► 401 (the login form for GET /)
 *                                                         │ yes
 *                                                         ▼
 *   GET /, /assets/*, /api/vassals, /api/vassals/NAME, /api/status, /api/events[?follow=NAME]
 *   POST /api/vassals/NAME/{reload,stop,start} ──► X-Requested-With: kaiser? same Origin? ──no──► 403 ──► control
 *
 * Authentication: over TCP a token of the book, as `Authorization: Bearer TOKEN` or the session cookie it was
 * exchanged for at `/api/login`; over a UNIX socket the socket's 0600 permissions. No CORS header is ever sent.
 * Every action is logged with the name of the token that asked.
 *
 * Close: stop the sampler → unsubscribe from transitions → end event streams → stop accepting → end idle connections.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {Socket} from 'node:net';
import type {ControlLog, EmperorControl} from '../control/server.js';
import type {VassalRow} from '../control/protocol.js';
import {err, ok, type Result} from '../result.js';
import {processDescriptors} from '../system/descriptors.js';
import {loadAssets, type Asset} from './assets.js';
import {bearerToken, clearedSessionCookie, cookieValue, SESSION_COOKIE, SessionBook, sessionCookie, type TokenBook} from './auth.js';
import type {EmperorFigures} from './emperor-probe.js';
import {EventStreams, MAX_STREAMS, type Transition, type TransitionSource} from './event-stream.js';
import {SAMPLE_INTERVAL_MS, type VassalHistory} from './history.js';
import {readBody, sendAsset, sendError, sendHtml, sendJson, setSecurityHeaders} from './http-reply.js';
import {listenOn, parseDashboardAddress} from './listen.js';
import {LOGIN_STYLE_SOURCE, loginPage} from './login-page.js';

/** Lines of a vassal's output the vassal page starts with. */
const TAIL_LINES = 200;
/** Connections served at once (live streams included). */
const MAX_CONNECTIONS = 256;
/** Transitions arriving within this window go out as one batch (one `rows()` call for all of them). */
const STATE_BATCH_MS = 20;
/** A refused token is answered after this delay, which slows guessing. */
const REFUSAL_DELAY_MS = 200;
const MAX_LOGIN_BYTES = 4096;
/** The name actions are logged under when the UNIX socket's permissions were the authentication. */
export const UNIX_SOCKET_USER = 'unix-socket';

/** What the dashboard needs. */
export interface DashboardOptions {
  /** A UNIX socket path, or HOST:PORT (port 0 picks one). */
  address: string;
  control: EmperorControl;
  history: VassalHistory;
  /** Every vassal transition (a `TransitionFeed`'s `subscribe`). */
  events: TransitionSource;
  /** Required over TCP; ignored over a UNIX socket. */
  tokens: TokenBook | undefined;
  log: ControlLog;
  /** The emperor's own figures (see `startEmperorProbe`). */
  emperorStats: () => EmperorFigures;
  /** The text of a vassal's file; default: none shown. */
  configOf?: (name: string) => Promise<string | undefined>;
  /** Default SAMPLE_INTERVAL_MS. */
  sampleMs?: number;
}

/** A listening dashboard. */
export interface Dashboard {
  /** HOST:PORT with the real port, or the socket path. */
  readonly address: string;
  /** Stops sampling, ends event streams and closes the server. Idempotent. */
  close(): Promise<void>;
}

type Action = 'reload' | 'stop' | 'start';
const ACTIONS: readonly Action[] = ['reload', 'stop', 'start'];

/** Starts the dashboard. Problems an operator can cause (address in use, TCP without tokens) are values. */
export async function startDashboard(options: DashboardOptions): Promise<Result<Dashboard, string>> {
  const address = parseDashboardAddress(options.address);
  if (!address.ok) return address;
  const overUnix = address.value.kind === 'unix';
  if (!overUnix && options.tokens === undefined) {
    return err(`--dashboard ${options.address}: a TCP dashboard needs --dashboard-token-file FILE (lines of name:token)`);
  }
  let assets: Map<string, Asset>;
  try {
    assets = loadAssets();
  } catch (cause) {
    return err(`cannot read the dashboard's files: ${String(cause)}`);
  }
  const dashboard = new DashboardHandler(options, assets, overUnix);
  const server = createServer({keepAliveTimeout: 5_000, requestTimeout: 30_000}, (request, response) => {
    dashboard.handle(request, response).catch((cause: unknown) => {
      options.log.error('dashboard request failed', {error: String(cause), url: request.url});
      if (!response.headersSent) void sendError(request, response, 500, 'internal error');
      else response.destroy();
    });
  });
  server.on('clientError', (_cause, socket) => socket.destroy());
  // Bounded like every server of the emperor (issue 14): a cap, the descriptor reserve, accept errors survived.
  const descriptors = processDescriptors();
  server.maxConnections = MAX_CONNECTIONS;
  server.on('connection', (socket: Socket) => {
    if (!descriptors.mayOpen()) socket.destroy();
  });
  const listening = await listenOn(server, address.value);
  if (!listening.ok) return listening;
  server.on('error', (cause) => options.log.warn('dashboard listener error', {error: String(cause)}));
  dashboard.start();
  const where = overUnix ? listening.value : `http://${listening.value}/`;
  options.log.info('dashboard', {uwsgi: `*** kaiser dashboard on ${where} ***`, address: listening.value});
  let closing: Promise<void> | undefined;
  return ok({
    address: listening.value,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        dashboard.stop();
        server.close(() => resolve());
        server.closeIdleConnections();
      })),
  });
}

class DashboardHandler {
  readonly #options: DashboardOptions;
  readonly #assets: Map<string, Asset>;
  readonly #overUnix: boolean;
  readonly #sessions = new SessionBook();
  readonly #streams = new EventStreams();
  #figures: EmperorFigures = {rss: 0, cpu: 0, loopLagMs: 0};
  #sampler: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #pending: Transition[] = [];
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(options: DashboardOptions, assets: Map<string, Asset>, overUnix: boolean) {
    this.#options = options;
    this.#assets = assets;
    this.#overUnix = overUnix;
  }

  start(): void {
    this.#unsubscribe = this.#options.events((transition) => this.#onTransition(transition));
    this.#sample();
    this.#sampler = setInterval(() => this.#sample(), this.#options.sampleMs ?? SAMPLE_INTERVAL_MS);
    this.#sampler.unref();
  }

  stop(): void {
    clearInterval(this.#sampler);
    clearTimeout(this.#flushTimer);
    this.#unsubscribe?.();
    this.#streams.close();
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    setSecurityHeaders(response);
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    if (path === '/api/login') return this.#login(request, response);
    const who = this.#authenticate(request);
    if (who === undefined) return this.#refuse(request, response, path);
    if (path === '/api/logout') return this.#logout(request, response);

    const action = /^\/api\/vassals\/([^/]+)\/([a-z]+)$/.exec(path);
    if (action) return this.#action(request, response, decodeName(action[1]!), action[2]!, who);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return sendError(request, response, 405, 'method not allowed');
    }
    if (path === '/') return sendAsset(request, response, this.#assets.get('index.html')!);
    if (path.startsWith('/assets/')) {
      const asset = this.#assets.get(path.slice('/assets/'.length));
      return asset === undefined ? sendError(request, response, 404, 'no such asset') : sendAsset(request, response, asset);
    }
    if (path === '/api/vassals') return sendJson(request, response, 200, this.#options.control.rows());
    if (path === '/api/status') return sendJson(request, response, 200, {...this.#options.control.status(), emperor: this.#figures});
    if (path === '/api/events') return this.#events(request, response, url.searchParams.get('follow'));
    const detail = /^\/api\/vassals\/([^/]+)$/.exec(path);
    if (detail) return this.#detail(request, response, decodeName(detail[1]!));
    return sendError(request, response, 404, 'not found');
  }

  // ── authentication ──────────────────────────────────────────────────────────────────────────

  /** The name of who asks, or undefined. */
  #authenticate(request: IncomingMessage): string | undefined {
    if (this.#overUnix) return UNIX_SOCKET_USER;
    const tokens = this.#options.tokens;
    if (tokens === undefined) return undefined;
    const bearer = bearerToken(request.headers.authorization);
    if (bearer !== undefined) return tokens.verify(bearer);
    const session = cookieValue(request.headers.cookie, SESSION_COOKIE);
    return session === undefined ? undefined : this.#sessions.lookup(session);
  }

  async #refuse(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    if (request.headers.authorization !== undefined) await delay(REFUSAL_DELAY_MS);
    response.setHeader('WWW-Authenticate', 'Bearer realm="kaiser"');
    if (path === '/' && (request.method === 'GET' || request.method === 'HEAD')) {
      response.setHeader('Content-Security-Policy', loginCsp());
      return sendHtml(response, 401, loginPage(false));
    }
    return sendError(request, response, 401, 'authentication required: Authorization: Bearer TOKEN, or sign in at /');
  }

  /** Token → session cookie. A form post is answered with a redirect to `/`, a JSON post with `{ok, name}`. */
  async #login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') return postOnly(request, response);
    const origin = checkOrigin(request);
    if (origin !== undefined) return sendError(request, response, 403, origin);
    const isForm = (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    if (this.#overUnix) return isForm ? redirectHome(response) : sendJson(request, response, 200, {ok: true, name: UNIX_SOCKET_USER});
    const body = await readBody(request, MAX_LOGIN_BYTES);
    const token = body === undefined ? undefined : tokenOf(body, isForm);
    const name = token === undefined ? undefined : this.#options.tokens?.verify(token);
    if (name === undefined) {
      this.#options.log.warn('dashboard login refused', {uwsgi: `[dashboard] login refused from ${remoteOf(request)}`, remote: remoteOf(request)});
      await delay(REFUSAL_DELAY_MS);
      if (isForm) {
        response.setHeader('Content-Security-Policy', loginCsp());
        return sendHtml(response, 401, loginPage(true));
      }
      return sendError(request, response, 401, 'wrong token');
    }
    response.setHeader('Set-Cookie', sessionCookie(this.#sessions.open(name)));
    this.#options.log.info('dashboard login', {uwsgi: `[dashboard] ${name} signed in from ${remoteOf(request)}`, by: name});
    return isForm ? redirectHome(response) : sendJson(request, response, 200, {ok: true, name});
  }

  async #logout(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') return postOnly(request, response);
    const refusal = checkActionHeaders(request);
    if (refusal !== undefined) return sendError(request, response, 403, refusal);
    const session = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (session !== undefined) this.#sessions.close(session);
    response.setHeader('Set-Cookie', clearedSessionCookie());
    return sendJson(request, response, 200, {ok: true});
  }

  // ── API ─────────────────────────────────────────────────────────────────────────────────────

  async #action(request: IncomingMessage, response: ServerResponse, asked: string, verb: string, who: string): Promise<void> {
    if (!(ACTIONS as readonly string[]).includes(verb)) return sendError(request, response, 404, 'not found');
    if (request.method !== 'POST') return postOnly(request, response, 'actions are POST only');
    const refusal = checkActionHeaders(request);
    if (refusal !== undefined) {
      this.#options.log.warn('dashboard action refused', {uwsgi: `[dashboard] refused ${verb} of ${asked} by ${who}: ${refusal}`, by: who, action: verb, reason: refusal});
      return sendError(request, response, 403, refusal);
    }
    const name = resolveVassalName(this.#options.control.rows(), asked);
    if (name === undefined) return sendError(request, response, 404, `no vassal named ${asked}`);
    const action = verb as Action;
    const outcome = this.#options.control[action](name);
    const fields = {by: who, action, vassal: name, ok: outcome.ok, ...(outcome.ok ? {} : {error: outcome.error})};
    this.#options.log.info('dashboard action', {
      uwsgi: `[dashboard] ${who} asked to ${action} ${name}: ${outcome.ok ? 'done' : `refused (${outcome.error})`}`,
      ...fields,
    });
    return outcome.ok
      ? sendJson(request, response, 200, {ok: true, vassal: name, action})
      : sendError(request, response, 409, `cannot ${action} ${name}: ${outcome.error}`);
  }

  async #detail(request: IncomingMessage, response: ServerResponse, asked: string): Promise<void> {
    const rows = this.#options.control.rows();
    const name = resolveVassalName(rows, asked);
    const row = rows.find((r) => r.name === name);
    if (name === undefined || row === undefined) return sendError(request, response, 404, `no vassal named ${asked}`);
    const tail = this.#options.control.logTail(name, TAIL_LINES);
    const config = (await this.#options.configOf?.(name)) ?? null;
    return sendJson(request, response, 200, {
      ...row,
      history: {samples: this.#options.history.samples(name), transitions: this.#options.history.transitions(name)},
      config,
      logs: tail.ok ? tail.value : [],
    });
  }

  #events(request: IncomingMessage, response: ServerResponse, follow: string | null): Promise<void> | void {
    if (this.#streams.size >= MAX_STREAMS) return sendError(request, response, 503, 'too many event streams');
    let followed: string | undefined;
    if (follow !== null) {
      followed = resolveVassalName(this.#options.control.rows(), follow);
      if (followed === undefined) return sendError(request, response, 404, `no vassal named ${follow}`);
    }
    let unfollow: (() => void) | undefined;
    const send = this.#streams.open(response, () => unfollow?.());
    send('status', {...this.#options.control.status(), emperor: this.#figures});
    if (followed === undefined) return;
    const vassal = followed;
    const tail = this.#options.control.logTail(vassal, TAIL_LINES);
    send('logs', {vassal, lines: tail.ok ? tail.value : []});
    const following = this.#options.control.followLogs(vassal, (line) => send('log', {vassal, line}));
    if (following.ok) unfollow = following.value;
  }

  // ── live feed ───────────────────────────────────────────────────────────────────────────────

  #sample(): void {
    this.#figures = this.#options.emperorStats();
    const rows = this.#options.control.rows();
    const at = Date.now();
    this.#options.history.record(at, rows);
    this.#streams.broadcast('sample', {
      at,
      emperor: this.#figures,
      vassals: rows.map((r) => [r.name, r.cpu, r.rss]),
    });
  }

  #onTransition(transition: Transition): void {
    this.#pending.push(transition);
    this.#flushTimer ??= setTimeout(() => this.#flush(), STATE_BATCH_MS);
  }

  #flush(): void {
    this.#flushTimer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    const rows = new Map(this.#options.control.rows().map((row) => [row.name, row]));
    for (const t of batch) {
      const row = rows.get(t.vassal);
      const error = t.event === 'EXIT' && row?.lastError ? row.lastError : undefined;
      this.#options.history.recordTransition(t.vassal, {at: t.at, from: t.from, to: t.to, event: t.event, ...(error ? {error} : {})});
      this.#streams.broadcast('state', {...t, row: row ?? null});
    }
  }
}

/** The vassal an operator means: the exact name, else the only vassal whose name without `.ini`/`.toml` matches. */
export function resolveVassalName(rows: readonly Pick<VassalRow, 'name'>[], asked: string): string | undefined {
  if (rows.some((row) => row.name === asked)) return asked;
  const matches = rows.filter((row) => row.name.replace(/\.(ini|toml)$/, '') === asked);
  return matches.length === 1 ? matches[0]!.name : undefined;
}

/** Why an action request is refused (missing header, other origin), or undefined when it may go on. */
export function checkActionHeaders(request: IncomingMessage): string | undefined {
  if (request.headers['x-requested-with'] !== 'kaiser') return 'actions need the header X-Requested-With: kaiser';
  return checkOrigin(request);
}

/** Why the Origin (or Sec-Fetch-Site) shows another site, or undefined when it is the same origin or absent. */
function checkOrigin(request: IncomingMessage): string | undefined {
  const origin = request.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host === undefined || host === '' || host !== request.headers.host) return `cross-origin request from ${origin.slice(0, 100)} refused`;
    return undefined;
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross-site request refused';
  return undefined;
}

function tokenOf(body: string, isForm: boolean): string | undefined {
  if (isForm) return new URLSearchParams(body).get('token')?.trim() || undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const token = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['token'] : undefined;
    return typeof token === 'string' ? token : undefined;
  } catch {
    return undefined;
  }
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The 405 of an endpoint that changes something: `Allow: POST`. */
function postOnly(request: IncomingMessage, response: ServerResponse, error = 'method not allowed'): Promise<void> {
  response.setHeader('Allow', 'POST');
  return sendError(request, response, 405, error);
}

function redirectHome(response: ServerResponse): void {
  response.writeHead(303, {Location: '/', 'Content-Length': 0, 'Cache-Control': 'no-store'});
  response.end();
}

function loginCsp(): string {
  return `default-src 'none'; style-src ${LOGIN_STYLE_SOURCE}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
}

function remoteOf(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unix socket';
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
