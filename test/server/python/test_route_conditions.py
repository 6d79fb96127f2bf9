"""route_conditions: route-if / route-if-not as uWSGI evaluates them: `${VAR}` translated, two-text conditions split
at the first `;`, numbers read as strtol reads them, `regexp` captures reaching the action, an error ending the
request (also compared with real uWSGI in test/server/uwsgi-routing.int.test.ts)."""
import os
import unittest

import support
from _kaiser.route_actions import BREAK, CONTINUE, RouteError
from _kaiser.route_conditions import CONDITIONS, Condition
from _kaiser.routing import RouteState, apply, rules, translate


def check(rule_key, part, **env):
    st = RouteState(dict({'PATH_INFO': '/foo/bar', 'REMOTE_ADDR': '10.1.2.3'}, **env))
    return Condition(rule_key, part, part + ' continue:').check(st, translate)[0]


def holds(part, **env):
    return check('route-if', part, **env)


class Conditions(unittest.TestCase):
    def expect(self, cases):
        """Table-driven: (condition, extra request variables, what `holds` answers: True, False or None = error)."""
        for part, env, answer in cases:
            with self.subTest(part):
                self.assertIs(holds(part, **env), answer)

    def test_text_comparisons_on_translated_sides(self):
        self.expect([
            ('equal:${PATH_INFO};/foo/bar', {}, True), ('eq:${PATH_INFO};/foo', {}, False),
            ('startswith:${PATH_INFO};/foo/', {}, True), ('endswith:${PATH_INFO};bar', {}, True),
            ('endswith:ar;bar', {}, False), ('contains:${PATH_INFO};o/b', {}, True),
            ('==:${X};${Y}', {'X': 'a', 'Y': 'a'}, True), ('equal:${MISSING};', {}, True),
        ])

    def test_without_a_semicolon_a_two_text_condition_is_false(self):
        self.assertFalse(holds('equal:${PATH_INFO}'))
        self.assertTrue(check('route-if-not', 'equal:${PATH_INFO}'))

    def test_the_first_semicolon_splits_before_translation(self):
        self.assertFalse(holds('equal:${V}', V='a;a'))          # a `;` from a variable splits nothing
        self.assertTrue(holds('equal:${V};a;b', V='a;b'))      # the right side is everything after the first one

    def test_numbers_as_strtol_reads_them(self):
        self.assertTrue(holds('ishigher:${N};9', N='10'))
        self.assertTrue(holds('>:10abc;9'))
        self.assertTrue(holds('islower:abc;1'))       # no digits: 0
        self.assertTrue(holds('<=:-3;-3'))
        self.assertFalse(holds('ishigherequal:2;3'))

    def test_empty_and_files(self):
        self.assertTrue(holds('empty:${NOPE}'))
        self.assertFalse(holds('empty:${PATH_INFO}'))
        d = support.temp_dir(self)
        path = os.path.join(d, 'f')
        open(path, 'w').close()
        self.assertTrue(holds('isfile:%s' % path))
        self.assertFalse(holds('isdir:%s' % path))
        self.assertTrue(holds('isdir:%s' % d))
        self.assertTrue(holds('exists:%s' % path))
        self.assertFalse(holds('exists:'))
        self.assertFalse(holds('isexec:%s' % path))

    def test_networks(self):
        self.expect([
            ('ipv4in:${REMOTE_ADDR};10.0.0.0/8', {}, True), ('ipv4in:${REMOTE_ADDR};192.168.0.0/16', {}, False),
            ('ipv4in:10.1.2.3;10.1.2.3', {}, True), ('ipv4in:not-an-ip;10.0.0.0/8', {}, False),
            ('ipv6in:::1;::/64', {}, True),
            ('ipv4in:1.2.3.4.5.6.7.8.9;10.0.0.0/8', {}, None),   # longer than an address: an error
        ])

    def test_regexp_keeps_its_match_and_a_bad_pattern_is_an_error(self):
        st = RouteState({'HTTP_HOST': 'www.example.test'})
        runs, match = Condition('route-if', 'regexp:${HTTP_HOST};^www\\.(.*)$', 'r').check(st, translate)
        self.assertTrue(runs)
        self.assertEqual(match.group(1), 'example.test')
        self.assertIsNone(holds('re:x;('))

    def test_negation(self):
        self.assertFalse(check('route-if-not', 'equal:a;a'))
        self.assertTrue(check('route-if-not', 'equal:a;b'))

    def test_unknown_condition_and_bad_syntax(self):
        with self.assertRaisesRegex(RouteError, 'unable to find "nosuch" route condition'):
            Condition('route-if', 'nosuch:x', 'nosuch:x return:403')
        with self.assertRaisesRegex(RouteError, 'CONDITION:ARGS'):
            Condition('route-if', 'equal', 'equal return:403')

    def test_aliases_share_their_condition(self):
        for alias, name in (('isequal', 'equal'), ('re', 'regexp'), ('>=', 'ishigherequal'), ('contain', 'contains')):
            self.assertIs(CONDITIONS[alias], CONDITIONS[name])


class InTheChain(unittest.TestCase):
    def run_chain(self, cfg, **env):
        st = RouteState(dict({'PATH_INFO': '/p', 'HTTP_HOST': 'www.h.test', 'REQUEST_URI': '/p?q'}, **env))
        return apply(rules(cfg), st), st

    def test_the_action_runs_only_when_the_condition_holds(self):
        cfg = {'route-if': ['equal:${PATH_INFO};/p return:403']}
        self.assertEqual(self.run_chain(cfg)[1].response[0], '403 Forbidden')
        self.assertEqual(self.run_chain(cfg, PATH_INFO='/q')[0], CONTINUE)

    def test_regexp_captures_reach_the_action(self):
        ret, st = self.run_chain({'route-if': ['regexp:${HTTP_HOST};^www\\.(.*) redirect-301:https://$1${REQUEST_URI}']})
        self.assertEqual(ret, BREAK)
        self.assertIn(('Location', 'https://h.test/p?q'), st.response[1])

    def test_route_if_not_and_an_erroring_condition_drops_the_request(self):
        ret, st = self.run_chain({'route-if-not': ['startswith:${PATH_INFO};/p addheader:X-A: 1']})
        self.assertEqual((ret, st.add_headers), (CONTINUE, []))
        ret, st = self.run_chain({'route-if': ['re:${PATH_INFO};( return:403']})
        self.assertEqual((ret, st.drop, st.response), (BREAK, True, None))

    def test_a_rule_without_an_action_is_refused(self):
        with self.assertRaisesRegex(RouteError, 'route-if = equal:a;a: invalid route syntax'):
            rules({'route-if': ['equal:a;a']})


if __name__ == '__main__':
    unittest.main()
