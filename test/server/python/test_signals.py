"""signals: the self-pipe turns signals into bytes, and each signal does what docs/runtime-protocol.md §4 says."""
import os
import signal
import unittest

from support import Exited, MasterHarness
from _kaiser import signals
from _kaiser.phase import STOPPING


class Dispatch(unittest.TestCase):
    def running(self):
        h = MasterHarness(self)
        h.start()
        h.accept_all()
        return h

    def test_sighup_asks_for_a_reload(self):
        h = self.running()
        signals.dispatch(h.master, bytes((signal.SIGHUP,)))
        self.assertIsNotNone(h.master.reloader.current)
        self.assertTrue(h.logged('SIGHUP received: graceful reload'))

    def test_sigterm_stops_gracefully_and_a_second_one_changes_nothing(self):
        h = self.running()
        signals.dispatch(h.master, bytes((signal.SIGTERM, signal.SIGTERM)))
        self.assertEqual(h.master.phase, STOPPING)

    def test_a_second_sigint_while_stopping_is_brutal(self):
        h = self.running()
        signals.dispatch(h.master, bytes((signal.SIGINT,)))
        self.assertEqual(h.master.phase, STOPPING)
        with self.assertRaises(Exited):
            signals.dispatch(h.master, bytes((signal.SIGINT,)))

    def test_sigquit_is_brutal_with_exit_0(self):
        h = self.running()
        with self.assertRaises(Exited) as caught:
            signals.dispatch(h.master, bytes((signal.SIGQUIT,)))
        self.assertEqual(caught.exception.code, 0)

    def test_sigusr1_logs_the_stats_document(self):
        h = self.running()
        signals.dispatch(h.master, bytes((signal.SIGUSR1,)))
        self.assertTrue(h.logged('"workers"'))

    def test_sigchld_reaps(self):
        h = self.running()
        with support_patch('_kaiser.pool.os.waitpid', side_effect=ChildProcessError) as waitpid:
            signals.dispatch(h.master, bytes((signal.SIGCHLD,)))
        self.assertEqual(waitpid.call_count, 1)

    def test_other_signals_are_ignored(self):
        h = self.running()
        signals.dispatch(h.master, bytes((signal.SIGWINCH,)))


class SelfPipe(unittest.TestCase):
    def test_a_signal_becomes_a_byte_on_the_pipe(self):
        saved = {sig: signal.getsignal(sig) for sig in signals.HANDLED}
        old_fd = signal.set_wakeup_fd(-1)

        def restore():
            signal.set_wakeup_fd(old_fd)
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        self.addCleanup(restore)
        pipe = signals.SignalPipe()
        for fd in pipe.fds():
            self.addCleanup(os.close, fd)
        self.assertEqual(pipe.drain(), b'')
        os.kill(os.getpid(), signal.SIGUSR1)
        self.assertEqual(pipe.drain(), bytes((signal.SIGUSR1,)))


def support_patch(target, **kw):
    from unittest import mock
    return mock.patch(target, **kw)


if __name__ == '__main__':
    unittest.main()
