"""shutdown: the close order of a graceful stop, the mercy that bounds it, and the brutal stop."""
import os
import signal
import unittest

from support import Exited, MasterHarness, temp_dir
from _kaiser import shutdown
from _kaiser import worker_states as states
from _kaiser.phase import STOPPING


class FakeListener:
    def __init__(self, events, name):
        self.events = events
        self.name = name
        self.fd = -1

    def close(self, vacuum=False):
        self.events.append(('close', self.name, vacuum))


class Graceful(unittest.TestCase):
    def test_sockets_close_first_then_workers_are_asked_and_the_master_exits_after_the_last(self):
        h = MasterHarness(self, processes=2, vacuum=True)
        h.start()
        h.accept_all()
        events = []
        h.master.listeners = [FakeListener(events, 'http')]
        w1, w2 = h.pool.slots[1], h.pool.slots[2]
        h.master.graceful_stop()
        self.assertEqual(h.master.phase, STOPPING)
        self.assertEqual(events, [('close', 'http', True)])
        self.assertEqual((w1.state, w2.state), (states.RETIRING, states.RETIRING))
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGHUP])
        h.exit(w1)
        self.assertTrue(h.logged('worker 1 buried after'))
        with self.assertRaises(Exited) as caught:
            h.exit(w2)
        self.assertEqual(caught.exception.code, 0)
        self.assertTrue(h.logged('goodbye to uWSGI.'))

    def test_workers_still_loading_are_killed_at_once(self):
        h = MasterHarness(self, processes=2)
        w1, w2 = h.start()
        h.send(w1, act='accepting')
        h.master.graceful_stop()
        self.assertEqual(w2.state, states.KILLED)
        self.assertEqual(h.sys.signals_to(w2.pid), [signal.SIGKILL])

    def test_every_worker_gets_at_most_reload_mercy_even_one_already_retiring(self):
        h = MasterHarness(self, processes=2, reload_mercy=5, worker_reload_mercy=60)
        h.start()
        h.accept_all()
        w1, w2 = h.pool.slots[1], h.pool.slots[2]
        h.pool.retire(w1, 'reload')
        h.master.graceful_stop()
        self.assertLessEqual(w1.termination.deadline - w2.termination.deadline, 0.5)
        h.pool.check(w2.termination.deadline + 0.01, 0)
        self.assertEqual((w1.state, w2.state), (states.KILLED, states.KILLED))

    def test_a_second_graceful_stop_changes_nothing(self):
        h = MasterHarness(self)
        h.start()
        h.accept_all()
        h.master.graceful_stop()
        kills = list(h.sys.kills)
        h.master.graceful_stop()
        self.assertEqual(h.sys.kills, kills)

    def test_finish_removes_the_pidfile_with_vacuum(self):
        d = temp_dir(self)
        pidfile = os.path.join(d, 'master.pid')
        with open(pidfile, 'w') as f:
            f.write('1\n')
        h = MasterHarness(self, vacuum=True, pidfile=pidfile)
        with self.assertRaises(Exited):
            shutdown.finish(h.master)
        self.assertFalse(os.path.exists(pidfile))


class Brutal(unittest.TestCase):
    def test_every_worker_is_killed_and_the_master_exits_with_the_code(self):
        h = MasterHarness(self, processes=2)
        w1, w2 = h.start()
        h.send(w1, act='accepting')
        with self.assertRaises(Exited) as caught:
            h.master.brutal_stop(3)
        self.assertEqual(caught.exception.code, 3)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGKILL])
        self.assertEqual(h.sys.signals_to(w2.pid), [signal.SIGKILL])
        self.assertEqual((w1.state, w2.state), (states.KILLED, states.KILLED))


if __name__ == '__main__':
    unittest.main()
