"""nonblocking: draining a non-blocking fd, and reaping exited children without waiting."""
import os
import subprocess
import sys
import time
import unittest

import support  # noqa: F401
from _kaiser.nonblocking import drain, exited_children


class Drain(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.addCleanup(os.close, self.r)

    def test_returns_what_is_there_without_waiting(self):
        self.assertEqual(drain(self.r), (b'', False))
        os.write(self.w, b'x' * 60000)      # fits the pipe; the reads loop until EAGAIN
        data, eof = drain(self.r)
        self.assertEqual((len(data), eof), (60000, False))
        os.close(self.w)

    def test_eof_once_the_writer_is_gone(self):
        os.write(self.w, b'last words')
        os.close(self.w)
        self.assertEqual(drain(self.r), (b'last words', True))


class Reap(unittest.TestCase):
    def test_yields_children_that_exited_and_never_blocks(self):
        proc = subprocess.Popen([sys.executable, '-c', 'raise SystemExit(3)'])
        deadline = time.monotonic() + 10
        seen = {}
        while proc.pid not in seen and time.monotonic() < deadline:
            seen.update(exited_children())
            time.sleep(0.01)
        self.assertEqual(os.waitstatus_to_exitcode(seen[proc.pid]), 3)
        proc.returncode = 3     # reaped here, not by Popen
        self.assertEqual(list(exited_children()), [])


if __name__ == '__main__':
    unittest.main()
