"""request_log: uWSGI's logformat variables and the conditions that log under disable-logging (also compared with
real uWSGI in test/server/uwsgi-logging.int.test.ts)."""
import unittest

import support  # noqa: F401
from _kaiser.request_log import Policy, Request, policy


def _request(**kw):
    env = {'REQUEST_METHOD': 'GET', 'REQUEST_URI': '/a?b', 'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
           'HTTP_X_FORWARDED_FOR': '10.0.0.1', 'HTTP_HOST': 'h.test', 'CONTENT_LENGTH': '7'}
    env.update(kw.pop('env', {}))
    args = dict(env=env, status='200 OK', body=5, head=40, nheaders=1, start=100.0, end=100.25, wid=2, core=0,
                wreq=3, hsize=200, logvars={'mine': 'MV'}, addr='127.0.0.1')
    args.update(kw)
    return Request(**args)


class Format(unittest.TestCase):
    def test_variables(self):
        p = Policy({'logformat': '%(addr) %(method) %(uri) %(status) %(size) %(rsize) %(hsize) %(msecs) %(micros) '
                                 '%(host) %(cl) %(wid) %(var.HTTP_HOST) %(mine) %(user) %(nothing)'})
        self.assertEqual(p.format(_request()),
                         '127.0.0.1 GET /a?b 200 45 5 40 250 250000 h.test 7 2 h.test MV - -\n')

    def test_text_around_and_without_variables(self):
        self.assertEqual(Policy({'logformat': 'plain'}).format(_request()), 'plain\n')
        self.assertEqual(Policy({'logformat': '[%(status)]'}).format(_request()), '[200]\n')

    def test_x_forwarded_for(self):
        self.assertEqual(Policy({'log-x-forwarded-for': True}).address(_request().env), '10.0.0.1')
        self.assertEqual(Policy({}).address(_request().env), '127.0.0.1')
        self.assertEqual(Policy({'log-x-forwarded-for': True}).address({'REMOTE_ADDR': '1.2.3.4'}), '1.2.3.4')


class Conditions(unittest.TestCase):
    def test_disable_logging_with_conditions(self):
        p = Policy({'disable-logging': True, 'log-4xx': True, 'log-5xx': True, 'log-slow': 100, 'log-big': 1000,
                    'log-zero': True})
        self.assertFalse(p.wanted('200 OK', 5, 10, False))
        self.assertTrue(p.wanted('404 Not Found', 5, 10, False))
        self.assertTrue(p.wanted('502 Bad Gateway', 5, 10, False))
        self.assertTrue(p.wanted('200 OK', 5, 100, False))
        self.assertTrue(p.wanted('200 OK', 1000, 10, False))
        self.assertTrue(p.wanted('200 OK', 0, 10, False))
        self.assertTrue(p.wanted('200 OK', 5, 10, True))

    def test_no_policy_without_options(self):
        self.assertIsNone(policy({}))
        self.assertIsNotNone(policy({'disable-logging': True}))


if __name__ == '__main__':
    unittest.main()
