/**
 * Optional active health checks (`--emperor-http-health-check PATH`): every interval each router process sends
 * `GET PATH` with `Host: <the member's first domain>` to every HTTP member on a fresh connection. A member that
 * refuses, resets, times out or answers 5xx is skipped until a later check passes (nginx Plus's `health_check`);
 * passive health (`pool-table.ts`) works without it.
 */
import {request} from 'node:http';
import type {Logger} from '../log/logger.js';
import type {Member, Routing} from './pool-table.js';
import {upstreamKey} from './hosts-and-upstreams.js';

export class HealthChecker {
  readonly #routing: Routing;
  readonly #path: string;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  readonly #inFlight = new Set<Member>();

  constructor(routing: Routing, path: string, intervalMs: number, log: Logger) {
    this.#routing = routing;
    this.#path = path.startsWith('/') ? path : `/${path}`;
    this.#log = log;
    this.#timer = setInterval(() => this.#checkAll(intervalMs), intervalMs);
    this.#timer.unref();
  }

  #checkAll(timeoutMs: number): void {
    for (const member of this.#routing.members()) {
      if (member.protocol !== 'http' || this.#inFlight.has(member) || member.state !== 'ready') continue;
      this.#inFlight.add(member);
      void this.#check(member, Math.max(1_000, timeoutMs)).then((failure) => {
        this.#inFlight.delete(member);
        const failed = failure !== undefined;
        if (failed !== member.checkFailed) {
          const where = upstreamKey(member.upstream);
          if (failed) this.#log.warn('health check failed', {uwsgi: `[router] health check of vassal ${member.vassal} at ${where} failed: ${failure}; skipped until it passes`, vassal: member.vassal});
          else this.#log.info('health check passed', {uwsgi: `[router] health check of vassal ${member.vassal} at ${where} passes again`, vassal: member.vassal});
        }
        member.checkFailed = failed;
      });
    }
  }

  /** Resolves undefined when the member is healthy, else why not. */
  #check(member: Member, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const upstream = member.upstream;
      const req = request({
        ...('socketPath' in upstream ? {socketPath: upstream.socketPath} : {host: upstream.host, port: upstream.port}),
        path: this.#path,
        headers: {host: member.domain ?? 'localhost', 'user-agent': 'kaiser-health-check', connection: 'close'},
        agent: false,
        timeout: timeoutMs,
      });
      req.on('response', (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) >= 500 ? `answered ${res.statusCode ?? 0}` : undefined);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      req.end();
    });
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
