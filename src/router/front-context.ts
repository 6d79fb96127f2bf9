/**
 * What every connection of a router process shares: the pools, the upstream connections, the settings, the logs,
 * and the answers it gives itself (ACME challenges, HTTPS redirects).
 * One object, built by `http-front.ts`, passed to each client connection and exchange (no module state).
 */
import type {Logger} from '../log/logger.js';
import type {AccessLog} from './access-log.js';
import type {FailureLog} from './failure-log.js';
import type {Routing} from './pool-table.js';
import type {RouterSettings} from './router-messages.js';
import type {LocalAnswers} from './tls/local-answers.js';
import type {UpstreamPool} from './upstream-pool.js';

export interface FrontContext {
  readonly routing: Routing;
  readonly upstreams: UpstreamPool;
  readonly settings: RouterSettings;
  readonly log: Logger;
  readonly accessLog: AccessLog | undefined;
  readonly failures: FailureLog;
  /** ACME challenge answers and HTTPS redirects, answered before routing. */
  readonly answers: LocalAnswers;
}
