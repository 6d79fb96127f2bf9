"""What uWSGI does to a request before and around the app (issue 15), as one WSGI callable in front of it:
`mount` + `manage-script-name` (which app, SCRIPT_NAME/PATH_INFO), static files (`static-map`, `check-static`,
static_files.py), the routing chain (routing.py), and the response headers of `add-header` and of the
`addheader`/`delheader` actions. uWSGI's order is kept: the mount point is split off first, then a static file is
looked for (the routing chain runs before it is sent), then the chain, then the app.

Owns: building the front at worker start (`wrap`: the app itself when none of these options is set, so a plain
vassal pays nothing) and the path of one request through it. The answers it gives go through the worker's usual
response path (wsgi.py): framing, HEAD, sendfile for files, keep-alive.
"""
from . import log
from . import routing
from . import uwsgi_module
from .record import Record
from .route_actions import BREAK, header_pair
from .serving_keys import SERVING_KEYS
from .wsgi import DropConnection


def wrap(app, cfg, worker_id=0):
    """`app`, or a Front around it when the config asks for anything of this module. Raises RouteError."""
    if not any(cfg.get(k) for k in SERVING_KEYS):
        # none of them set: nothing below to build (issue 13: each object it made, each function it ran, copied a
        # page of the runtime host into every forked worker)
        return app
    chain = routing.rules(cfg)
    headers = added_headers(cfg)
    from .mounts import Mounts
    mounts = Mounts.from_config(app, cfg)
    from .static_files import StaticFiles
    static = StaticFiles.from_config(cfg)
    if not chain and not headers and mounts is None and static is None:
        return app
    return Front(app, chain, headers, mounts, static, worker_id)



def added_headers(cfg):
    """The `add-header` lines as (name, value); a line without a colon is reported and skipped."""
    out = []
    for line in cfg.get('add-header') or []:
        pair = header_pair(str(line))
        if pair is None:
            log.log('add-header = %s: not a header (NAME: VALUE), ignored' % line)
            continue
        out.append(pair)
    return out


class Front(Record):
    """The WSGI callable the request cores run instead of the app: the app, the routing chain, the `add-header`
    pairs, the Mounts and the StaticFiles (None when not configured), and the worker id."""

    __slots__ = ('app', 'chain', 'headers', 'mounts', 'static', 'worker_id')

    def __call__(self, env, start_response):
        st = routing.RouteState(env, self.worker_id)
        app = self.app
        if self.mounts is not None:
            app = self.mounts.select(env)
        routed = False
        if self.static is not None:
            found = self.static.find(env)
            if found is not None:
                routed = True
                if self.chain and routing.apply(self.chain, st) == BREAK:
                    return self._routed(st, start_response)
                return self.static.serve(env, found, self._start(st, start_response))
        if self.chain and not routed:
            if routing.apply(self.chain, st) == BREAK:
                return self._routed(st, start_response)
        if st.dont_log:
            uwsgi_module.skip_log()
        return app(env, self._start(st, start_response))

    def _routed(self, st, start_response):
        if st.dont_log:
            uwsgi_module.skip_log()
        if st.response is None:
            raise DropConnection()
        status, headers, body = st.response
        self._start(st, start_response)(status, headers)
        return [body]

    def _start(self, st, start_response):
        """start_response with the response headers the options and the rules asked for."""
        extra = self.headers + st.add_headers if st.add_headers else self.headers
        dels = st.del_headers
        if not extra and not dels:
            return start_response

        def respond(status, headers, exc_info=None):
            if dels:
                headers = [h for h in headers if h[0].lower() not in dels]
            return start_response(status, list(headers) + extra, exc_info)
        return respond
