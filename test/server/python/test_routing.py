"""routing: the chain of route / route-run / route-host / route-uri / route-label in config order, regexp search on
the subject, `$N` and `${VAR}` in arguments, goto (also compared with real uWSGI in
test/server/uwsgi-routing.int.test.ts)."""
import unittest

import support  # noqa: F401
from _kaiser import routing
from _kaiser.route_actions import BREAK, CONTINUE, RouteError
from _kaiser.routing import RouteState, apply, ordered_entries, rules, translate


def env(**kw):
    e = {'PATH_INFO': '/foo/bar', 'REQUEST_URI': '/foo/bar?x=1&y=2', 'QUERY_STRING': 'x=1&y=2', 'HTTP_HOST': 'h.test',
         'REQUEST_METHOD': 'GET', 'HTTP_COOKIE': 'a=1; sid=abc', 'SCRIPT_NAME': ''}
    e.update(kw)
    return e


def run(cfg, **kw):
    st = RouteState(env(**kw), worker_id=3)
    return apply(rules(cfg), st), st


class Order(unittest.TestCase):
    def test_config_order_comes_from_opt(self):
        cfg = {'route': ['^/a addheader:A: 1'], 'route-run': ['addheader:R: 1'],
               '_opt': ['route-run', 'addheader:R: 1', 'processes', '2', 'route', '^/a addheader:A: 1']}
        self.assertEqual([k for k, _ in ordered_entries(cfg)], ['route-run', 'route'])

    def test_without_opt_option_by_option(self):
        cfg = {'route': ['^/a addheader:A: 1'], 'route-run': ['addheader:R: 1']}
        self.assertEqual([k for k, _ in ordered_entries(cfg)], ['route', 'route-run'])

    def test_opt_disagreeing_with_the_values_is_not_trusted(self):
        cfg = {'route': ['^/a addheader:A: 2'], '_opt': ['route', '^/a addheader:A: 1']}
        self.assertEqual(ordered_entries(cfg), [('route', '^/a addheader:A: 2')])


class Matching(unittest.TestCase):
    def test_search_not_anchored_and_subjects(self):
        ret, st = run({'route': ['bar addheader:P: yes'], 'route-host': ['^h\\.test$ addheader:H: yes'],
                       'route-uri': ['y=2 addheader:U: yes'], 'route-qs': ['^z addheader:Q: no']})
        self.assertEqual(ret, CONTINUE)
        self.assertEqual(st.add_headers, [('P', 'yes'), ('H', 'yes'), ('U', 'yes')])

    def test_first_answer_wins(self):
        ret, st = run({'route': ['^/foo return:403', '^/foo return:404']})
        self.assertEqual(ret, BREAK)
        self.assertEqual(st.response[0], '403 Forbidden')

    def test_missing_subject_is_empty(self):
        ret, st = run({'route-referer': ['^$ return:410']})
        self.assertEqual(st.response[0], '410 Gone')

    def test_continue_stops_the_chain(self):
        ret, st = run({'route': ['^/foo continue:', '.* return:403']})
        self.assertEqual((ret, st.response), (CONTINUE, None))


class Goto(unittest.TestCase):
    def test_goto_label_skips_forward(self):
        ret, st = run({'route-run': ['goto:there', 'return:403', 'return:404'], 'route-label': ['there'],
                       '_opt': ['route-run', 'goto:there', 'route-run', 'return:403', 'route-label', 'there',
                                'route-run', 'return:404']})
        self.assertEqual(st.response[0], '404 Not Found')

    def test_goto_backwards_breaks(self):
        ret, st = run({'route-label': ['back'], 'route-run': ['goto:back'],
                       '_opt': ['route-label', 'back', 'route-run', 'goto:back']})
        self.assertEqual(ret, BREAK)
        self.assertTrue(st.drop)


class Translate(unittest.TestCase):
    def setUp(self):
        self.st = RouteState(env(), worker_id=3)

    def m(self, pattern, subject):
        import re
        return re.compile(pattern).search(subject)

    def test_captures(self):
        m = self.m('^/(foo)/(b)(x)?', '/foo/bar')
        self.assertEqual(translate(self.st, m, '/$2/$1/$3/$0/$9/$a$'), '/b/foo///foo/b//$a')

    def test_variables(self):
        self.assertEqual(translate(self.st, None, '${HTTP_HOST}${PATH_INFO}?${qs[y]}'), 'h.test/foo/bar?2')
        self.assertEqual(translate(self.st, None, '${cookie[sid]}-${uwsgi[wid]}-${NOPE}-${nope[x]}'), 'abc-3--')
        self.assertEqual(translate(self.st, None, 'a${open'), 'a${open')
        self.assertEqual(translate(self.st, None, '$1 costs $'), '$1 costs $')
        self.assertEqual(translate(self.st, None, '${hex[HTTP_HOST]}'), 'h.test'.encode().hex())

    def test_httptime_and_time(self):
        self.assertRegex(translate(self.st, None, '${httptime[60]}'), r'^\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT$')
        self.assertRegex(translate(self.st, None, '${time[unix]}'), r'^\d+$')


class Refusals(unittest.TestCase):
    def test_unknown_action_names_the_key(self):
        with self.assertRaisesRegex(RouteError, 'route = .* routing action "cache" is not implemented'):
            rules({'route': ['^/ cache:key=x']})

    def test_syntax(self):
        with self.assertRaisesRegex(RouteError, 'invalid route syntax'):
            rules({'route': ['^/nothing']})
        with self.assertRaisesRegex(RouteError, 'needs a colon'):
            rules({'route-run': ['continue']})
        with self.assertRaisesRegex(RouteError, 'bad regexp'):
            rules({'route': ['( return:403']})


if __name__ == '__main__':
    unittest.main()
