"""log: one write per line on stderr, the JSON format, and the batched request log."""
import json
import os
import sys
import time
import unittest

import support  # noqa: F401
from _kaiser import log


class CapturedStderr:
    """fd 2 redirected to a pipe for the duration of a test."""

    def __init__(self, test):
        self.r, w = os.pipe()
        os.set_blocking(self.r, False)
        saved = os.dup(2)
        os.dup2(w, 2)
        os.close(w)

        def restore():
            os.dup2(saved, 2)
            os.close(saved)
            os.close(self.r)
        test.addCleanup(restore)

    def text(self):
        try:
            return os.read(self.r, 1 << 20).decode()
        except BlockingIOError:
            return ''


class Lines(unittest.TestCase):
    def setUp(self):
        self.addCleanup(log.setup, {})

    def test_a_line_gets_its_newline(self):
        err = CapturedStderr(self)
        log.log('hello')
        log.log('already\n')
        self.assertEqual(err.text(), 'hello\nalready\n')

    def test_json_format(self):
        err = CapturedStderr(self)
        log.setup({'log-format': 'json'})
        log.log('hello')
        doc = json.loads(err.text())
        self.assertEqual((doc['msg'], doc['pid']), ('hello', os.getpid()))


class Setup(unittest.TestCase):
    def test_without_logger_options_loggers_and_syslog_stay_unimported(self):
        # issue 17: every module a master imports counts in a 1-worker vassal's memory
        loaded = support.modules_after('from _kaiser import log; log.setup({"log-format": "json"})')
        self.assertIn('_kaiser.log', loaded)
        self.assertNotIn('_kaiser.loggers', loaded)
        self.assertNotIn('syslog', loaded)


class RequestLog(unittest.TestCase):
    def setUp(self):
        self.addCleanup(log.setup, {})

    def request(self, rl, now):
        rl.request(now, 1, '127.0.0.1', 20, 100, 'GET', '/x', 5, 0, 'HTTP/1.1', '200 OK', 1, 60, 0)

    def test_lines_are_batched_and_flushed_together(self):
        err = CapturedStderr(self)
        rl = log.RequestLog()
        self.request(rl, rl.last_flush)
        self.assertEqual(err.text(), '')
        self.assertTrue(rl.pending())
        rl.flush()
        text = err.text()
        self.assertRegex(text, r'^\[pid: \d+\|app: 0\|req: 1/1\] 127\.0\.0\.1 \(\) \{20 vars in 100 bytes\} \[.+\] GET /x '
                               r'=> generated 5 bytes in 0 msecs \(HTTP/1\.1 200\) 1 headers in 60 bytes \(1 switches on core 0\)\n$')
        self.assertFalse(rl.pending())

    def test_a_second_old_batch_is_flushed_on_the_next_request(self):
        err = CapturedStderr(self)
        rl = log.RequestLog()
        self.request(rl, rl.last_flush + 1.5)
        self.assertIn('GET /x', err.text())

    def test_a_line_stamped_with_the_wall_clock_stays_buffered(self):
        # serving.py stamps request lines with time.time(): the flush deadline must be on the same clock (it was
        # monotonic once, so every request line was written at once: one write per request).
        err = CapturedStderr(self)
        rl = log.RequestLog()
        self.request(rl, time.time())
        self.assertEqual(err.text(), '')
        self.assertTrue(rl.pending())

    def test_json_request_lines(self):
        err = CapturedStderr(self)
        log.setup({'log-format': 'json'})
        rl = log.RequestLog()
        self.request(rl, rl.last_flush)
        rl.flush()
        doc = json.loads(err.text())
        self.assertEqual((doc['method'], doc['status'], doc['bytes']), ('GET', 200, 5))

    def test_flush_std(self):
        log.flush_std()


if __name__ == '__main__':
    unittest.main()
