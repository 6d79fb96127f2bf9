"""uWSGI's routing conditions (issue 15): `route-if = CONDITION:ARGS ACTION:ARGS` and `route-if-not`, as uWSGI 2.0's
core/routing.c evaluates them.

Owns: the conditions by name (`CONDITIONS`: uWSGI's names and aliases), parsing a rule's condition part, and testing
it against one request. The condition's text is translated as an action's argument is (`${VAR}`, route variables;
routing.translate); the conditions that compare two texts split it at its first `;` first and translate each side
(without a `;` such a condition is false, as in uWSGI). `regexp` (`re`) takes its pattern as written and keeps its
match, so the action sees `$1`… of it. routing.py runs the
chain; a condition answers True, False, or None for an error (uWSGI's -1: the request ends there, unanswered).
"""
import ipaddress
import os
import re

from .route_actions import RouteError


def _strtol(text):
    """C's strtol(text, NULL, 10): leading blanks, a sign, the digits that follow; 0 when there are none."""
    m = re.match(r'\s*([+-]?\d+)', text)
    return int(m.group(1)) if m else 0


def _regexp(subject, pattern):
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None, None       # uWSGI: a pattern that does not build is an error (-1)
    match = compiled.search(subject)
    return match is not None, match


def _ip_in(version, ip_len, net_len):
    """ipv4in / ipv6in: `ip` inside the network `net` (ADDR or ADDR/BITS); too long a text is an error, as the fixed
    buffers of uWSGI make it."""
    def condition(ip, net):
        if len(ip) > ip_len or len(net) >= net_len:
            return None, None
        addr, slash, bits = net.partition('/')
        try:
            prefix = int(bits) if slash else (32 if version == 4 else 128)
            network = ipaddress.ip_network('%s/%d' % (addr, prefix), strict=False)
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False, None
        return network.version == address.version == version and address in network, None
    return condition


def _one(test):
    """A condition on one text (a path, or emptiness)."""
    return lambda text: (test(text), None)


def _two(test):
    """A condition comparing two texts."""
    return lambda a, b: (test(a, b), None)


def _numbers(test):
    return _two(lambda a, b: test(_strtol(a), _strtol(b)))


# name -> (operands, test): one operand gets the whole translated text; two get the texts before and after the first
# `;`, each translated (`regexp`'s pattern is taken as written).
CONDITIONS = {
    'exists': (1, _one(lambda p: bool(p) and os.path.exists(p))),
    'isfile': (1, _one(lambda p: bool(p) and os.path.isfile(p))),
    'isdir': (1, _one(lambda p: bool(p) and os.path.isdir(p))),
    'islink': (1, _one(lambda p: bool(p) and os.path.islink(p))),
    'isexec': (1, _one(lambda p: bool(p) and os.access(p, os.X_OK))),
    'empty': (1, _one(lambda text: text == '')),
    'equal': (2, _two(lambda a, b: a == b)),
    'startswith': (2, _two(lambda a, b: a.startswith(b))),
    'endswith': (2, _two(lambda a, b: a.endswith(b))),
    'contains': (2, _two(lambda a, b: b in a)),
    'ishigher': (2, _numbers(lambda a, b: a > b)),
    'ishigherequal': (2, _numbers(lambda a, b: a >= b)),
    'islower': (2, _numbers(lambda a, b: a < b)),
    'islowerequal': (2, _numbers(lambda a, b: a <= b)),
    'ipv4in': (2, _ip_in(4, 15, 18)),
    'ipv6in': (2, _ip_in(6, 39, 43)),
    'regexp': (2, _regexp),
}
for _alias, _name in (('isequal', 'equal'), ('eq', 'equal'), ('==', 'equal'), ('re', 'regexp'), ('>', 'ishigher'),
                      ('>=', 'ishigherequal'), ('<', 'islower'), ('<=', 'islowerequal'), ('contain', 'contains')):
    CONDITIONS[_alias] = CONDITIONS[_name]


class Condition:
    """The condition part of a `route-if` / `route-if-not` rule: its name, its (untranslated) text, negation."""

    __slots__ = ('name', 'text', 'negate', 'operands', 'test')

    def __init__(self, key, part, rule):
        name, colon, text = part.partition(':')
        if not colon:
            raise RouteError('%s = %s: invalid route condition syntax (CONDITION:ARGS)' % (key, rule))
        found = CONDITIONS.get(name)
        if found is None:
            raise RouteError('%s = %s: unable to find "%s" route condition' % (key, rule, name))
        self.name = name
        self.text = text
        self.negate = key == 'route-if-not'
        self.operands, self.test = found

    def check(self, st, translate):
        """(whether the action runs, or None for an error; the regexp match for `$N`) for the request of `st`."""
        if self.operands == 1:
            result, match = self.test(translate(st, None, self.text))
        else:
            left, semi, right = self.text.partition(';')
            if not semi:
                return self.negate, None        # no `;`: the condition is false
            if self.test is not _regexp:
                right = translate(st, None, right)
            result, match = self.test(translate(st, None, left), right)
        if result is None:
            return None, None
        if self.negate:
            return not result, None
        return result, match
