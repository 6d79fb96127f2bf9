/**
 * The error catalogue: every error kaiser reports to an operator, by code. A code names one situation for good:
 * add codes freely, never rename or reuse one. Each code has a section in `docs/errors.md` (a test keeps them in
 * step). Templates use `{placeholders}`; `formatError` fills them, and the compiler checks that every placeholder of
 * the chosen code is given.
 */

/** Every error kaiser reports to an operator. Add freely; never rename or reuse a code. */
export const ERRORS = {
  // ── usage ─────────────────────────────────────────────────────────────────────────────────
  KAISER_USAGE: '{reason}',

  // ── configuration (vassal files, --ini/--toml, command line values) ──────────────────────
  KAISER_CONFIG_UNKNOWN_KEY: 'unknown option "{key}"{suggestion}',
  KAISER_CONFIG_UNSUPPORTED: 'uWSGI option "{key}" is not supported by kaiser{hint}',
  KAISER_CONFIG_BAD_VALUE: 'bad value for "{key}": {reason}',
  KAISER_CONFIG_PARSE: 'cannot parse {format}: {reason}',
  KAISER_CONFIG_UNREADABLE: 'cannot read {file}: {cause}',
  KAISER_CONFIG_TOO_LARGE: 'config file is {sizeBytes} bytes, larger than the {limitBytes}-byte limit',
  KAISER_CONFIG_NOT_A_FILE: '{file} is {what}, not a regular file: it is not read',
  KAISER_CONFIG_FORMAT: 'unsupported config file type "{extension}" (use .ini or .toml)',
  KAISER_CONFIG_NO_APP: 'nothing to run: {reason}',
  KAISER_CONFIG_CONFLICT: '"{key}" cannot be combined with "{other}": {reason}',
  KAISER_CONFIG_WRONG_SCOPE: 'option "{key}" does not apply to {context}: it is for {scopes}',
  KAISER_CONFIG_NO_SOCKET: 'an app-server vassal needs a socket: set http, http-socket or socket',
  KAISER_CONFIG_NO_SECTION: 'no [{section}] section in this ini file',
  KAISER_CONFIG_ROUTE_ACTION: 'routing action "{action}" of {key} = {rule} is not implemented by kaiser (docs/uwsgi-compat.md lists the actions it runs)',
  // uWSGI config semantics (src/config/ini-reading.ts, expansion.ts, logic-blocks.ts)
  KAISER_CONFIG_EXPANSION: 'cannot expand "{key}": {reason}',
  KAISER_CONFIG_INCLUDE: 'cannot include "{target}": {reason}',
  KAISER_CONFIG_LOGIC: 'config logic: {reason}',
  KAISER_CONFIG_NOT_APPLIED: 'uWSGI option "{key}" is accepted but not applied yet by this kaiser version',

  // ── running vassals ───────────────────────────────────────────────────────────────────────
  KAISER_SOCKET_BIND_FAILED: 'cannot bind {address}: {cause}',
  KAISER_VASSAL_RELOAD_FAILED: 'reload failed, the previous instance keeps serving: {cause}',
  KAISER_VASSAL_START_FAILED: 'vassal {vassal} is not serving ({state}): {cause}',
  KAISER_VASSAL_OVER_MEMORY_LIMIT: 'killed: over memory-limit {limitMb} MB',
  // containment and bounded work (src/emperor/containment.ts, src/util/output-budget.ts)
  KAISER_VASSAL_SPAWN_FAILED: 'cannot start: {cause}',
  KAISER_VASSAL_OUTPUT_DROPPED: '{lines} output lines dropped in {seconds} s: over the budget of {budget} lines/s per vassal',
  KAISER_INTERNAL_ERROR: 'internal error in {where}: {cause}',

  // ── identity and limits (uid, gid, --emperor-tyrant, memory-limit, cpu-limit) ─────────────
  KAISER_UNKNOWN_USER: 'vassal {vassal}: no user "{user}" (getent passwd knows none)',
  KAISER_UNKNOWN_GROUP: 'vassal {vassal}: no group "{group}" (getent group knows none)',
  KAISER_IDENTITY_NEEDS_ROOT: 'vassal {vassal}: cannot run as uid {uid} gid {gid}: the emperor runs as uid {emperorUid}, and only root can switch users',
  KAISER_TYRANT_ROOT_OWNED: '[emperor-tyrant] invalid permissions for vassal {vassal}: its file is owned by uid {uid} gid {gid}, and tyrant mode never runs a vassal as root (chown it to the user it should run as)',
  KAISER_TYRANT_ESCAPE: '[emperor-tyrant] vassal {vassal} asks for {wanted}, but its file is owned by uid {uid} gid {gid}: in tyrant mode a vassal runs as its owner',
  KAISER_TYRANT_FOREIGN_SYMLINK: '[emperor-tyrant] vassal {vassal} is a symlink owned by uid {linkUid} to a file owned by uid {uid}: in tyrant mode a symlinked vassal counts only when the link and its target have the same owner, or root owns the link',
  KAISER_TYRANT_NO_OWNER: '[emperor-tyrant] vassal {vassal} has no file owner (not from the vassal directory): set uid and gid to a non-root user and group',
  KAISER_LIMITS_NEED_SETPRIV: 'vassal {vassal}: uid/gid together with memory-limit or cpu-limit needs setpriv (util-linux) to join the cgroup before dropping privileges',
  // issue 14: what a vassal names is done as its user, and what is held belongs to one user
  KAISER_SOCKET_TAKEN: 'vassal {vassal}: {address} is held for a vassal of another user ({holder}); a socket is shared only by vassals of one user',
  KAISER_SOCKET_PRIVILEGED_PORT: '[emperor-tyrant] vassal {vassal} runs as uid {uid} and names {address}: port {port} is privileged (allow it with --emperor-privileged-port USER:{port})',
  KAISER_DEFAULTS_FOREIGN_OWNER: 'defaults file {file} is owned by uid {uid}: a defaults file applies to every vassal, so only one owned by root or the emperor\'s user (uid {emperorUid}) counts',
  KAISER_VASSAL_LOGTO: 'vassal {vassal}: logto {cause}',
  KAISER_CONTROL_SOCKET_FOREIGN: '{path} belongs to uid {owner}, not to you (uid {uid}) or root: not trusting it as the control socket (name it with --control if it is right)',

  // ── front router ──────────────────────────────────────────────────────────────────────────
  KAISER_ROUTER_UNROUTABLE: 'vassal {vassal} declares a domain but cannot be routed: {reason}',
  KAISER_ROUTER_DOMAIN_TAKEN: 'domain {domain} of {vassal} is already served by {servedBy}',
  KAISER_STATE_FILE_INVALID: 'state file {file} ignored: {reason}',
  KAISER_STATE_FILE_WRITE: 'cannot write state file {file}: {cause}',

  // ── HTTPS, ACME and subscriptions (src/router/tls, src/router/acme, src/router/subscription) ────
  KAISER_TLS_BAD_CERTIFICATE: 'cannot load the certificate {file} with the key {key}: {cause}',
  KAISER_TLS_UNKNOWN_NAME: 'no certificate for {name} in {dir}: handshake refused',
  KAISER_HTTPS_OPTIONS: '{reason}',
  KAISER_ACME_FAILED: 'cannot get a certificate for {domain} from {directory}: {cause} (next try in {retrySeconds} s)',
  KAISER_ACME_SKIPPED: 'no certificate will be ordered for {domain}: {reason}',
  KAISER_SUBSCRIPTION_REFUSED: 'subscription packet from {peer} refused: {reason}',
  KAISER_ROUTER_BAD_DOMAIN: 'domain {domain} of {vassal} is not routed: {reason}',
  KAISER_ROUTER_BIND_FAILED: 'the front router cannot start: {cause}',
} as const;

/** A code of the catalogue, e.g. `KAISER_CONFIG_UNKNOWN_KEY`. */
export type ErrorCode = keyof typeof ERRORS;

/** The `{placeholder}` names of a template string, as a union of string literals. */
type PlaceholdersOf<S extends string> = S extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PlaceholdersOf<Rest>
  : never;

/** The fields `formatError(code, …)` needs: exactly the placeholders of that code's template. */
export type ErrorFields<C extends ErrorCode> = Readonly<Record<PlaceholdersOf<(typeof ERRORS)[C]>, string | number>>;

/** Whether `code` is a code of the catalogue (for codes that arrive as data, e.g. over a pipe). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/**
 * The message of `code` with its placeholders filled from `fields`:
 * `formatError('KAISER_CONFIG_BAD_VALUE', {key: 'processes', reason: 'expected an integer'})`.
 */
export function formatError<C extends ErrorCode>(code: C, fields: ErrorFields<C>): string {
  const values = fields as Readonly<Record<string, string | number>>;
  return ERRORS[code].replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = values[name];
    // The type of `fields` makes this unreachable from typed code; a cast somewhere is a kaiser bug.
    if (value === undefined) throw new Error(`Internal error: ${code} needs the field ${name}`);
    return String(value);
  });
}
