/**
 * THE option table. One entry per option drives CLI flags (`--processes 4`, `-p 4`), ini keys
 * (`processes = 4` in `[uwsgi]`), TOML keys, the `--help` text and the README's option reference.
 *
 * Scopes say where an option may appear:
 *   - `emperor`: the emperor's own command line (`kaiser --emperor DIR --emperor-stats ADDR`)
 *   - `server`:  kaiser's app server, standalone (`kaiser --http :9090 ...`) or as an app-server vassal file
 *   - `command`: a command vassal file (`exec = ...`)
 *   - `vassal`:  any vassal file, whatever its kind (handled by the emperor: logs, limits, on-demand)
 * Names are uWSGI's wherever uWSGI has the option, so a uWSGI command line or `.ini` works unchanged.
 * Options that come in families, alike but for a word or two (`route-SUBJECT`, `static-expires-*`, the cheaper
 * knobs, `*-delta`, `*-bin`), are written by a small row constructor above the table, so a family reads and changes
 * as one.
 */
import {isUwsgiOptionName} from './uwsgi-option-names.js';

/** How a value is read from text (CLI, ini) or checked (TOML). */
export type OptionType =
  | 'string'
  | 'path'
  | 'address' // host:port, :port, /unix/path or @abstract
  | 'int'
  | 'number'
  | 'bool' // a flag: `--master`, `master = true`, ini `master` alone
  | 'seconds'
  | 'signal'
  | 'argv' // a string (run through /bin/sh -c) or an array of strings
  | 'env'; // a TOML table, or repeated `KEY=VALUE` strings

export type OptionScope = 'emperor' | 'server' | 'command' | 'vassal';

export interface OptionSpec {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly type: OptionType;
  /** Repeatable: values accumulate into a list (uWSGI list options such as `socket`, `env`, `touch-reload`). */
  readonly multi?: boolean;
  readonly default?: string | number | boolean;
  readonly scopes: readonly OptionScope[];
  readonly help: string;
  /** Placeholder shown in `--help`, e.g. ADDR. */
  readonly arg?: string;
  /**
   * uWSGI options kaiser accepts without doing what uWSGI does: `noop` = nothing to do by kaiser's design (the help
   * says why; docs/uwsgi-compat.md lists them); `pending` = accepted so the vassal runs, but not applied yet: each
   * use is a KAISER_CONFIG_NOT_APPLIED warning (shown by `kaiser ls`, the dashboard and stats).
   */
  readonly effect?: 'noop' | 'pending';
}

/** `route[-SUBJECT]`: uWSGI's internal routing, each rule a regexp matched against `subject`, then an action. */
function routeOn<const N extends string>(name: N, subject: string) {
  return {name, type: 'string', multi: true, scopes: ['server'], arg: 'REGEXP ACTION:ARGS', help: `internal routing on ${subject}`} as const;
}

/** `static-expires[SUFFIX]` and its `-mtime` twin: the Expires header of the static files whose `subject` matches. */
function staticExpires<const S extends string>(suffix: S, arg: string, subject: string, by: string) {
  return [
    {name: `static-expires${suffix}`, type: 'string', multi: true, scopes: ['server'], arg, help: `Expires = now + S for static files ${subject}`},
    {name: `static-expires${suffix}-mtime`, type: 'string', multi: true, scopes: ['server'], arg, help: `Expires = file mtime + S, by ${by}`},
  ] as const;
}

/**
 * A knob of adaptive workers (uWSGI's cheaper): an integer of the app server. It has no table default because
 * the algorithm it serves picks one (src/server/python/cheaper.py); the help names it.
 */
function cheaperKnob<const N extends string>(name: N, arg: 'N' | 'S' | 'PCT', help: string) {
  return {name, type: 'int', scopes: ['server'], arg, help} as const;
}

/** `LIMIT-delta`: worker N recycles at LIMIT + (N - 1) × delta, so the workers of a vassal do not recycle together. */
function recycleStagger<const L extends string>(limit: L, type: 'seconds' | 'int', arg: 'S' | 'N') {
  return {name: `${limit}-delta`, type, scopes: ['server'], arg, help: `add (worker id - 1) × ${arg} to ${limit}, so workers do not recycle together`} as const;
}

/** `RUNTIME-bin`: the program that runs the apps of option `app`, `command` on PATH by default, from `debian`. */
function runtimeBin<const N extends string>(name: N, program: string, app: string, command: string, debian: readonly string[]) {
  const packages = `Debian package${debian.length > 1 ? 's' : ''} ${debian.join(', ')}`;
  return {name, type: 'path', scopes: ['server'], arg: 'PATH', help: `${program} for ${app} (default: ${command} on PATH; ${packages})`} as const;
}

export const OPTIONS = [
  // ── emperor ───────────────────────────────────────────────────────────────────────────────
  {name: 'emperor', type: 'path', multi: true, scopes: ['emperor'], arg: 'DIR', help: "watch this directory of vassal files (.toml, .ini), or only its files matching a glob: 'DIR/*.ini' (uWSGI's glob monitor)"},
  {name: 'emperor-stats', aliases: ['emperor-stats-server'], type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'serve emperor stats JSON (uWSGI keys) on this address'},
  {name: 'reload-mercy', type: 'seconds', default: 30, scopes: ['emperor', 'server'], arg: 'S', help: 'overall time allowed for a graceful stop before SIGKILL'},
  {name: 'emperor-freq', type: 'seconds', default: 60, scopes: ['emperor'], arg: 'S', help: 'safety-net rescan period (changes are seen at once through inotify)'},
  {name: 'emperor-accounting-freq', type: 'seconds', default: 2, scopes: ['emperor'], arg: 'S', help: 'how often CPU and memory of every vassal are sampled (0 = off)'},
  {name: 'emperor-spawn-concurrency', type: 'int', default: 32, scopes: ['emperor'], arg: 'N', help: 'at most this many vassals starting at once'},
  {name: 'emperor-curse-tolerance', type: 'seconds', default: 10, scopes: ['emperor'], arg: 'S', help: 'default stop-timeout of app-server vassals'},
  {name: 'emperor-zygote', type: 'bool', default: true, scopes: ['emperor'], help: 'fork app-server masters from one python runtime host (shared memory, fast spawns); false = one python per vassal'},
  {name: 'emperor-tyrant', type: 'bool', scopes: ['emperor'], help: 'run each vassal as the owner (uid/gid) of its file; refuse root-owned files and uid/gid options that escape the owner'},
  {name: 'emperor-privileged-port', type: 'string', multi: true, scopes: ['emperor'], arg: 'USER:PORTS', help: 'tyrant mode: let USER\'s vassals have the emperor bind these TCP ports below 1024 (e.g. www-data:80,443); without it a tenant\'s privileged port is refused'},
  {name: 'emperor-pass-env', type: 'string', multi: true, scopes: ['emperor'], arg: 'NAME', help: 'tyrant mode: also pass this variable of the emperor\'s environment to tenants (NAME* = a prefix); they get only PATH, LANG, LANGUAGE, LC_*, TZ and their USER, LOGNAME, HOME otherwise'},
  {name: 'emperor-state-dir', type: 'path', scopes: ['emperor'], arg: 'DIR', help: "keep what must outlive the emperor here (the front router's domain claims, so a contested domain stays with its holder across restarts); default with --emperor-tyrant: $STATE_DIRECTORY, else /var/lib/kaiser as root, else $XDG_STATE_HOME/kaiser; without tyrant mode, nothing is kept unless given"},
  {name: 'vassals-include', type: 'path', multi: true, scopes: ['emperor'], arg: 'FILE', help: 'defaults applied to every vassal (lowest precedence: a _defaults.toml in the vassal directory, then the vassal file itself, win over it); re-read on SIGHUP'},
  {name: 'control', type: 'path', scopes: ['emperor'], arg: 'PATH', help: 'control socket for kaiser ls/top/reload/stop/start/logs/status (default: /run/kaiser/control.sock as root, else $XDG_RUNTIME_DIR/kaiser/control.sock; env KAISER_CONTROL)'},
  // ── front door: HTTPS, ACME, subscriptions (src/router/tls, acme, subscription; README "Front door") ───
  {name: 'emperor-https', type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'front HTTPS router (needs --sni-dir): TLS 1.2+, certificate by SNI, HTTP/2 by ALPN; routes like --emperor-http'},
  {name: 'sni-dir', type: 'path', scopes: ['emperor'], arg: 'DIR', help: 'certificates of --emperor-https: DIR/NAME.crt + DIR/NAME.key (uWSGI naming), *.example.test.crt wildcards; re-read when the files change; a name without one gets no handshake'},
  {name: 'emperor-https-h2', type: 'bool', default: true, scopes: ['emperor'], help: 'offer HTTP/2 to HTTPS clients by ALPN (false = HTTP/1.1 only)'},
  {name: 'acme-directory', type: 'string', scopes: ['emperor'], arg: 'URL', help: 'ACME (RFC 8555) directory URL: vassal domains without a certificate in --sni-dir get one (HTTP-01 on --emperor-http), renewed before expiry'},
  {name: 'acme-email', type: 'string', scopes: ['emperor'], arg: 'EMAIL', help: 'contact address of the ACME account'},
  {name: 'acme-ca-file', type: 'path', scopes: ['emperor'], arg: 'FILE', help: 'trust this CA (PEM) for the ACME directory\u2019s HTTPS (a private ACME server)'},
  {name: 'subscription-server', type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'uWSGI subscription server (UDP): nodes announcing with subscribe-to/subscribe2 join the pool of their key (a Host) on the front routers'},
  {name: 'subscription-tolerance', type: 'seconds', default: 17, scopes: ['emperor'], arg: 'S', help: 'a subscribed node silent this long is dropped (uWSGI\u2019s default; nodes announce every 10 s)'},
  {name: 'emperor-http', type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'front HTTP router, in processes of its own: send each request to a vassal whose domain matches its Host header (load balanced over the vassals sharing a domain; on-demand vassals wake on their first request)'},
  // ── the front router (src/router/; README "Front door") ─────────────────────────────────────
  {name: 'emperor-http-processes', type: 'string', default: '1', scopes: ['emperor'], arg: 'N|auto', help: 'router processes serving --emperor-http, --emperor-https and --fastrouter (SO_REUSEPORT; auto = one per CPU); restarted by the emperor if they die'},
  {name: 'emperor-http-balance', type: 'string', default: 'round-robin', scopes: ['emperor'], arg: 'MODE', help: 'how a domain served by several vassals spreads requests: round-robin (weighted by router-weight) or least-conn'},
  {name: 'emperor-http-access-log', type: 'path', scopes: ['emperor'], arg: 'FILE', help: 'append one line per request in the combined log format (plus host and request time); reopened on SIGUSR2'},
  {name: 'emperor-http-max-connections', type: 'int', default: 0, scopes: ['emperor'], arg: 'N', help: 'client connections per router process (0 = half the descriptor limit less a reserve); at the cap the oldest idle or half-open connection is closed'},
  {name: 'emperor-http-headers-timeout', type: 'seconds', default: 60, scopes: ['emperor'], arg: 'S', help: 'total time a client has to send a request head (nginx client_header_timeout); then 408'},
  {name: 'emperor-http-keepalive-timeout', type: 'seconds', default: 75, scopes: ['emperor'], arg: 'S', help: 'idle time of a keep-alive client connection between requests (nginx keepalive_timeout)'},
  {name: 'emperor-http-body-timeout', type: 'seconds', default: 60, scopes: ['emperor'], arg: 'S', help: 'idle time while reading a request body or writing to a client that does not read (nginx client_body_timeout, send_timeout)'},
  {name: 'emperor-http-timeout', type: 'seconds', default: 60, scopes: ['emperor'], arg: 'S', help: 'idle time waiting on a backend before 504 (nginx proxy_read_timeout; uWSGI http-timeout)'},
  {name: 'emperor-http-connect-timeout', type: 'seconds', default: 10, scopes: ['emperor'], arg: 'S', help: 'time to connect to a backend before trying another one'},
  {name: 'emperor-http-fail-timeout', type: 'seconds', default: 10, scopes: ['emperor'], arg: 'S', help: 'a backend that refused or reset a connection gets no requests for this long, unless it is the only one (nginx fail_timeout)'},
  {name: 'emperor-http-health-check', type: 'string', scopes: ['emperor'], arg: 'PATH', help: 'active health checks: GET PATH on every HTTP backend each interval; one that fails or answers 5xx gets no requests until it passes'},
  {name: 'emperor-http-health-interval', type: 'seconds', default: 5, scopes: ['emperor'], arg: 'S', help: 'time between active health checks'},
  {name: 'fastrouter', type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'uWSGI fastrouter: take uwsgi-protocol requests (nginx uwsgi_pass) and pass each to the vassal whose domain matches SERVER_NAME or HTTP_HOST, over its uwsgi socket'},
  {name: 'metrics', type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'serve Prometheus metrics on HOST:PORT at /metrics'},
  {name: 'dashboard', type: 'address', scopes: ['emperor'], arg: 'ADDR', help: 'serve the web dashboard on a UNIX socket path (0600: its permissions are the auth) or HOST:PORT (needs --dashboard-token-file)'},
  {name: 'dashboard-token-file', type: 'path', scopes: ['emperor'], arg: 'FILE', help: 'tokens allowed to use a TCP dashboard: one name:token line each (tokens of 16+ characters; chmod 600)'},
  // ── fleet mode (src/fleet/, docs/fleet.md): `--emperor etcd://HOST:PORT[,…]/PREFIX` ────────────
  {name: 'host-id', type: 'string', scopes: ['emperor'], arg: 'NAME', help: 'this emperor\u2019s name in a fleet (default: the host name)'},
  {name: 'tags', type: 'string', scopes: ['emperor', 'vassal'], arg: 'a,b', help: 'fleet: tags of this emperor; in a vassal file, run only on emperors having all these tags'},
  {name: 'fleet-dir', type: 'path', scopes: ['emperor'], arg: 'DIR', help: 'fleet: directory fleet vassals run in and resolve relative paths against (default: ./.kaiser-fleet/HOST-ID)'},
  {name: 'fleet-ttl', type: 'int', default: 3, scopes: ['emperor'], arg: 'S', help: 'fleet: lease TTL in seconds; an emperor silent this long loses its vassals to the others'},
  {name: 'fleet-cap', type: 'int', default: 0, scopes: ['emperor'], arg: 'N', help: 'fleet: run at most N fleet replicas here (0 = no limit beyond an even spread)'},
  {name: 'etcd', type: 'string', scopes: ['emperor'], arg: 'HOST:PORT,…', help: 'fleet: etcd endpoints (env KAISER_ETCD); the emperor joins the fleet as with --emperor etcd://…'},
  {name: 'prefix', type: 'string', scopes: ['emperor'], arg: 'P', help: 'fleet: etcd key prefix with --etcd (env KAISER_FLEET_PREFIX; default /kaiser)'},
  {name: 'log-format', type: 'string', default: 'human', scopes: ['emperor', 'server'], arg: 'human|json', help: 'log line format'},
  {name: 'python', type: 'path', scopes: ['emperor', 'server'], arg: 'PATH', help: 'python interpreter for WSGI apps (default: /usr/bin/python3, else python3 on PATH)'},
  {name: 'help', aliases: ['h'], type: 'bool', scopes: ['emperor'], help: 'print this help and exit'},
  {name: 'version', aliases: ['v'], type: 'bool', scopes: ['emperor'], help: 'print the version and exit'},

  // ── any vassal ────────────────────────────────────────────────────────────────────────────
  {name: 'logto', aliases: ['logto2', 'daemonize', 'd', 'daemonize2'], type: 'path', scopes: ['vassal', 'server'], arg: 'FILE', help: 'append this vassal’s output to FILE (still prefixed in the emperor log); daemonize = FILE means the same, as in a uWSGI vassal (kaiser never forks into the background: run it under systemd)'},
  {name: 'log-maxsize', type: 'int', default: 0, scopes: ['vassal'], arg: 'BYTES', help: 'rotate the logto file when it would grow past BYTES (0 = never)'},
  {name: 'log-backups', type: 'int', default: 5, scopes: ['vassal'], arg: 'N', help: 'rotated logto files to keep (FILE.1 … FILE.N)'},
  {name: 'log-rotate', type: 'string', scopes: ['vassal'], arg: 'hourly|daily|weekly', help: 'also rotate the logto file at the first line of each new hour, day or week (local time)'},
  {name: 'log-compress', type: 'bool', scopes: ['vassal'], help: 'gzip rotated logto files (FILE.1.gz … FILE.N.gz)'},
  {name: 'stop-signal', type: 'signal', default: 'SIGTERM', scopes: ['command'], arg: 'SIG', help: 'signal asking the program to stop'},
  {name: 'stop-timeout', type: 'seconds', default: 10, scopes: ['vassal'], arg: 'S', help: 'grace after the stop request, then SIGKILL of the whole process tree'},
  {name: 'memory-limit', type: 'int', default: 0, scopes: ['vassal'], arg: 'MB', help: 'memory limit of the whole vassal (cgroup memory limit; sampled and enforced by the emperor where cgroups are unavailable); 0 = none'},
  {name: 'cpu-limit', type: 'number', default: 0, scopes: ['vassal'], arg: 'PERCENT', help: 'CPU limit in percent of one core (cgroup CPU quota); 0 = none'},
  {name: 'uid', type: 'string', scopes: ['vassal'], arg: 'USER', help: 'run the vassal as this user (name or number); in tyrant mode it must be the file owner'},
  {name: 'gid', type: 'string', scopes: ['vassal'], arg: 'GROUP', help: 'run the vassal with this group (name or number); in tyrant mode it must be the file owner group'},
  {name: 'on-demand', type: 'bool', scopes: ['vassal'], help: 'bind the vassal sockets but start it only on the first connection (scale to zero)'},
  {name: 'idle', type: 'seconds', default: 0, scopes: ['vassal'], arg: 'S', help: 'after S seconds without a request the workers stop and the first connection starts them again (uWSGI\'s cheap mode); an on-demand app-server vassal (or one with die-on-idle) exits instead, and the emperor keeps its socket for the next wake-up'},
  {name: 'domain', type: 'string', multi: true, scopes: ['vassal'], arg: 'HOST', help: 'host name routed to this vassal by the emperor HTTP router (--emperor-http); *.example.test wildcards'},
  {name: 'https-redirect', type: 'bool', scopes: ['vassal'], help: 'the front router answers this vassal\u2019s plain-HTTP requests with a 308 redirect to HTTPS (--emperor-https)'},
  {name: 'router-weight', type: 'int', default: 1, scopes: ['vassal'], arg: 'N', help: 'share of its domains\u2019 requests this vassal gets when several vassals serve one domain (weighted round robin)'},
  {name: 'start-timeout', type: 'seconds', default: 60, scopes: ['vassal'], arg: 'S', help: 'a vassal not ready after this long is killed and retried with backoff'},
  // fleet placement keys (read by `kaiser fleet put`; the emperor ignores them)
  {name: 'replicas', type: 'int', default: 1, scopes: ['vassal'], arg: 'N', help: 'fleet: run N copies, each on a different emperor'},
  {name: 'singleton', type: 'bool', scopes: ['vassal'], help: 'fleet: never two copies, even during a partition (stops when the fleet lease is unconfirmed)'},
  {name: 'hosts', type: 'string', scopes: ['vassal'], arg: 'a,b', help: 'fleet: run only on these emperors (host ids)'},

  // ── command vassal ────────────────────────────────────────────────────────────────────────
  {name: 'exec', type: 'argv', scopes: ['command'], arg: 'CMD', help: 'program to run: a string (run by /bin/sh -c) or an argv array'},
  {name: 'cwd', type: 'path', scopes: ['command'], arg: 'DIR', help: 'working directory (default: the vassal directory)'},
  {name: 'reload-overlap', type: 'bool', scopes: ['command'], help: 'reload by starting the new instance, waiting until it is ready, then stopping the old one (default: on when socket is set; turn on for programs that bind with SO_REUSEPORT)'},
  {name: 'ready', type: 'string', scopes: ['command'], arg: 'URL', help: 'readiness: tcp://HOST:PORT, http://HOST:PORT/path (2xx/3xx) or notify (prints READY=1); default: running for 1 s'},

  // ── app server: sockets ───────────────────────────────────────────────────────────────────
  {name: 'http', type: 'address', multi: true, scopes: ['server'], arg: 'ADDR', help: 'serve HTTP on ADDR (the master owns the socket; workers answer)'},
  {name: 'http-socket', type: 'address', multi: true, scopes: ['server'], arg: 'ADDR', help: 'workers speak HTTP on the shared socket ADDR'},
  {name: 'socket', aliases: ['s', 'uwsgi-socket'], type: 'address', multi: true, scopes: ['server', 'command'], arg: 'ADDR', help: 'uwsgi binary protocol socket (nginx uwsgi_pass); in a command vassal: tcp://HOST:PORT or unix:/path, reserved for socket activation'},
  {name: 'chmod-socket', type: 'string', scopes: ['server'], arg: 'MODE', help: 'mode of UNIX sockets (default 666 when given without value)'},
  {name: 'listen', aliases: ['l'], type: 'int', default: 100, scopes: ['server'], arg: 'N', help: 'listen backlog'},
  {name: 'buffer-size', aliases: ['b'], type: 'int', default: 4096, scopes: ['server'], arg: 'N', help: 'largest request head (HTTP headers or uwsgi vars) in bytes; larger gets 431/closed'},
  {name: 'vacuum', type: 'bool', scopes: ['server'], help: 'remove UNIX sockets and the pidfile on exit'},

  // ── app server: the app ───────────────────────────────────────────────────────────────────
  {name: 'wsgi-file', aliases: ['file'], type: 'path', scopes: ['server'], arg: 'FILE', help: 'load a WSGI script and use its callable'},
  {name: 'module', aliases: ['wsgi', 'w'], type: 'string', scopes: ['server'], arg: 'MOD[:CALLABLE]', help: 'import a WSGI module'},
  {name: 'callable', type: 'string', default: 'application', scopes: ['server'], arg: 'NAME', help: 'name of the WSGI callable'},
  {name: 'node-app', type: 'path', scopes: ['server'], arg: 'FILE', help: 'a Node module whose default export is (req, res) => … or { fetch(request) }'},
  {name: 'chdir', type: 'path', scopes: ['server'], arg: 'DIR', help: 'chdir before loading the app'},
  // other languages (issue 19): each a worker under the master (docs/runtime-protocol.md §3), uWSGI's option names
  {name: 'psgi', type: 'path', scopes: ['server'], arg: 'FILE', help: 'a PSGI app (Perl): the file returns a code ref (worker: perl)'},
  {name: 'rack', type: 'path', scopes: ['server'], arg: 'FILE', help: 'a Rack app (Ruby): config.ru (worker: ruby with ruby-rack)'},
  {name: 'lua', type: 'path', scopes: ['server'], arg: 'FILE', help: 'a Lua WSAPI app: the file returns the app function or a table with run (worker: lua5.1)'},
  {name: 'cgi', type: 'string', multi: true, scopes: ['server'], arg: '[MOUNT=]DIR', help: 'serve CGI scripts from DIR (or one script), optionally under the URL prefix MOUNT'},
  {name: 'cgi-allowed-ext', type: 'string', multi: true, scopes: ['server'], arg: 'EXT', help: 'only run CGI scripts with this extension (e.g. .cgi)'},
  {name: 'cgi-index', type: 'string', multi: true, scopes: ['server'], arg: 'FILE', help: 'CGI script run for a directory URL'},
  {name: 'cgi-helper', type: 'string', multi: true, scopes: ['server'], arg: 'EXT=CMD', help: 'run CGI scripts with this extension through CMD (e.g. .php=php-cgi)'},
  {name: 'cgi-timeout', type: 'seconds', default: 0, scopes: ['server'], arg: 'S', help: 'kill a CGI script running longer than this (0 = harakiri only)'},
  {name: 'php-docroot', type: 'path', scopes: ['server'], arg: 'DIR', help: 'document root of a PHP app (scripts run by php-cgi over FastCGI, one per request core)'},
  {name: 'php-index', type: 'string', multi: true, scopes: ['server'], arg: 'FILE', help: 'PHP index file for directory URLs (default index.php)'},
  {name: 'php-allowed-ext', type: 'string', multi: true, scopes: ['server'], arg: 'EXT', help: 'only run PHP scripts with this extension (e.g. .php; default: any file, as uWSGI)'},
  {name: 'php-set', type: 'string', multi: true, scopes: ['server'], arg: 'KEY=VALUE', help: 'set a php.ini entry (php-cgi -d KEY=VALUE)'},
  {name: 'php-ini', type: 'path', scopes: ['server'], arg: 'FILE', help: 'use this php.ini (php-cgi -c FILE)'},
  runtimeBin('perl-bin', 'perl interpreter', 'psgi', 'perl', ['perl']),
  runtimeBin('ruby-bin', 'ruby interpreter', 'rack', 'ruby', ['ruby', 'ruby-rack']),
  runtimeBin('lua-bin', 'lua interpreter', 'lua', 'lua5.1', ['lua5.1', 'lua-posix']),
  runtimeBin('php-cgi-bin', 'php-cgi', 'php-docroot', 'php-cgi', ['php-cgi']),
  {name: 'http-socket-modifier1', aliases: ['http-modifier1'], type: 'int', scopes: ['server'], arg: 'N', help: 'accepted for uWSGI compatibility: the language is chosen from the app option'},
  {name: 'http-socket-modifier2', aliases: ['http-modifier2'], type: 'int', scopes: ['server'], arg: 'N', help: 'accepted for uWSGI compatibility'},
  // ASGI apps (issue 17): a forked Python worker running one event loop (src/server/python/asgi/)
  {name: 'asgi', type: 'string', scopes: ['server'], arg: 'MOD:APP', help: 'an ASGI 3 app (FastAPI, Starlette, Django asgi.py), as uvicorn names it; without :APP, app or else application'},
  {name: 'asgi-loop', type: 'string', default: 'auto', scopes: ['server'], arg: 'auto|asyncio|uvloop', help: 'event loop of ASGI workers (auto: uvloop when installed, else asyncio)'},
  {name: 'asgi-lifespan', type: 'string', default: 'auto', scopes: ['server'], arg: 'auto|on|off', help: 'ASGI lifespan: startup before a worker accepts (a failed startup is a failed load), shutdown when it retires; auto skips apps that do not speak it'},
  {name: 'asgi-max-concurrency', type: 'int', default: 1000, scopes: ['server'], arg: 'N', help: 'requests and websockets in flight per ASGI worker; at the limit the worker stops accepting and further requests wait (0 = no limit)'},
  {name: 'limit-post', type: 'int', default: 0, scopes: ['server'], arg: 'BYTES', help: 'largest request body; a larger one gets 413 (0 = no limit)'},
  {name: 'websockets-ping-freq', aliases: ['websocket-ping-freq'], type: 'seconds', default: 30, scopes: ['server'], arg: 'S', help: 'ASGI websockets: ping a connection quiet this long (0 = never)'},
  {name: 'websockets-pong-tolerance', aliases: ['websocket-pong-tolerance'], type: 'seconds', default: 3, scopes: ['server'], arg: 'S', help: 'ASGI websockets: close a connection whose pong is this late'},
  {name: 'websockets-max-size', aliases: ['websocket-max-size'], type: 'int', default: 1024, scopes: ['server'], arg: 'KB', help: 'ASGI websockets: largest message in KiB; a larger one closes the websocket with 1009'},
  {name: 'pythonpath', aliases: ['python-path', 'pp'], type: 'path', multi: true, scopes: ['server'], arg: 'DIR', help: 'add a directory to sys.path'},
  {name: 'virtualenv', aliases: ['venv', 'home', 'pyhome', 'H'], type: 'path', scopes: ['server'], arg: 'DIR', help: 'run the app with this virtualenv’s python'},
  {name: 'env', type: 'env', multi: true, scopes: ['server', 'command'], arg: 'KEY=VALUE', help: 'set an environment variable (TOML: a table)'},
  {name: 'need-app', type: 'bool', default: true, scopes: ['server'], help: 'exit 22 if the app cannot be loaded (always on in kaiser)'},
  {name: 'plugin', aliases: ['plugins'], type: 'string', multi: true, scopes: ['server'], arg: 'LIST', help: 'accepted for uWSGI compatibility (python3, psgi, rack, php, cgi, lua, http…): the language is chosen from the app option'},

  // ── app server: processes ─────────────────────────────────────────────────────────────────
  {name: 'master', aliases: ['M'], type: 'bool', scopes: ['server'], help: 'supervise workers (kaiser always runs a master)'},
  {name: 'processes', aliases: ['workers', 'p'], type: 'int', default: 1, scopes: ['server'], arg: 'N', help: 'number of worker processes'},
  {name: 'threads', type: 'int', default: 1, scopes: ['server'], arg: 'N', help: 'threads (request cores) per worker'},
  {name: 'enable-threads', aliases: ['T'], type: 'bool', scopes: ['server'], help: 'accepted: Python threads are always enabled'},
  {name: 'lazy-apps', aliases: ['lazy'], type: 'bool', scopes: ['server'], help: 'PSGI, Rack: each worker execs its runtime and loads the app (default: once per generation, in a zygote that forks the workers); Python, Node and Lua workers always load it themselves'},
  {name: 'harakiri', aliases: ['t'], type: 'seconds', default: 0, scopes: ['server'], arg: 'S', help: 'kill a worker stuck on one request this long, log it, respawn'},
  {name: 'max-requests', aliases: ['R'], type: 'int', default: 0, scopes: ['server'], arg: 'N', help: 'recycle a worker gracefully after N requests'},
  {name: 'reload-on-rss', type: 'int', default: 0, scopes: ['server'], arg: 'MB', help: 'recycle a worker gracefully once its RSS reaches MB'},
  {name: 'worker-reload-mercy', type: 'seconds', default: 60, scopes: ['server'], arg: 'S', help: 'time a retiring worker gets to finish in-flight requests'},
  {name: 'load-nice', type: 'int', default: 0, scopes: ['server'], arg: 'N', help: 'a reload’s new worker (or a recycled one’s successor) loads its app this much nicer while the old ones serve, and returns before it accepts; only where it can return (root, or RLIMIT_NICE); 0 = off (the default: on a quiet machine 10 made reloads 6x longer)'},
  {name: 'reload-mode', type: 'string', default: 'chain', scopes: ['server'], arg: 'chain|all', help: 'graceful reload: replace workers one at a time (chain, the smallest pause measured), or start all new workers then retire the old (all)'},
  {name: 'touch-reload', type: 'path', multi: true, scopes: ['server'], arg: 'FILE', help: 'graceful reload when FILE is touched'},
  {name: 'touch-chain-reload', type: 'path', multi: true, scopes: ['server'], arg: 'FILE', help: 'chain reload when FILE is touched'},
  {name: 'master-fifo', type: 'path', multi: true, scopes: ['server'], arg: 'FILE', help: 'command FIFO: r reload, c chain reload, q graceful stop, Q brutal stop'},
  {name: 'pidfile', aliases: ['safe-pidfile'], type: 'path', scopes: ['server'], arg: 'FILE', help: 'write the master pid to FILE'},
  {name: 'die-on-term', type: 'bool', scopes: ['server'], help: 'accepted: SIGTERM always stops kaiser gracefully'},
  {name: 'heartbeat', type: 'seconds', default: 0, scopes: ['server'], arg: 'S', help: 'send a heartbeat to the emperor every S seconds'},
  {name: 'subscribe-to', type: 'string', multi: true, scopes: ['server'], arg: 'SERVER:KEY', help: 'announce this instance to a uWSGI subscription server every subscribe-freq seconds (uWSGI syntax: HOST:PORT:KEY[,modifier1], KEY may be @FILE)'},
  {name: 'subscribe2', type: 'string', multi: true, scopes: ['server'], arg: 'k=v,…', help: 'announce with uWSGI\u2019s key=value form: server=, key=, addr=, weight=, modifier1=, modifier2=, proto=http'},
  {name: 'subscribe-freq', type: 'seconds', default: 10, scopes: ['server'], arg: 'S', help: 'how often subscriptions are announced (the server drops a node silent for its tolerance, 17 s)'},
  {name: 'socket-timeout', type: 'seconds', default: 4, scopes: ['server'], arg: 'S', help: 'idle timeout for reading a request from a client'},
  {name: 'request-read-timeout', type: 'seconds', default: 60, scopes: ['server'], arg: 'S', help: 'a client must send its whole request, head and body, within S seconds of its first byte, else 408 and the connection is closed (nginx\u2019s client_header_timeout/client_body_timeout default); 0 = no limit'},
  {name: 'disable-logging', aliases: ['L'], type: 'bool', scopes: ['server'], help: 'do not log requests'},

  // ── app server: stats ─────────────────────────────────────────────────────────────────────
  {name: 'stats', aliases: ['stats-server'], type: 'address', scopes: ['server'], arg: 'ADDR', help: 'serve the uWSGI stats JSON on ADDR (uwsgitop reads it)'},
  {name: 'stats-http', type: 'bool', scopes: ['server'], help: 'serve stats with HTTP headers'},
  {name: 'stats-minified', aliases: ['stats-min'], type: 'bool', scopes: ['server'], help: 'compact stats JSON'},
  {name: 'memory-report', aliases: ['m'], type: 'bool', scopes: ['server'], help: 'fill rss/vsz of workers in stats'},

  // ── uWSGI compatibility (issue 15; docs/uwsgi-compat.md) ─────────────────────────────────────
  {name: 'strict', type: 'bool', scopes: ['vassal', 'server'], help: 'unknown keys of an ini file are errors, not warnings (uWSGI: unknown keys are silent placeholders unless strict)'},
  {name: 'protocol', type: 'string', scopes: ['server'], arg: 'uwsgi|http', help: 'protocol of the socket = … sockets: uwsgi (default) or http (they then act as http-socket)'},
  // accepted, nothing to do by kaiser's design
  {name: 'single-interpreter', aliases: ['i'], type: 'bool', effect: 'noop', scopes: ['server'], help: 'accepted: each worker runs one interpreter; kaiser has no sub-interpreters'},
  {name: 'thunder-lock', type: 'bool', effect: 'noop', scopes: ['server'], help: 'accepted: workers wait on the socket with EPOLLEXCLUSIVE, so the kernel wakes one worker per connection'},
  {name: 'no-orphans', type: 'bool', effect: 'noop', scopes: ['server'], help: 'accepted: workers always exit when their master goes (they watch a pipe to it)'},
  {name: 'log-master', type: 'bool', effect: 'noop', scopes: ['server'], help: 'accepted: the master always collects the workers’ output'},
  {name: 'log-reopen', type: 'bool', effect: 'noop', scopes: ['vassal', 'server'], help: 'accepted: the logto file is reopened on every reload'},
  {name: 'enable-metrics', type: 'bool', effect: 'noop', scopes: ['server'], help: 'accepted: metrics are always on (emperor --metrics)'},
  // accepted, applied by a later change (each use warns KAISER_CONFIG_NOT_APPLIED until then)
  {name: 'log-backupname', type: 'path', scopes: ['vassal'], arg: 'FILE', help: 'with log-maxsize: rotate the logto file by renaming it to FILE (replacing the previous one) instead of FILE.1 … FILE.N'},
  {name: 'logfile-chown', type: 'bool', scopes: ['vassal'], help: 'the logto file belongs to the vassal\u2019s uid/gid (set on every open)'},
  {name: 'logfile-chmod', type: 'string', scopes: ['vassal'], arg: 'MODE', help: 'octal mode of the logto file, e.g. 640 (set on every open)'},
  {name: 'log-date', aliases: ['logdate'], type: 'string', scopes: ['server'], arg: '[FORMAT]', help: 'stamp the vassal’s log lines (not request lines) with the date: `DATE - line`, the date as ctime or this strftime format'},
  {name: 'logformat', aliases: ['log-format-strftime', 'logformat-strftime'], type: 'string', scopes: ['server'], arg: 'FORMAT', help: 'request log line format with uWSGI’s variables: %(addr) %(user) %(ltime) %(method) %(uri) %(proto) %(status) %(size) %(rsize) %(hsize) %(msecs) %(micros) %(host) %(uagent) %(referer) %(var.NAME) and the app’s uwsgi.set_logvar() names …; log-format = FORMAT means the same when FORMAT is not human or json'},
  {name: 'log-x-forwarded-for', type: 'bool', scopes: ['server'], help: 'log the X-Forwarded-For header (when the request has one) as the address instead of REMOTE_ADDR'},
  {name: 'log-4xx', type: 'bool', scopes: ['server'], help: 'log requests answered 4xx even with disable-logging'},
  {name: 'log-5xx', type: 'bool', scopes: ['server'], help: 'log requests answered 5xx even with disable-logging'},
  {name: 'log-slow', type: 'int', scopes: ['server'], arg: 'MS', help: 'log requests taking MS milliseconds or more even with disable-logging'},
  {name: 'log-big', type: 'int', scopes: ['server'], arg: 'BYTES', help: 'log responses with a body of BYTES or more even with disable-logging'},
  {name: 'log-zero', type: 'bool', scopes: ['server'], help: 'log responses without a body even with disable-logging'},
  {name: 'log-micros', type: 'bool', scopes: ['server'], help: 'request times in microseconds in the request log line'},
  {name: 'log-prefix', type: 'string', scopes: ['server'], arg: 'TEXT', help: 'stamp the vassal’s log lines with TEXT (a strftime format, as in uWSGI): `TEXT - line`; wins over log-date'},
  {name: 'logger', type: 'string', multi: true, scopes: ['server'], arg: '[NAME ]file:PATH|syslog[:ID[,FACILITY]]|stdio', help: 'where the vassal’s log lines go (instead of standard error); a named logger only gets the lines a log-route sends it'},
  {name: 'req-logger', aliases: ['logger-req'], type: 'string', multi: true, scopes: ['server'], arg: '[NAME ]file:PATH|syslog[:ID]|stdio', help: 'where request log lines go (default: with the other lines)'},
  {name: 'log-route', type: 'string', multi: true, scopes: ['server'], arg: 'NAME REGEXP', help: 'log lines matching REGEXP go to the logger named NAME (and not to the unnamed loggers)'},
  {name: 'log-req-route', type: 'string', multi: true, scopes: ['server'], arg: 'NAME REGEXP', help: 'request log lines matching REGEXP go to the req-logger named NAME'},
  {name: 'attach-daemon', type: 'string', multi: true, scopes: ['server'], arg: 'CMD', help: 'run CMD (/bin/sh -c) next to the workers: respawned when it exits, stopped and started again on a reload, stopped with the vassal'},
  {name: 'attach-daemon2', type: 'string', multi: true, scopes: ['server'], arg: 'k=v,…,cmd=CMD', help: 'attach-daemon with settings: cmd, pidfile, daemonize, stopsignal, reloadsignal, freq, touch, chdir'},
  {name: 'smart-attach-daemon', type: 'string', multi: true, scopes: ['server'], arg: 'PIDFILE CMD', help: 'a daemon that forks into the background and writes PIDFILE: started only when that pid is not alive (checked every 10 s), left running across reloads, stopped with the vassal'},
  {name: 'smart-attach-daemon2', type: 'string', multi: true, scopes: ['server'], arg: 'PIDFILE CMD', help: 'smart-attach-daemon for a CMD that stays in the foreground and writes PIDFILE'},
  {name: 'cron', type: 'string', multi: true, scopes: ['server'], arg: 'MIN HOUR DAY MONTH WEEKDAY CMD', help: 'run CMD when the fields match (-1 = any, -N = every N), at most once a minute (uWSGI: first at start)'},
  {name: 'cron2', type: 'string', multi: true, scopes: ['server'], arg: 'minute=…,unique=1 CMD', help: 'cron with key=value fields (minute, hour, day, month, week, unique)'},
  {name: 'unique-cron', type: 'string', multi: true, scopes: ['server'], arg: 'MIN HOUR DAY MONTH WEEKDAY CMD', help: 'cron that is not started again while its last run still runs'},
  cheaperKnob('cheaper', 'N', 'adaptive workers: run between N and processes workers, as the load asks (N < processes)'),
  cheaperKnob('cheaper-initial', 'N', 'workers started at first with cheaper (default: cheaper)'),
  cheaperKnob('cheaper-step', 'N', 'workers added at each overload (default 1)'),
  {name: 'cheaper-algo', type: 'string', scopes: ['server'], arg: 'spare|spare2|backlog|busyness', help: 'cheaper algorithm (default spare; busyness is an approximation of uWSGI\'s plugin)'},
  cheaperKnob('cheaper-overload', 'S', 'spare: seconds of all-busy before adding workers (default 3); backlog: the listen queue length that adds them'),
  cheaperKnob('cheaper-idle', 'S', 'spare2: seconds with more idle workers than cheaper before one is stopped (default 10)'),
  cheaperKnob('cheaper-busyness-max', 'PCT', 'busyness: add workers above this busy share (default 50)'),
  cheaperKnob('cheaper-busyness-min', 'PCT', 'busyness: stop a worker below this busy share (default 25)'),
  cheaperKnob('cheaper-busyness-multiplier', 'N', 'busyness: periods below the minimum before a worker is stopped (default 10)'),
  cheaperKnob('cheaper-busyness-backlog-alert', 'N', 'busyness: a listen queue above N adds workers at once (default 33)'),
  cheaperKnob('cheaper-busyness-backlog-step', 'N', 'busyness: workers added on a backlog alert (default 1)'),
  {name: 'cheap', type: 'bool', scopes: ['server'], help: 'start no worker until the first connection (the master watches the sockets)'},
  {name: 'die-on-idle', type: 'bool', scopes: ['server'], help: 'with idle: stop the vassal (byte 22 to the emperor) instead of going cheap'},
  {name: 'static-map', type: 'string', multi: true, scopes: ['server'], arg: '/URL=DIR', help: 'serve the files under DIR at /URL without calling the app (DIR may be one file)'},
  {name: 'static-map2', type: 'string', multi: true, scopes: ['server'], arg: '/URL=DIR', help: 'like static-map, appending the whole request path to DIR'},
  {name: 'check-static', aliases: ['static-check'], type: 'path', multi: true, scopes: ['server'], arg: 'DIR', help: 'serve the file of DIR the request path names, if there is one'},
  {name: 'static-index', type: 'string', multi: true, scopes: ['server'], arg: 'FILE', help: 'file served for a static directory (e.g. index.html)'},
  ...staticExpires('', 'REGEXP S', 'whose real path matches REGEXP', 'real path'),
  ...staticExpires('-uri', 'REGEXP S', 'whose REQUEST_URI matches', 'REQUEST_URI'),
  ...staticExpires('-path-info', 'REGEXP S', 'whose PATH_INFO matches', 'PATH_INFO'),
  ...staticExpires('-type', 'TYPE=S', 'of this content type', 'content type'),
  {name: 'static-skip-ext', type: 'string', multi: true, scopes: ['server'], arg: 'EXT', help: 'never serve paths or files ending in EXT statically'},
  {name: 'static-safe', type: 'path', multi: true, scopes: ['server'], arg: 'DIR', help: 'a static file may also resolve (through symlinks) under DIR'},
  {name: 'static-gzip-all', type: 'bool', scopes: ['server'], help: 'serve FILE.br or FILE.gz instead of FILE to clients that accept it'},
  {name: 'static-gzip-dir', aliases: ['static-gzip-prefix'], type: 'string', multi: true, scopes: ['server'], arg: 'DIR', help: 'static-gzip-all for the files under DIR'},
  {name: 'static-gzip-ext', aliases: ['static-gzip-suffix'], type: 'string', multi: true, scopes: ['server'], arg: 'EXT', help: 'static-gzip-all for the files ending in EXT'},
  {name: 'offload-threads', aliases: ['offload-thread'], type: 'int', scopes: ['server'], arg: 'N', help: 'N threads per worker send file responses of 64 KiB or more (sendfile), so the worker serves on while a client downloads; such a response closes its connection'},
  {name: 'mount', type: 'string', multi: true, scopes: ['server'], arg: '/PATH=APP', help: 'load another WSGI app (a .py file or module:callable) for requests whose SCRIPT_NAME is /PATH; the first app loaded answers the others'},
  {name: 'manage-script-name', type: 'bool', scopes: ['server'], help: 'move the longest matching mount point from PATH_INFO to SCRIPT_NAME (and pick that app)'},
  {name: 'add-header', type: 'string', multi: true, scopes: ['server'], arg: 'NAME: VALUE', help: 'add a header to every response (WSGI apps; docs/uwsgi-compat.md)'},
  routeOn('route', 'PATH_INFO: rewrite, redirect, return, break, continue, basicauth, addheader, addvar, goto, log, donotlog… (uWSGI\u2019s actions; docs/uwsgi-compat.md)'),
  {name: 'route-run', type: 'string', multi: true, scopes: ['server'], arg: 'ACTION:ARGS', help: 'internal routing action run for every request'},
  routeOn('route-host', 'the Host header'),
  routeOn('route-uri', 'REQUEST_URI'),
  routeOn('route-qs', 'QUERY_STRING'),
  routeOn('route-remote-addr', 'REMOTE_ADDR'),
  routeOn('route-user-agent', 'the User-Agent header'),
  routeOn('route-referer', 'the Referer header'),
  routeOn('route-remote-user', 'REMOTE_USER'),
  {name: 'route-if', type: 'string', multi: true, scopes: ['server'], arg: 'CONDITION:ARGS ACTION:ARGS', help: 'internal routing action run when a condition holds: equal, startswith, endswith, contains, regexp, empty, exists, isfile, isdir, ishigher, ipv4in… on ${VAR} texts split by ; (uWSGI\u2019s conditions; docs/uwsgi-compat.md)'},
  {name: 'route-if-not', type: 'string', multi: true, scopes: ['server'], arg: 'CONDITION:ARGS ACTION:ARGS', help: 'internal routing action run when a condition does not hold'},
  {name: 'route-label', type: 'string', multi: true, scopes: ['server'], arg: 'NAME', help: 'a point of the routing chain that goto:NAME jumps to (forward only)'},
  {name: 'post-buffering', type: 'int', scopes: ['server'], arg: 'BYTES', help: 'keep at most BYTES of a request body in memory, the rest in a temporary file (kaiser always receives the whole body before calling the app; default 1 MiB)'},
  {name: 'procname', type: 'string', scopes: ['server'], arg: 'NAME', help: 'process title (ps) of the workers, and of the master without procname-master'},
  {name: 'procname-prefix', type: 'string', scopes: ['server'], arg: 'TEXT', help: 'prefix of every process title (uWSGI style titles: TEXTuWSGI master, TEXTuWSGI worker 1)'},
  {name: 'procname-prefix-spaced', type: 'string', scopes: ['server'], arg: 'TEXT', help: 'prefix of every process title, followed by a space'},
  {name: 'procname-append', type: 'string', scopes: ['server'], arg: 'TEXT', help: 'suffix of every process title'},
  {name: 'procname-master', type: 'string', scopes: ['server'], arg: 'NAME', help: 'process title of the master'},
  {name: 'auto-procname', type: 'bool', scopes: ['server'], help: 'uWSGI\u2019s process titles: uWSGI master, uWSGI worker N'},
  {name: 'max-worker-lifetime', type: 'seconds', scopes: ['server'], arg: 'S', help: 'recycle a worker gracefully after S seconds (its replacement starts first: no request fails)'},
  recycleStagger('max-worker-lifetime', 'seconds', 'S'),
  recycleStagger('max-requests', 'int', 'N'),
  {name: 'harakiri-verbose', type: 'bool', scopes: ['server'], help: 'on harakiri, log the worker\'s current syscall and wait channel (/proc) before the kill'},
  {name: 'evil-reload-on-rss', type: 'int', scopes: ['server'], arg: 'MB', help: 'SIGKILL a worker (then respawn it) once its RSS reaches MB, checked by the master each second'},
  {name: 'exit-on-reload', type: 'bool', scopes: ['server'], help: 'a reload stops the vassal gracefully (exit 0) instead; under an emperor it is started again'},
  {name: 'ignore-sigpipe', type: 'bool', effect: 'noop', scopes: ['server'], help: 'accepted: workers always ignore SIGPIPE (a gone client is a write error, see ignore-write-errors), so there is no SIGPIPE to report'},
  {name: 'ignore-write-errors', type: 'bool', scopes: ['server'], help: 'do not log a write to a client that went away'},
  {name: 'disable-write-exception', type: 'bool', scopes: ['server'], help: 'the WSGI write() callable raises no OSError when the client went away (the data is dropped)'},
  {name: 'http-timeout', type: 'seconds', scopes: ['server'], arg: 'S', help: 'idle timeout of client connections on http = … sockets (socket-timeout when unset)'},
  {name: 'so-keepalive', type: 'bool', scopes: ['server'], help: 'SO_KEEPALIVE on TCP client connections'},
  {name: 'reuse-port', type: 'bool', scopes: ['server'], help: 'SO_REUSEPORT on the TCP sockets the vassal binds'},
] as const satisfies readonly OptionSpec[];

export type OptionName = (typeof OPTIONS)[number]['name'];

const BY_NAME = new Map<string, OptionSpec>();
for (const spec of OPTIONS as readonly OptionSpec[]) {
  BY_NAME.set(spec.name, spec);
  for (const alias of spec.aliases ?? []) BY_NAME.set(alias, spec);
}

/** The option called `name` (or having it as an alias), or undefined. */
export function findOption(name: string): OptionSpec | undefined {
  return BY_NAME.get(name);
}

/** Every name and alias, for did-you-mean suggestions. */
export function allOptionNames(): string[] {
  return [...BY_NAME.keys()];
}

/**
 * uWSGI options kaiser refuses by name (KAISER_CONFIG_UNSUPPORTED), with why: each belongs to a subsystem that
 * cannot work with kaiser's design, so running the vassal without it would break it in ways the operator only
 * finds later. Exact names, and prefixes ending in `*`. Every other uWSGI option kaiser does not list above is
 * accepted with a KAISER_CONFIG_NOT_APPLIED warning (docs/uwsgi-compat.md).
 */
export const UWSGI_REFUSED: Readonly<Record<string, string>> = {
  'spooler*': 'kaiser has no spooler (run the queue as a command vassal)',
  'mule*': 'kaiser has no mules (run the task as a command vassal or attach-daemon)',
  mules: 'kaiser has no mules (run the task as a command vassal or attach-daemon)',
  farm: 'kaiser has no mules (run the task as a command vassal or attach-daemon)',
  'zerg*': 'kaiser has no zerg mode (scale with processes or fleet replicas)',
  'emperor-broodlord': 'kaiser has no zerg mode (scale with processes or fleet replicas)',
  'vassal-sos*': 'kaiser has no zerg mode (scale with processes or fleet replicas)',
  'legion*': 'kaiser has no legions (fleet mode elects where vassals run)',
  vhost: 'virtual hosting by request variables loads code named by the client: kaiser runs one app per vassal (one vassal file per host, routed with domain = …)',
  'fastrouter*': 'routers run in the emperor (--emperor-http), not inside a vassal',
  'rawrouter*': 'routers run in the emperor (--emperor-http), not inside a vassal',
  'sslrouter*': 'routers run in the emperor (--emperor-http), not inside a vassal',
};

const REFUSED_PREFIXES = Object.keys(UWSGI_REFUSED).filter((key) => key.endsWith('*')).map((key) => key.slice(0, -1));

/** Why kaiser refuses the uWSGI option `name`, or undefined when it does not (or `name` is no uWSGI option). */
export function refusalReason(name: string): string | undefined {
  if (BY_NAME.has(name) || !isUwsgiOptionName(name)) return undefined;
  const exact = UWSGI_REFUSED[name];
  if (exact !== undefined) return exact;
  const prefix = REFUSED_PREFIXES.find((p) => name.startsWith(p));
  return prefix === undefined ? undefined : UWSGI_REFUSED[`${prefix}*`];
}

/** Whether `name` is a uWSGI option kaiser neither has nor refuses: accepted with a KAISER_CONFIG_NOT_APPLIED warning. */
export function isNotAppliedUwsgiOption(name: string): boolean {
  return !BY_NAME.has(name) && isUwsgiOptionName(name) && refusalReason(name) === undefined;
}
