/**
 * The front router's options on the emperor's command line (`--emperor-http`, `--fastrouter` and the
 * `--emperor-http-*` settings), typed and checked: `--emperor-http-processes` takes a count or `auto` (one per CPU),
 * `--emperor-http-balance` names a balancing mode.
 */
import {availableParallelism} from 'node:os';
import {COMMAND_LINE, configError, type Diagnostic} from './diagnostic.js';
import {findOption} from '../options.js';
import {defaultValue, type OptionValues} from './values.js';

export interface FrontRouterOptions {
  /** `--emperor-http ADDR`. */
  http: string | undefined;
  /** `--fastrouter ADDR`. */
  fastrouter: string | undefined;
  processes: number;
  balance: 'round-robin' | 'least-conn';
  accessLog: string | undefined;
  maxConnections: number;
  headersTimeoutMs: number;
  keepaliveTimeoutMs: number;
  bodyTimeoutMs: number;
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
  failTimeoutMs: number;
  healthCheckPath: string | undefined;
  healthIntervalMs: number;
}

const BALANCE = ['round-robin', 'least-conn'] as const;

/** The router options and any problems with them. */
export function frontRouterOptions(values: OptionValues, origins: ReadonlyMap<string, {file: string}>): {options: FrontRouterOptions; diagnostics: Diagnostic[]} {
  const get = (name: string): unknown => {
    const spec = findOption(name);
    if (spec === undefined) throw new Error(`Internal error: no option ${name}`);
    return values.get(name) ?? defaultValue(spec);
  };
  const diagnostics: Diagnostic[] = [];
  const badValue = (key: string, reason: string) => diagnostics.push(configError(origins.get(key) ?? {file: COMMAND_LINE}, 'KAISER_CONFIG_BAD_VALUE', {key, reason}));
  const processesText = String(get('emperor-http-processes'));
  let processes = 1;
  if (processesText === 'auto') processes = availableParallelism();
  else if (/^\d+$/.test(processesText) && Number(processesText) >= 1 && Number(processesText) <= 256) processes = Number(processesText);
  else badValue('emperor-http-processes', `expected a number of processes (1-256) or auto, got ${JSON.stringify(processesText)}`);
  const balanceText = String(get('emperor-http-balance'));
  const balance = BALANCE.find((b) => b === balanceText);
  if (balance === undefined) badValue('emperor-http-balance', `expected ${BALANCE.join(' or ')}, got ${JSON.stringify(balanceText)}`);
  const ms = (name: string) => Math.round((get(name) as number) * 1000);
  for (const name of ['emperor-http-headers-timeout', 'emperor-http-keepalive-timeout', 'emperor-http-body-timeout', 'emperor-http-timeout', 'emperor-http-connect-timeout', 'emperor-http-health-interval']) {
    if (!((get(name) as number) > 0)) badValue(name, 'expected a number of seconds above 0');
  }
  const maxConnections = get('emperor-http-max-connections') as number;
  if (maxConnections < 0) badValue('emperor-http-max-connections', 'expected 0 (from the descriptor limit) or a positive number');
  const health = get('emperor-http-health-check') as string | undefined;
  if (health !== undefined && !health.startsWith('/')) badValue('emperor-http-health-check', `expected a path starting with /, got ${JSON.stringify(health)}`);
  return {
    options: {
      http: get('emperor-http') as string | undefined,
      fastrouter: get('fastrouter') as string | undefined,
      processes,
      balance: balance ?? 'round-robin',
      accessLog: get('emperor-http-access-log') as string | undefined,
      maxConnections,
      headersTimeoutMs: ms('emperor-http-headers-timeout'),
      keepaliveTimeoutMs: ms('emperor-http-keepalive-timeout'),
      bodyTimeoutMs: ms('emperor-http-body-timeout'),
      upstreamTimeoutMs: ms('emperor-http-timeout'),
      connectTimeoutMs: ms('emperor-http-connect-timeout'),
      failTimeoutMs: ms('emperor-http-fail-timeout'),
      healthCheckPath: health,
      healthIntervalMs: ms('emperor-http-health-interval'),
    },
    diagnostics,
  };
}
