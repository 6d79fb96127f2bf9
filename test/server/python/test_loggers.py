"""loggers: logger / req-logger / log-route dispatch and the log-date / log-prefix stamp (also compared with real
uWSGI in test/server/uwsgi-logging.int.test.ts)."""
import os
import tempfile
import unittest

import support  # noqa: F401
from _kaiser.log import loggers_needed as needed
from _kaiser.loggers import LoggerError, Loggers, parse_logger


class Dispatch(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def test_routes_named_and_request_loggers(self):
        d = self.dir
        loggers = Loggers({'logger': ['file:%s/all' % d, 'err file:%s/err' % d], 'log-route': ['err ERROR'],
                           'req-logger': ['file:%s/req' % d]})
        loggers.write('starting\nan ERROR here\n')
        loggers.write_requests('GET /\n')
        self.assertEqual(self.read('all'), 'starting\n')
        self.assertEqual(self.read('err'), 'an ERROR here\n')
        self.assertEqual(self.read('req'), 'GET /\n')

    def test_request_lines_go_with_the_others_without_req_logger(self):
        loggers = Loggers({'logger': ['file:%s/all' % self.dir]})
        loggers.write_requests('GET /\n')
        self.assertEqual(self.read('all'), 'GET /\n')

    def test_prefix_stamps_lines_but_not_request_lines(self):
        loggers = Loggers({'logger': ['file:%s/all' % self.dir], 'log-prefix': '[app]'})
        loggers.write('one\ntwo\n')
        loggers.write_requests('GET /\n')
        self.assertEqual(self.read('all'), '[app] - one\n[app] - two\nGET /\n')

    def test_errors_name_the_problem(self):
        with self.assertRaisesRegex(LoggerError, 'not supported'):
            parse_logger('redislog:127.0.0.1:6379')
        with self.assertRaisesRegex(LoggerError, 'no logger'):
            Loggers({'logger': ['file:%s/all' % self.dir], 'log-route': ['nope x']})

    def test_needed(self):
        self.assertFalse(needed({}))
        self.assertTrue(needed({'log-date': ''}))
        self.assertTrue(needed({'logger': ['stdio']}))


if __name__ == '__main__':
    unittest.main()
