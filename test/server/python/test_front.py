"""front: the WSGI callable in front of the app: add-header, the routing chain before the app, its answers,
donotlog, a dropped connection, and nothing at all when no option asks for it."""
import unittest

import support  # noqa: F401
from _kaiser import uwsgi_module
from _kaiser.front import Front, added_headers, wrap
from _kaiser.serving_keys import not_applied
from _kaiser.wsgi import DropConnection


def app(env, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Server', 'app')])
    return [b'app:' + env['PATH_INFO'].encode()]


class Call:
    def __init__(self, front, **env):
        e = {'PATH_INFO': '/p', 'QUERY_STRING': '', 'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': ''}
        e.update(env)
        uwsgi_module.begin_request(uwsgi_module.request_state(), e, 0)
        self.env = e
        self.body = b''.join(front(e, self.start_response))

    def start_response(self, status, headers, exc_info=None):
        self.status = status
        self.headers = headers


class Wrap(unittest.TestCase):
    def test_nothing_to_do_returns_the_app(self):
        self.assertIs(wrap(app, support.make_config()), app)

    def test_add_header_on_app_and_routed_answers(self):
        front = wrap(app, support.make_config(add_header=['X-A: 1', 'broken'], route=['^/deny return:403']))
        self.assertIsInstance(front, Front)
        c = Call(front)
        self.assertEqual((c.status, c.headers[-1], c.body), ('200 OK', ('X-A', '1'), b'app:/p'))
        c = Call(front, PATH_INFO='/deny')
        self.assertEqual((c.status, c.headers[-1], c.body), ('403 Forbidden', ('X-A', '1'), b'Forbidden'))

    def test_not_applied_names_what_an_asgi_worker_ignores(self):
        self.assertEqual(not_applied({'add-header': ['A: b'], 'route': [], 'static-map': ['/s=/d']}),
                         ['add-header', 'static-map'])

    def test_added_headers_skip_lines_without_colon(self):
        self.assertEqual(added_headers({'add-header': ['A: b', 'nope']}), [('A', 'b')])

    def test_rules_change_what_the_app_sees_and_sends(self):
        front = wrap(app, support.make_config(route=['^/old(.*) rewrite:/new$1', '.* addheader:X-R: ${PATH_INFO}',
                                                     '.* delheader:server']))
        c = Call(front, PATH_INFO='/old/a')
        self.assertEqual(c.body, b'app:/new/a')
        self.assertEqual(c.headers, [('Content-Type', 'text/plain'), ('X-R', '/new/a')])

    def test_break_without_status_drops(self):
        front = wrap(app, support.make_config(route_run=['break:']))
        with self.assertRaises(DropConnection):
            Call(front)

    def test_donotlog_marks_the_request(self):
        front = wrap(app, support.make_config(route=['^/health donotlog:']))
        Call(front, PATH_INFO='/health')
        self.assertTrue(uwsgi_module.log_skipped())
        Call(front, PATH_INFO='/other')
        self.assertFalse(uwsgi_module.log_skipped())


if __name__ == '__main__':
    unittest.main()
