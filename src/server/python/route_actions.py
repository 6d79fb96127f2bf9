"""The routing actions kaiser implements (issue 15), as uWSGI 2.0 has them (core/routing.c and the router_rewrite,
router_redirect and router_basicauth plugins): each name maps to a factory that reads the action's argument once,
at worker start, and returns the function routing.py calls for a matching request.

Owns: what each action does to the request (`RouteState` of routing.py) and the answers it gives: `continue`/`last`,
`break` (with a status: that head and no body; without: the connection is dropped), `return`/`break-with-status`,
`redirect`/`redirect-302`, `redirect-permanent`/`redirect-301`, `rewrite`, `rewrite-last`, `basicauth`,
`basicauth-next`, `addheader`, `delheader`/`remheader`, `addvar`, `setpathinfo`, `setscriptname`, `setmethod`,
`seturi`, `setremoteaddr`, `setdocroot`, `setscheme`, `setuser`, `fixpathinfo`, `log`, `logvar`, `donotlog`,
`donotoffload`, `goto`. Any other action is refused when the config is read (src/config/serving-options.ts keeps the
same list; a test compares them).
"""
from . import basicauth
from . import log
from .http import unquote
from .loader import LoadError

NEXT, CONTINUE, BREAK = 0, 1, 2

# uWSGI's table of status messages (core/init.c), for `return:CODE`.
STATUS_MESSAGES = {
    '200': 'OK', '302': 'Found', '404': 'Not Found', '500': 'Internal Server Error', '301': 'Moved Permanently',
    '304': 'Not Modified', '303': 'See Other', '403': 'Forbidden', '307': 'Temporary Redirect', '401': 'Unauthorized',
    '400': 'Bad Request', '405': 'Method Not Allowed', '408': 'Request Timeout', '100': 'Continue',
    '101': 'Switching Protocols', '201': 'Created', '202': 'Accepted', '203': 'Non-Authoritative Information',
    '204': 'No Content', '205': 'Reset Content', '206': 'Partial Content', '300': 'Multiple Choices',
    '305': 'Use Proxy', '402': 'Payment Required', '406': 'Not Acceptable', '407': 'Proxy Authentication Required',
    '409': 'Conflict', '410': 'Gone', '411': 'Length Required', '412': 'Precondition Failed',
    '413': 'Request Entity Too Large', '414': 'Request-URI Too Long', '415': 'Unsupported Media Type',
    '416': 'Requested Range Not Satisfiable', '417': 'Expectation Failed', '418': "I'm a teapot",
    '422': 'Unprocessable Entity', '425': 'Too Early', '426': 'Upgrade Required', '428': 'Precondition Required',
    '429': 'Too Many Requests', '431': 'Request Header Fields Too Large', '451': 'Unavailable For Legal Reasons',
    '501': 'Not Implemented', '502': 'Bad Gateway', '503': 'Service Unavailable', '504': 'Gateway Timeout',
    '505': 'HTTP Version Not Supported', '509': 'Bandwidth Limit Exceeded', '511': 'Network Authentication Required',
}


class RouteError(LoadError):
    """A routing rule kaiser cannot run: its message names the option and the rule (the worker reports it as an
    app that failed to load)."""


def _translate(st, match, text):
    from .routing import translate
    return translate(st, match, text)


def header_pair(line):
    """('Name', 'value') of a raw header line `Name: value`, or None when it has no colon."""
    name, colon, value = line.partition(':')
    if not colon or not name.strip():
        return None
    return name.strip(), value.strip(' \t')


# ── flow ─────────────────────────────────────────────────────────────────────────────────────

def _continue(arg, key, text):
    return lambda st, rule, m: CONTINUE


def _break(arg, key, text):
    def run(st, rule, m):
        if len(arg) < 3:
            st.drop = True
            return BREAK
        return st.answer(arg, [('Connection', 'close'), ('Content-Type', 'text/plain')], b'')
    return run


def _return(arg, key, text):
    def run(st, rule, m):
        msg = STATUS_MESSAGES.get(arg[:3]) if len(arg) >= 3 else None
        if msg is None:
            st.drop = True
            return BREAK
        body = msg.encode()
        return st.answer('%s %s' % (arg, msg), [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))],
                         body)
    return run


def _goto(arg, key, text):
    def run(st, rule, m):
        st.goto = _translate(st, m, arg) or '0'
        return NEXT
    return run


# ── answers ──────────────────────────────────────────────────────────────────────────────────

def _redirect(status, body):
    def factory(arg, key, text):
        def run(st, rule, m):
            return st.answer(status, [('Location', _translate(st, m, arg))], body)
        return run
    return factory


def _rewrite(last):
    def factory(arg, key, text):
        def run(st, rule, m):
            target = _translate(st, m, arg)
            path, q, qs = target.partition('?')
            env = st.env
            old_qs = env.get('QUERY_STRING') or ''
            if q:
                if old_qs:
                    qs = qs + '&' + old_qs
            else:
                qs = old_qs
            env['PATH_INFO'] = unquote(path)
            env['QUERY_STRING'] = qs
            return CONTINUE if last else NEXT
        return run
    return factory


def _basicauth(next_on_failure):
    def factory(arg, key, text):
        realm, comma, credentials = arg.partition(',')
        if not comma:
            raise RouteError('%s = %s: invalid route syntax (basicauth:REALM,USER:PASSWORD or REALM,HTPASSWD)'
                             % (key, text))
        check = basicauth.Check(realm, credentials, next_on_failure)

        def run(st, rule, m):
            user = check.user(st.env)
            if user is not None:
                if user:
                    st.env['REMOTE_USER'] = user
                return NEXT
            return st.answer('401 Authorization Required', [('WWW-Authenticate', 'Basic realm="%s"' % realm)],
                             b'Unauthorized')
        return run
    return factory


# ── the request and the response's headers ──────────────────────────────────────────────────

def _addheader(arg, key, text):
    def run(st, rule, m):
        pair = header_pair(_translate(st, m, arg))
        if pair is not None:
            st.add_headers.append(pair)
        return NEXT
    return run


def _delheader(arg, key, text):
    def run(st, rule, m):
        st.del_headers.append(_translate(st, m, arg).lower())
        return NEXT
    return run


def _key_value(arg, key, text, action):
    """KEY and VALUE of an `addvar:KEY=VALUE` or `logvar:KEY=VALUE` argument."""
    name, eq, value = arg.partition('=')
    if not eq:
        raise RouteError('%s = %s: invalid %s syntax, must be KEY=VALUE' % (key, text, action))
    return name, value


def _addvar(arg, key, text):
    name, value = _key_value(arg, key, text, 'addvar')

    def run(st, rule, m):
        st.env[name] = _translate(st, m, value)
        return NEXT
    return run


def _setvar(var, also=None):
    def factory(arg, key, text):
        def run(st, rule, m):
            value = _translate(st, m, arg)
            st.env[var] = value
            if also is not None:
                st.env[also] = value
            return NEXT
        return run
    return factory


def _setuser(arg, key, text):
    def run(st, rule, m):
        st.env['REMOTE_USER'] = _translate(st, m, arg).partition(':')[0]
        return NEXT
    return run


def _fixpathinfo(arg, key, text):
    def run(st, rule, m):
        sn = st.env.get('SCRIPT_NAME') or ''
        if sn:
            st.env['PATH_INFO'] = (st.env.get('PATH_INFO') or '')[len(sn):]
        return NEXT
    return run


# ── logging ──────────────────────────────────────────────────────────────────────────────────

def _log(arg, key, text):
    def run(st, rule, m):
        log.log(_translate(st, m, arg))
        return NEXT
    return run


def _logvar(arg, key, text):
    name, value = _key_value(arg, key, text, 'logvar')

    def run(st, rule, m):
        from .uwsgi_module import _set_logvar
        _set_logvar(name, _translate(st, m, value))
        return NEXT
    return run


def _donotlog(arg, key, text):
    def run(st, rule, m):
        st.dont_log = True
        return NEXT
    return run


def _nothing(arg, key, text):
    return lambda st, rule, m: NEXT


ACTIONS = {
    'continue': _continue, 'last': _continue, 'break': _break, 'return': _return, 'break-with-status': _return,
    'goto': _goto,
    'redirect': _redirect('302 Found', b'Moved'), 'redirect-302': _redirect('302 Found', b'Moved'),
    'redirect-permanent': _redirect('301 Moved Permanently', b'Moved Permanently'),
    'redirect-301': _redirect('301 Moved Permanently', b'Moved Permanently'),
    'rewrite': _rewrite(False), 'rewrite-last': _rewrite(True),
    'basicauth': _basicauth(False), 'basicauth-next': _basicauth(True),
    'addheader': _addheader, 'delheader': _delheader, 'remheader': _delheader, 'addvar': _addvar,
    'setpathinfo': _setvar('PATH_INFO'), 'setscriptname': _setvar('SCRIPT_NAME'),
    'setmethod': _setvar('REQUEST_METHOD'), 'seturi': _setvar('REQUEST_URI'),
    'setremoteaddr': _setvar('REMOTE_ADDR'), 'setdocroot': _setvar('DOCUMENT_ROOT'),
    'setscheme': _setvar('UWSGI_SCHEME', 'wsgi.url_scheme'), 'setuser': _setuser, 'fixpathinfo': _fixpathinfo,
    'log': _log, 'logvar': _logvar, 'donotlog': _donotlog, 'donotoffload': _nothing,
}
