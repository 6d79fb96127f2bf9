"""The option names of what front.py puts in front of a WSGI app (issue 15), apart from the code that applies them.

An ASGI worker applies none of them (it has its own HTTP layer) and only names the ones set (`not_applied`): kept
here, that warning costs it this module, not the routing chain, the actions, `wsgi.py` and the client I/O that
front.py imports (issue 17: 0.3 MB less private memory in a 1-worker FastAPI vassal's worker). routing.py reads its
subjects here, so the names exist once.
"""

# Where each routing option takes its subject from (None: `route-run`, no subject, always runs).
ROUTE_SUBJECTS = {
    'route': 'PATH_INFO', 'route-host': 'HTTP_HOST', 'route-uri': 'REQUEST_URI', 'route-qs': 'QUERY_STRING',
    'route-remote-addr': 'REMOTE_ADDR', 'route-user-agent': 'HTTP_USER_AGENT', 'route-referer': 'HTTP_REFERER',
    'route-remote-user': 'REMOTE_USER', 'route-run': None,
}
ROUTE_CONDITIONAL = ('route-if', 'route-if-not')   # a condition (route_conditions.py) instead of a subject's regexp
ROUTE_KEYS = tuple(ROUTE_SUBJECTS) + ROUTE_CONDITIONAL + ('route-label',)
SERVING_KEYS = ('add-header', 'mount', 'static-map', 'static-map2', 'check-static') + ROUTE_KEYS


def not_applied(cfg):
    """The serving options `cfg` sets that an ASGI worker does not apply (it has its own HTTP layer)."""
    return [k for k in SERVING_KEYS if cfg.get(k)]
