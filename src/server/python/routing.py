"""uWSGI's internal routing (issue 15): the request chain of `route`, `route-run`, `route-host`, `route-uri`,
`route-qs`, `route-remote-addr`, `route-user-agent`, `route-referer`, `route-remote-user`, `route-if`,
`route-if-not` (their conditions are route_conditions.py's) and `route-label`, as uWSGI 2.0's core/routing.c runs it.

Owns: reading the rules in the order the config set them (`rules`), running them over one request (`apply`), and
the text of an action's argument (`translate`: `$N` regexp captures first, then `${VAR}` request variables and
`${qs[..]}`, `${cookie[..]}`, `${uwsgi[..]}`, `${time[..]}`, `${httptime[..]}`, `${mime[..]}`, `${base64[..]}`,
`${hex[..]}` route variables). The actions themselves are route_actions.py's; front.py runs the chain before the
app. A rule matches with a regexp *search* (PCRE's pcre_exec, unanchored) on its subject; an action answers NEXT
(go on with the next rule), CONTINUE (stop routing, run the app) or BREAK (the request is answered or dropped).
"""
import base64
import os
import re
import time

from . import log
from .route_actions import ACTIONS, BREAK, CONTINUE, NEXT, RouteError
from .route_conditions import Condition
from .serving_keys import ROUTE_CONDITIONAL, ROUTE_KEYS, ROUTE_SUBJECTS


class Rule:
    """One entry of the chain: a label, or an action with its subject and regexp (None for route-run)."""

    __slots__ = ('pos', 'key', 'subject', 'regexp', 'condition', 'label', 'name', 'arg', 'run', 'text')

    def __init__(self, pos, key, text):
        self.pos = pos
        self.key = key
        self.text = text
        self.subject = ROUTE_SUBJECTS.get(key)
        self.regexp = self.condition = self.label = self.name = self.arg = self.run = None
        if key == 'route-label':
            self.label = text
            return
        command = text
        if key in ROUTE_CONDITIONAL:
            part, space, command = text.partition(' ')
            if not space:
                raise RouteError('%s = %s: invalid route syntax (CONDITION:ARGS ACTION:ARGS)' % (key, text))
            self.condition = Condition(key, part, text)
        elif self.subject is not None:
            pattern, space, command = text.partition(' ')
            if not space:
                raise RouteError('%s = %s: invalid route syntax (REGEXP ACTION:ARGS)' % (key, text))
            try:
                self.regexp = re.compile(pattern)
            except re.error as e:
                raise RouteError('%s = %s: bad regexp %r: %s' % (key, text, pattern, e))
        name, colon, arg = command.partition(':')
        if not colon:
            raise RouteError('%s = %s: invalid route syntax (the action needs a colon: %s:)' % (key, text, name))
        factory = ACTIONS.get(name)
        if factory is None:
            raise RouteError('%s = %s: routing action "%s" is not implemented by kaiser' % (key, text, name))
        self.name = name
        self.arg = arg
        self.run = factory(arg, key, text)


def ordered_entries(cfg):
    """[(key, value)] of the routing options in the order the config set them: from `_opt` (the file as read) when
    it holds them all, else option by option."""
    wanted = {k: list(cfg.get(k) or []) for k in ROUTE_KEYS}
    flat = cfg.get('_opt') or []
    from_opt = []
    for i in range(0, len(flat) - 1, 2):
        if flat[i] in wanted:
            from_opt.append((flat[i], str(flat[i + 1])))
    if sorted(from_opt) == sorted((k, v) for k, vs in wanted.items() for v in vs):
        return from_opt
    return [(k, v) for k in ROUTE_KEYS for v in wanted[k]]


def rules(cfg):
    """The chain of `cfg` (empty when it has no routing option). Raises RouteError naming the key."""
    return [Rule(pos, key, text) for pos, (key, text) in enumerate(ordered_entries(cfg))]


class RouteState:
    """One request going through the chain: its environ, the response a rule gave (status, headers, body), and what
    rules asked of the app's response (headers to add or remove, not logging it)."""

    __slots__ = ('env', 'response', 'drop', 'add_headers', 'del_headers', 'dont_log', 'goto', 'pc', 'worker_id')

    def __init__(self, env, worker_id=0):
        self.env = env
        self.response = None
        self.drop = False
        self.add_headers = []
        self.del_headers = []
        self.dont_log = False
        self.goto = 0
        self.pc = 0
        self.worker_id = worker_id

    def answer(self, status, headers, body):
        self.response = (status, headers, body)
        return BREAK


def apply(chain, st):
    """Runs `chain` over the request of `st`: CONTINUE (run the app) or BREAK (answered: st.response, or dropped)."""
    labels = None
    for rule in chain:
        st.pc = rule.pos
        if rule.label is not None:
            continue
        if st.goto:
            if rule.pos < st.goto:
                continue
            st.goto = 0
        match = subject = None
        if rule.condition is not None:
            runs, match = rule.condition.check(st, translate)
            if runs is None:        # uWSGI: a condition that fails ends the request, unanswered
                st.drop = True
                return BREAK
            if not runs:
                continue
        elif rule.regexp is not None:
            subject = st.env.get(rule.subject)
            if not isinstance(subject, str):
                subject = ''
            match = rule.regexp.search(subject)
            if match is None:
                continue
        ret = rule.run(st, rule, match)
        if ret == NEXT:
            if st.goto:
                if labels is None:
                    labels = {r.label: r.pos for r in chain if r.label is not None}
                target = st.goto
                if isinstance(target, str):
                    target = labels.get(target, _atoi(target))
                if target <= rule.pos:
                    st.goto = 0
                    log.log('[uwsgi-route] ERROR "goto" instruction can only jump forward (check your label !!!)')
                    st.drop = True
                    return BREAK
                st.goto = target
            continue
        return ret
    return CONTINUE


def _atoi(text):
    m = re.match(r'\s*([+-]?\d+)', text)
    return int(m.group(1)) if m else 0


# ── the argument's text ──────────────────────────────────────────────────────────────────────

def translate(st, match, text):
    """`text` with `$N` replaced by capture N of `match` (uwsgi_regexp_apply_ovec: a group past the pattern's count
    vanishes, `$` before anything else stays), then `${VAR}` by request and route variables (a missing one is
    empty; an unclosed `${` stays as written)."""
    if '$' not in text:
        return text
    if match is not None:
        groups = match.re.groups

        def capture(t, at):
            if at + 1 >= len(t):
                return '', at + 1              # a last `$` vanishes in uWSGI's first pass
            d = t[at + 1]
            if not (d.isdigit() and d.isascii()):
                return '$' + d, at + 2
            k = ord(d) - 48
            return ((match.group(k) or '') if k <= groups else ''), at + 2
        text = _each_dollar(text, capture)

    def var(t, at):
        if at + 1 >= len(t):
            return '$', at + 1
        if t[at + 1] != '{':
            return '$' + t[at + 1], at + 2
        end = t.find('}', at + 2)
        if end < 0:
            return t[at:], len(t)
        return variable(st, t[at + 2:end]), end + 1
    return _each_dollar(text, var)


def _each_dollar(text, replace):
    """`text` with each `$…` replaced: `replace(text, index of $)` gives the new text and where to go on."""
    out = []
    i = 0
    while True:
        j = text.find('$', i)
        if j < 0:
            out.append(text[i:])
            return ''.join(out)
        out.append(text[i:j])
        piece, i = replace(text, j)
        out.append(piece)


def variable(st, key):
    """The value of `${key}`: `name[arg]` of a route variable, else the request variable, else ''."""
    if key.endswith(']'):
        b = key.find('[')
        if b >= 0:
            fn = ROUTE_VARS.get(key[:b])
            if fn is not None:
                return fn(st, key[b + 1:-1]) or ''
    v = st.env.get(key)
    return v if isinstance(v, str) else ''


def _qs(st, name):
    for part in (st.env.get('QUERY_STRING') or '').split('&'):
        k, eq, v = part.partition('=')
        if eq and k == name:
            return v
    return ''


def _cookie(st, name):
    for part in (st.env.get('HTTP_COOKIE') or '').split(';'):
        k, eq, v = part.strip().partition('=')
        if eq and k == name:
            return v
    return ''


def _uwsgi(st, name):
    if name == 'wid':
        return str(st.worker_id)
    if name == 'pid':
        return str(os.getpid())
    if name == 'uuid':
        import uuid
        return str(uuid.uuid4())
    if name == 'sor':
        return str(int(time.time() * 1000000))
    return ''


def _time(st, name):
    if name == 'unix':
        return str(int(time.time()))
    if name == 'micros':
        return str(int(time.time() * 1000000))
    return ''


def _httptime(s):
    from .static_files import http_date
    return http_date(int(time.time()) + _atoi(s))


def _mime(st, name):
    from .static_files import mime_type
    v = st.env.get(name)
    return (mime_type(v) or '') if isinstance(v, str) else ''


def _b64(st, name):
    v = st.env.get(name)
    return base64.b64encode(v.encode('latin-1')).decode() if isinstance(v, str) else ''


def _hex(st, name):
    v = st.env.get(name)
    return v.encode('latin-1').hex() if isinstance(v, str) else ''


ROUTE_VARS = {
    'qs': _qs, 'cookie': _cookie, 'uwsgi': _uwsgi, 'time': _time, 'mime': _mime, 'base64': _b64, 'hex': _hex,
    'httptime': lambda st, s: _httptime(s),
}
