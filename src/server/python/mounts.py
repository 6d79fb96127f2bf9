"""`mount = /PATH=APP` and `manage-script-name` (issue 15): several WSGI apps in one worker, chosen per request as
uWSGI 2.0 chooses them (core/protocol.c, core/utils.c `uwsgi_get_app_id`, plugins/python).

Owns: loading the mounted apps (after the main one, in the order of the `mount` lines; `APP` is a `.py`/`.wsgi` file
or `module:callable`, as uWSGI's mount loader reads it) and picking one for a request:
  - with `manage-script-name`, the longest mount point that is a prefix of PATH_INFO ending at a `/` (or at its end;
    a trailing `/` of the mount point is ignored, `/` alone never matches) becomes SCRIPT_NAME and leaves PATH_INFO;
  - the app is the one whose mount point equals `UWSGI_APPID`, else SCRIPT_NAME (nginx's `uwsgi_param SCRIPT_NAME`
    selects it too), else the default app: the first one loaded whose mount point is empty or starts with `/` (uWSGI
    2.0's rule; a mount point such as an unset `$(PREFIX)` left literal makes no default app, and then every other
    request is answered 500, as uWSGI answers it).
"""
from . import log
from . import loader


class Mounts:
    """The apps of a worker with their mount points, in load order; the first is the default app."""

    __slots__ = ('apps', 'manage', 'default')

    def __init__(self, apps, manage):
        self.apps = apps
        self.manage = manage
        self.default = next((app for point, app in apps if not point or point[0] == '/'), no_app)

    @classmethod
    def from_config(cls, app, cfg):
        """A Mounts when the config mounts apps (None when one app serves every path the same way). The main app
        (`wsgi-file`/`module`) is the first; when it came from the first `mount` line (kaiser names the app from it
        when no other app option does), it has that mount point."""
        lines = [str(v) for v in cfg.get('mount') or []]
        manage = bool(cfg.get('manage-script-name'))
        if not lines:
            return None
        mounts = []
        for line in lines:
            point, eq, target = line.partition('=')
            if not eq:
                raise loader.LoadError('mount = %s: invalid mountpoint (/PATH=APP)' % line)
            mounts.append((point.strip(), target.strip()))
        first_point, first_target = mounts[0]
        if first_target in (cfg.get('wsgi-file'), cfg.get('module')):
            apps = [(first_point, app)]
            rest = mounts[1:]
        else:
            apps = [('', app)]
            rest = mounts
        for point, target in rest:
            apps.append((point, load_mounted(cfg, target)))
        if len(apps) == 1 and not manage and (not apps[0][0] or apps[0][0][0] == '/'):
            return None
        return cls(apps, manage)

    def select(self, env):
        """The app for the request of `env`, after moving its mount point from PATH_INFO to SCRIPT_NAME when
        `manage-script-name` is set."""
        if self.manage:
            path = env.get('PATH_INFO') or ''
            if len(path) > 1:
                best = 0
                for point, _ in self.apps:
                    n = len(point)
                    if n and point[-1] == '/':
                        n -= 1
                    if len(path) < n or n <= best or not path.startswith(point[:n]) or (len(path) > n and path[n] != '/'):
                        continue
                    best = n
                    env['SCRIPT_NAME'] = point
                    env['PATH_INFO'] = path[len(point):]
        key = env.get('UWSGI_APPID') or env.get('SCRIPT_NAME') or ''
        for point, app in self.apps:
            if point == key:
                return app
        return self.default


def no_app(env, start_response):
    """What a request gets when no app is mounted where it asks and there is no default app."""
    log.log('--- no python application found, check your startup logs for errors ---')
    start_response('500 Internal Server Error', [('Content-Type', 'text/plain')])
    return [b'Internal Server Error']


def load_mounted(cfg, target):
    """The callable of a mounted app: a `.py`/`.wsgi` file, or `module[:callable]`."""
    sub = dict(cfg)
    sub['cgi'] = sub['php-docroot'] = sub['asgi'] = None
    if target.endswith(('.py', '.wsgi')) or '/' in target and ':' not in target:
        sub['wsgi-file'] = target
        sub['module'] = None
    else:
        sub['wsgi-file'] = None
        sub['module'] = target
    return loader.load(sub)
