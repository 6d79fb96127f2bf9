/**
 * Checks of the serving options (issue 15) when a config is read: `static-map`, `static-map2` and `mount` need
 * `PREFIX=TARGET` (uWSGI exits at start-up without the `=`), and uWSGI's internal routing options (`route`,
 * `route-run`, `route-host`, `route-uri`, `route-if`, …) are checked rule by rule, so a rule kaiser cannot run stops the vassal before it starts, with the key and the rule, as
 * uWSGI stops at start-up ("unable to register route"): the syntax (`REGEXP ACTION:ARGS`, `ACTION:ARGS` for
 * `route-run`) and the action, which must be one the app server implements (`src/server/python/route_actions.py`
 * has the same list; a test compares them). Regexps are compiled by the worker (Python's `re`, close to PCRE); one
 * that does not compile fails the app's load naming the rule. Called by `checkServerOptions`.
 */
import {configError, configWarning, type Diagnostic} from './diagnostic.js';
import {keyLocator, type OptionCheck} from './option-check.js';

/** The routing options with a subject (a regexp before the action), and `route-run`, which has none. */
export const ROUTE_SUBJECT_OPTIONS = ['route', 'route-host', 'route-uri', 'route-qs', 'route-remote-addr', 'route-user-agent', 'route-referer', 'route-remote-user'] as const;

/** The routing options with a condition before the action (`CONDITION:ARGS ACTION:ARGS`). */
export const ROUTE_CONDITION_OPTIONS = ['route-if', 'route-if-not'] as const;

/** uWSGI's routing conditions, with their aliases (route_conditions.py's CONDITIONS). */
export const ROUTING_CONDITIONS = [
  'exists', 'isfile', 'isdir', 'islink', 'isexec', 'empty', 'equal', 'isequal', 'eq', '==', 'startswith', 'endswith',
  'contains', 'contain', 'regexp', 're', 'ishigher', '>', 'ishigherequal', '>=', 'islower', '<', 'islowerequal', '<=',
  'ipv4in', 'ipv6in',
] as const;

const CONDITIONS = new Set<string>(ROUTING_CONDITIONS);

/** The routing actions kaiser runs (route_actions.py's ACTIONS). */
export const ROUTING_ACTIONS = [
  'continue', 'last', 'break', 'return', 'break-with-status', 'goto',
  'redirect', 'redirect-302', 'redirect-permanent', 'redirect-301', 'rewrite', 'rewrite-last',
  'basicauth', 'basicauth-next', 'addheader', 'delheader', 'remheader', 'addvar',
  'setpathinfo', 'setscriptname', 'setmethod', 'seturi', 'setremoteaddr', 'setdocroot', 'setscheme', 'setuser', 'fixpathinfo',
  'log', 'logvar', 'donotlog', 'donotoffload',
] as const;

const IMPLEMENTED = new Set<string>(ROUTING_ACTIONS);

/** Options of the form PREFIX=TARGET. */
const MAPPING_OPTIONS = ['static-map', 'static-map2', 'mount'] as const;

/** Problems of the serving options in `values`: each names its option and value. */
export const checkServingOptions: OptionCheck = (values, where, origins) => {
  const at = keyLocator(where, origins);
  const problems: Diagnostic[] = [];
  for (const key of MAPPING_OPTIONS) {
    const value = values.get(key);
    for (const line of Array.isArray(value) ? (value as readonly string[]) : []) {
      if (line.includes('=')) continue;
      problems.push(configError(at(key), 'KAISER_CONFIG_BAD_VALUE', {key, reason: `${JSON.stringify(line)}: expected ${key === 'mount' ? '/PATH=APP' : '/URL=DIR'}`}));
    }
  }
  problems.push(...checkRouteOptions(values, where, origins));
  // Only the Python WSGI worker (and its CGI/PHP bridges) runs them; the others have HTTP layers of their own.
  const app = OTHER_APPS.find((name) => values.has(name));
  if (app !== undefined) {
    for (const key of SERVING_KEYS) {
      if (isSet(values.get(key))) problems.push(configWarning(at(key), 'KAISER_CONFIG_NOT_APPLIED', {key}));
    }
  }
  return problems;
};

/** App options whose workers do not run the serving options. */
const OTHER_APPS = ['asgi', 'node-app', 'psgi', 'rack', 'lua'] as const;

/** Every serving option (what a WSGI worker does before and around the app). */
export const SERVING_KEYS = [
  'add-header', 'mount', 'manage-script-name', 'offload-threads', 'static-map', 'static-map2', 'check-static', 'static-index',
  ...ROUTE_SUBJECT_OPTIONS, ...ROUTE_CONDITION_OPTIONS, 'route-run', 'route-label',
] as const;

function isSet(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false && value !== 0;
}

/** Problems of the routing rules in `values`: each names its option and rule. */
export const checkRouteOptions: OptionCheck = (values, where, origins) => {
  const locate = keyLocator(where, origins);
  const problems: Diagnostic[] = [];
  const rulesOf = (key: string): readonly string[] => {
    const value = values.get(key);
    return Array.isArray(value) ? (value as readonly string[]) : [];
  };
  for (const key of [...ROUTE_SUBJECT_OPTIONS, ...ROUTE_CONDITION_OPTIONS, 'route-run']) {
    const at = locate(key);
    for (const rule of rulesOf(key)) {
      const problem = ruleProblem(key, rule);
      if (problem === undefined) continue;
      problems.push(problem.kind === 'action'
        ? configError(at, 'KAISER_CONFIG_ROUTE_ACTION', {key, rule, action: problem.action})
        : configError(at, 'KAISER_CONFIG_BAD_VALUE', {key, reason: `${JSON.stringify(rule)}: ${problem.reason}`}));
    }
  }
  return problems;
};

type RuleProblem = {kind: 'syntax'; reason: string} | {kind: 'action'; action: string};

/** What is wrong with one rule of option `key`, or undefined. */
export function ruleProblem(key: string, rule: string): RuleProblem | undefined {
  let command = rule;
  if (key !== 'route-run') {
    const space = rule.indexOf(' ');
    const conditional = (ROUTE_CONDITION_OPTIONS as readonly string[]).includes(key);
    if (space < 0) return {kind: 'syntax', reason: `invalid route syntax: expected ${conditional ? 'CONDITION:ARGS' : 'REGEXP'} ACTION:ARGS`};
    command = rule.slice(space + 1);
    if (conditional) {
      const condition = rule.slice(0, space);
      const name = condition.includes(':') ? condition.slice(0, condition.indexOf(':')) : undefined;
      if (name === undefined) return {kind: 'syntax', reason: `invalid route condition syntax: expected CONDITION:ARGS before the action`};
      if (!CONDITIONS.has(name)) return {kind: 'syntax', reason: `unknown route condition "${name}" (kaiser runs uWSGI's: ${ROUTING_CONDITIONS.join(', ')})`};
    }
  }
  const colon = command.indexOf(':');
  if (colon < 0) return {kind: 'syntax', reason: `invalid route syntax: the action needs a colon (${command}:)`};
  const action = command.slice(0, colon);
  if (!IMPLEMENTED.has(action)) return {kind: 'action', action};
  if (action.startsWith('basicauth') && !command.includes(',', colon)) {
    return {kind: 'syntax', reason: 'expected basicauth:REALM,USER:PASSWORD or basicauth:REALM,HTPASSWD-FILE'};
  }
  if ((action === 'addvar' || action === 'logvar') && !command.includes('=', colon)) {
    return {kind: 'syntax', reason: `expected ${action}:KEY=VALUE`};
  }
  return undefined;
}
