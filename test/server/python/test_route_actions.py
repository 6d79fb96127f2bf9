"""route_actions: what each routing action does, with uWSGI's answers (status lines, headers, bodies)."""
import unittest

import support  # noqa: F401
from _kaiser import route_actions
from _kaiser.route_actions import BREAK, CONTINUE, NEXT, header_pair
from _kaiser.routing import RouteState, apply, rules


def run(route, **env):
    e = {'PATH_INFO': '/old/x', 'QUERY_STRING': 'a=1', 'REQUEST_URI': '/old/x?a=1', 'HTTP_HOST': 'h.test',
         'SCRIPT_NAME': ''}
    e.update(env)
    st = RouteState(e)
    return apply(rules({'route': route}), st), st


class Answers(unittest.TestCase):
    def test_redirects(self):
        ret, st = run(['^/old/(.*) redirect:https://${HTTP_HOST}/new/$1'])
        self.assertEqual((ret, st.response), (BREAK, ('302 Found', [('Location', 'https://h.test/new/x')], b'Moved')))
        _, st = run(['^/old redirect-301:/n'])
        self.assertEqual(st.response, ('301 Moved Permanently', [('Location', '/n')], b'Moved Permanently'))
        _, st = run(['^/old redirect-permanent:/n'])
        self.assertEqual(st.response[0], '301 Moved Permanently')
        _, st = run(['^/old redirect-302:/n'])
        self.assertEqual(st.response[0], '302 Found')

    def test_return_and_break(self):
        _, st = run(['^/old return:403'])
        self.assertEqual(st.response, ('403 Forbidden', [('Content-Type', 'text/plain'), ('Content-Length', '9')],
                                       b'Forbidden'))
        _, st = run(['^/old break-with-status:418'])
        self.assertEqual(st.response[0], "418 I'm a teapot")
        _, st = run(['^/old return:999'])
        self.assertTrue(st.drop)
        _, st = run(['^/old break:503 Busy'])
        self.assertEqual(st.response, ('503 Busy', [('Connection', 'close'), ('Content-Type', 'text/plain')], b''))
        ret, st = run(['^/old break:'])
        self.assertEqual((ret, st.response, st.drop), (BREAK, None, True))

    def test_basicauth_answers_401(self):
        _, st = run(['.* basicauth:my realm,kratos:secret'])
        self.assertEqual(st.response, ('401 Authorization Required',
                                       [('WWW-Authenticate', 'Basic realm="my realm"')], b'Unauthorized'))

    def test_basicauth_passes_with_the_credentials(self):
        import base64
        auth = 'Basic ' + base64.b64encode(b'kratos:secret').decode()
        ret, st = run(['.* basicauth:r,kratos:secret', '.* basicauth:r2,other:x'], HTTP_AUTHORIZATION=auth)
        self.assertEqual((ret, st.response, st.env['REMOTE_USER']), (CONTINUE, None, 'kratos'))


class Request(unittest.TestCase):
    def test_rewrite_keeps_going_and_merges_the_query(self):
        ret, st = run(['^/old/(.*) rewrite:/new/$1%20y?b=2', '^/new/x\\sy addheader:Seen: new'])
        self.assertEqual(ret, CONTINUE)
        self.assertEqual((st.env['PATH_INFO'], st.env['QUERY_STRING']), ('/new/x y', 'b=2&a=1'))
        self.assertEqual(st.add_headers, [('Seen', 'new')])
        self.assertEqual(st.env['REQUEST_URI'], '/old/x?a=1')

    def test_rewrite_last_stops(self):
        ret, st = run(['^/old rewrite-last:/n', '.* return:403'])
        self.assertEqual((ret, st.response, st.env['PATH_INFO']), (CONTINUE, None, '/n'))

    def test_variables_and_headers(self):
        ret, st = run(['.* addvar:MY_VAR=${HTTP_HOST}', '.* setmethod:POST', '.* setscheme:https',
                       '.* setuser:bob:pw', '.* delheader:Server', '.* donotlog:', '.* log:hello ${MY_VAR}'])
        e = st.env
        self.assertEqual((e['MY_VAR'], e['REQUEST_METHOD'], e['wsgi.url_scheme'], e['REMOTE_USER']),
                         ('h.test', 'POST', 'https', 'bob'))
        self.assertEqual((st.del_headers, st.dont_log), (['server'], True))

    def test_fixpathinfo(self):
        _, st = run(['.* fixpathinfo:'], SCRIPT_NAME='/old')
        self.assertEqual(st.env['PATH_INFO'], '/x')

    def test_header_pair(self):
        self.assertEqual(header_pair('X-A:  b c '), ('X-A', 'b c'))
        self.assertIsNone(header_pair('nocolon'))

    def test_every_action_answers_a_known_code(self):
        for name, factory in route_actions.ACTIONS.items():
            arg = 'r,u:p' if name.startswith('basicauth') else 'K=V' if name in ('addvar', 'logvar') else 'x'
            fn = factory(arg, 'route-run', name + ':' + arg)
            self.assertIn(fn(RouteState({'PATH_INFO': '/'}), None, None), (NEXT, CONTINUE, BREAK), name)


if __name__ == '__main__':
    unittest.main()
