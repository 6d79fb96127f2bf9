"""terminate: ask → grace → SIGKILL, on real processes (a python3 that ignores SIGTERM, one that obeys)."""
import os
import signal
import subprocess
import sys
import time
import unittest

import support  # noqa: F401
from _kaiser import terminate

IGNORES_TERM = 'import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ready", flush=True)\ntime.sleep(60)\n'


class RealProcess(unittest.TestCase):
    def start(self, code, **kw):
        proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, **kw)
        self.addCleanup(_reap, proc)
        self.assertEqual(proc.stdout.readline().strip(), b'ready')
        return proc

    def test_the_ask_is_sent_at_once_and_the_kill_only_when_asked_for(self):
        proc = self.start(IGNORES_TERM)
        t = terminate.Termination(proc.pid, signal.SIGTERM, 5.0, now=100.0)
        self.assertFalse(t.overdue(104.9))
        self.assertIsNone(proc.poll())          # ignored the ask
        self.assertTrue(t.overdue(105.0))
        t.kill()
        self.assertEqual(proc.wait(timeout=10), -signal.SIGKILL)
        self.assertFalse(t.overdue(200.0))      # done: never killed twice

    def test_a_process_that_obeys_the_ask_exits_on_it(self):
        proc = self.start('import time\nprint("ready", flush=True)\ntime.sleep(60)\n')
        terminate.Termination(proc.pid, signal.SIGTERM, 5.0)
        self.assertEqual(proc.wait(timeout=10), -signal.SIGTERM)

    def test_kill_group_kills_the_whole_group(self):
        code = ('import subprocess, sys, time\n'
                'c = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])\n'
                'print("ready", c.pid, flush=True)\ntime.sleep(60)\n')
        proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, start_new_session=True)
        self.addCleanup(_reap, proc)
        word, child = proc.stdout.readline().split()
        self.assertEqual(word, b'ready')
        terminate.kill_group(proc.pid)
        self.assertEqual(proc.wait(timeout=10), -signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(int(child)) and time.monotonic() < deadline:
            time.sleep(0.01)    # the grandchild is reparented to init, which reaps it
        self.assertFalse(_alive(int(child)))

    def test_a_process_already_gone_is_not_an_error(self):
        proc = subprocess.Popen([sys.executable, '-c', 'pass'])
        proc.wait()
        terminate.send_signal(proc.pid, signal.SIGKILL)
        terminate.kill_group(proc.pid)


class Deadlines(unittest.TestCase):
    def test_shorten_only_ever_brings_the_deadline_forward(self):
        sent = []
        with support.mock.patch('_kaiser.terminate.send_signal', lambda *a, **k: sent.append(a)):
            t = terminate.Termination(1, None, 60, now=0)
            t.shorten(30)
            t.shorten(45)
            self.assertEqual(t.deadline, 30)
        self.assertEqual(sent, [])             # ask None: nothing sent


def _reap(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1][0] != 'Z'
    except OSError:
        return False


if __name__ == '__main__':
    unittest.main()
