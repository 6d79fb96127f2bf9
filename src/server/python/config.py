"""Reading the server configuration: the KAISER_CONFIG JSON of docs/runtime-protocol.md §1.

Owns: parsing, filling defaults for keys a hand-written config may omit, and the small
accessors the rest of the server uses (socket list, booleans, mode of chmod-socket).
"""
import os

from . import minijson

# Every `server` option of src/options.ts with its default there (test/server/python-config.test.ts keeps them
# equal, and the typed key lists below in step with the option types). The launcher always sends every key; these
# make a hand-written KAISER_CONFIG work.
DEFAULTS = {
    'http': [], 'http-socket': [], 'socket': [], 'chmod-socket': None, 'listen': 100, 'buffer-size': 4096,
    'vacuum': False, 'wsgi-file': None, 'module': None, 'callable': 'application', 'node-app': None,
    'chdir': None, 'pythonpath': [], 'virtualenv': None, 'env': {}, 'need-app': True, 'plugin': [],
    'master': False, 'processes': 1, 'threads': 1, 'harakiri': 0, 'max-requests': 0, 'reload-on-rss': 0,
    'worker-reload-mercy': 60, 'reload-mercy': 30, 'load-nice': 0, 'reload-mode': 'chain', 'touch-reload': [],
    'touch-chain-reload': [], 'master-fifo': [], 'pidfile': None, 'heartbeat': 0, 'socket-timeout': 4,
    'request-read-timeout': 60, 'post-buffering': None,
    'disable-logging': False, 'stats': None, 'stats-http': False, 'stats-minified': False,
    'memory-report': False, 'log-format': 'human', 'python': None, 'logto': None, 'enable-threads': False,
    'lazy-apps': False, 'die-on-term': False,
    # other languages (kinds.py; cgi.py and php.py for the forked bridges)
    'psgi': None, 'rack': None, 'lua': None, 'cgi': [], 'cgi-allowed-ext': [], 'cgi-index': [], 'cgi-helper': [],
    'cgi-timeout': 0, 'php-docroot': None, 'php-index': [], 'php-allowed-ext': [], 'php-set': [], 'php-ini': None,
    'perl-bin': None, 'ruby-bin': None, 'lua-bin': None, 'php-cgi-bin': None, 'http-socket-modifier1': None,
    'http-socket-modifier2': None,
    # subscriptions to uWSGI subscription servers (subscriber.py)
    'subscribe-to': [], 'subscribe2': [], 'subscribe-freq': 10,
    # applied by the TypeScript config layer before the master starts (strict ini parsing, socket protocol)
    'strict': False, 'protocol': None,
    # ASGI (asgi/)
    'asgi': None, 'asgi-loop': 'auto', 'asgi-lifespan': 'auto', 'asgi-max-concurrency': 1000, 'limit-post': 0,
    'websockets-ping-freq': 30, 'websockets-pong-tolerance': 3, 'websockets-max-size': 1024,
    # uWSGI's logging options (request_log.py, loggers.py)
    'log-date': None, 'logformat': None, 'log-x-forwarded-for': False, 'log-4xx': False, 'log-5xx': False,
    'log-slow': None, 'log-big': None, 'log-zero': False, 'log-micros': False, 'log-prefix': None, 'logger': [],
    'req-logger': [], 'log-route': [], 'log-req-route': [],
    # uWSGI's process titles (procname.py)
    'procname': None, 'procname-prefix': None, 'procname-prefix-spaced': None, 'procname-append': None,
    'procname-master': None, 'auto-procname': False,
    # managed helpers (daemons.py, cron.py)
    'attach-daemon': [], 'attach-daemon2': [], 'smart-attach-daemon': [], 'smart-attach-daemon2': [], 'cron': [],
    'cron2': [], 'unique-cron': [],
    # what a worker does before and around the app (front.py, routing.py)
    'add-header': [], 'route': [], 'route-run': [], 'route-host': [], 'route-uri': [], 'route-qs': [],
    'route-remote-addr': [], 'route-user-agent': [], 'route-referer': [], 'route-remote-user': [], 'route-label': [],
    'route-if': [], 'route-if-not': [],
    'static-map': [], 'static-map2': [], 'check-static': [], 'static-index': [], 'static-expires': [],
    'static-expires-mtime': [], 'static-expires-uri': [], 'static-expires-uri-mtime': [], 'static-expires-path-info': [],
    'static-expires-path-info-mtime': [], 'static-expires-type': [], 'static-expires-type-mtime': [],
    'static-skip-ext': [], 'static-safe': [], 'static-gzip-all': False, 'static-gzip-dir': [], 'static-gzip-ext': [],
    'mount': [], 'manage-script-name': False, 'offload-threads': None,
    # process options (worker_limits.py, worker.py, wsgi.py, sockets.py, core.py, reload.py)
    'max-worker-lifetime': None, 'max-worker-lifetime-delta': None, 'max-requests-delta': None,
    'harakiri-verbose': False, 'evil-reload-on-rss': None, 'exit-on-reload': False, 'ignore-write-errors': False,
    'disable-write-exception': False, 'http-timeout': None, 'so-keepalive': False, 'reuse-port': False,
    # adaptive workers (cheaper.py, cheap_mode.py; `idle` comes with the vassal's extras)
    'cheaper': None, 'cheaper-initial': None, 'cheaper-step': None, 'cheaper-algo': None, 'cheaper-overload': None,
    'cheaper-idle': None, 'cheaper-busyness-max': None, 'cheaper-busyness-min': None,
    'cheaper-busyness-multiplier': None, 'cheaper-busyness-backlog-alert': None, 'cheaper-busyness-backlog-step': None,
    'cheap': False, 'die-on-idle': False,
}
LIST_KEYS = tuple(k for k, v in DEFAULTS.items() if isinstance(v, list))     # `multi` options
INT_KEYS = ('processes', 'threads', 'listen', 'buffer-size', 'max-requests', 'reload-on-rss', 'http-socket-modifier1',
            'http-socket-modifier2', 'asgi-max-concurrency', 'limit-post', 'load-nice', 'websockets-max-size', 'post-buffering',
            'log-slow', 'log-big', 'offload-threads', 'max-requests-delta', 'evil-reload-on-rss', 'cheaper',
            'cheaper-initial', 'cheaper-step', 'cheaper-overload', 'cheaper-idle', 'cheaper-busyness-max',
            'cheaper-busyness-min', 'cheaper-busyness-multiplier', 'cheaper-busyness-backlog-alert',
            'cheaper-busyness-backlog-step')
SECONDS_KEYS = ('harakiri', 'worker-reload-mercy', 'reload-mercy', 'heartbeat', 'socket-timeout', 'cgi-timeout',
                'subscribe-freq', 'websockets-ping-freq', 'websockets-pong-tolerance', 'request-read-timeout',
                'max-worker-lifetime', 'max-worker-lifetime-delta', 'http-timeout')


class ConfigError(Exception):
    pass


def parse(text):
    """Parse a KAISER_CONFIG JSON text into a dict with every key present."""
    try:
        raw = minijson.loads(text) if text else {}
    except (ValueError, IndexError) as e:
        raise ConfigError('KAISER_CONFIG is not valid JSON: %s' % e)
    if not isinstance(raw, dict):
        raise ConfigError('KAISER_CONFIG must be a JSON object')
    # Keyed by the parsed text's own strings, defaults added after: copying DEFAULTS would key the dict by the
    # runtime host's strings, and their reference counts would copy ~100 of its pages into each forked master.
    cfg = {}
    for k, v in raw.items():
        cfg[k] = DEFAULTS.get(k) if v is None else v
    for k, v in DEFAULTS.items():
        if k not in cfg:
            cfg[k] = v
    for k in LIST_KEYS:
        v = cfg.get(k)
        if v is None:
            cfg[k] = []
        elif not isinstance(v, list):
            cfg[k] = [v]
    env = cfg.get('env')
    if isinstance(env, list):  # tolerate ["K=V", ...]
        cfg['env'] = dict(e.split('=', 1) for e in env if '=' in e)
    elif not isinstance(env, dict):
        cfg['env'] = {}
    for k in INT_KEYS:
        if cfg[k] is not None:      # None only for an option without a default
            cfg[k] = int(cfg[k] or 0)
    cfg['processes'] = max(1, cfg['processes'])
    cfg['threads'] = max(1, cfg['threads'])
    cfg['buffer-size'] = min(max(cfg['buffer-size'], 512), 65535)
    for k in SECONDS_KEYS:
        if cfg[k] is not None:
            cfg[k] = float(cfg[k] or 0)
    return cfg


def load():
    return parse(os.environ.get('KAISER_CONFIG', ''))


def socket_specs(cfg):
    """[(proto, address)] in a stable order: http, http-socket, then uwsgi sockets."""
    out = []
    for key, proto in (('http', 'http'), ('http-socket', 'http'), ('socket', 'uwsgi')):
        for addr in cfg.get(key) or []:
            if (proto, addr) not in out:
                out.append((proto, str(addr)))
    return out


def chmod_mode(cfg):
    """Mode for UNIX sockets, or None to leave the umask's."""
    v = cfg.get('chmod-socket')
    if v is None or v is False:
        return None
    if v is True or v == '':
        return 0o666
    try:
        return int(str(v), 8)
    except ValueError:
        raise ConfigError('chmod-socket: not an octal mode: %r' % v)


def name(cfg):
    return cfg.get('_name') or 'kaiser'
