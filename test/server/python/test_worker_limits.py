"""worker_limits: what the master's tick does to a serving worker, through a FakeSystem: evil-reload-on-rss,
max-worker-lifetime (+ delta), harakiri-verbose, and that each limit is off when its option is not set."""
import os
import signal
import unittest

from support import MasterHarness, temp_dir
from _kaiser import worker_limits
from _kaiser import worker_states as states


def running(test, **cfg):
    h = MasterHarness(test, **cfg)
    h.start()
    h.accept_all()
    return h


class EvilReloadOnRss(unittest.TestCase):
    def test_a_worker_over_the_limit_is_sigkilled_and_its_exit_respawns_it(self):
        h = running(self, evil_reload_on_rss=10)
        old = h.pool.slots[1]
        old.spawned -= 60
        h.sys.rss[old.pid] = 9 << 20
        h.pool.check(0, 0)
        self.assertEqual(h.sys.signals_to(old.pid), [])
        h.sys.rss[old.pid] = 10 << 20
        h.pool.check(0, 0)
        self.assertEqual(h.sys.signals_to(old.pid), [signal.SIGKILL])
        self.assertTrue(h.logged('*** EVIL RELOAD ON WORKER 1 RSS: %d (pid: %d) ***' % (10 << 20, old.pid)))
        h.exit(old, signal=signal.SIGKILL)
        self.assertTrue(h.logged('DAMN ! worker 1'))
        self.assertIsNot(h.pool.slots[1], old)
        self.assertEqual(h.pool.slots[1].state, states.LOADING)

    def test_without_the_option_rss_is_not_even_read(self):
        h = running(self)
        old = h.pool.slots[1]
        h.sys.rss[old.pid] = 1 << 40
        h.pool.check(0, 0)
        self.assertEqual(h.sys.signals_to(old.pid), [])
        self.assertIs(h.pool.slots[1], old)


class MaxWorkerLifetime(unittest.TestCase):
    def test_an_old_worker_gets_a_replacement_and_retires_once_it_accepts(self):
        h = running(self, max_worker_lifetime=60)
        old = h.pool.slots[1]
        old.spawned -= 59
        h.pool.check(0, 0)
        self.assertIs(h.pool.slots[1], old)
        old.spawned -= 2
        h.pool.check(0, 0)
        new = h.pool.slots[1]
        self.assertIsNot(new, old)
        self.assertEqual(old.state, states.READY)        # serves until its replacement accepts: no request fails
        self.assertTrue(h.logged('worker 1 lifetime reached, it was running for 61 second(s)'))
        h.pool.check(0, 0)
        self.assertEqual(len(h.sys.spawned), 2)           # one replacement, not one per tick
        h.send(new, act='accepting')
        self.assertEqual(old.state, states.RETIRING)
        self.assertEqual(h.sys.signals_to(old.pid), [signal.SIGHUP])

    def test_the_delta_adds_worker_id_minus_one_times_delta(self):
        cfg = {'max-worker-lifetime': 60.0, 'max-worker-lifetime-delta': 10.0}
        self.assertEqual([worker_limits.lifetime_of(cfg, wid) for wid in (1, 2, 3)], [60, 70, 80])
        self.assertEqual(worker_limits.lifetime_of({'max-worker-lifetime-delta': 10.0}, 3), 0)
        h = running(self, processes=2, max_worker_lifetime=60, max_worker_lifetime_delta=10)
        w1, w2 = h.pool.slots[1], h.pool.slots[2]
        w1.spawned -= 65
        w2.spawned -= 65
        h.pool.check(0, 0)
        self.assertIsNot(h.pool.slots[1], w1)
        self.assertIs(h.pool.slots[2], w2)


class HarakiriVerbose(unittest.TestCase):
    def test_the_syscall_and_wait_channel_of_the_worker_are_read_from_proc(self):
        proc = temp_dir(self)
        os.makedirs(os.path.join(proc, '42'))
        with open(os.path.join(proc, '42', 'syscall'), 'w') as f:
            f.write('7 0x7ffd 0x1 0x3e8 0x0 0x0 0x0 0x7ffd 0x7f12\n')
        with open(os.path.join(proc, '42', 'wchan'), 'w') as f:
            f.write('do_sys_poll')
        self.assertEqual(worker_limits.verbose_lines(42, proc), [
            'HARAKIRI: -- syscall> 7 0x7ffd 0x1 0x3e8 0x0 0x0 0x0 0x7ffd 0x7f12',
            'HARAKIRI: -- wchan> do_sys_poll'])
        self.assertEqual(worker_limits.verbose_lines(43, proc), [])

    def test_a_harakiri_logs_them_only_with_harakiri_verbose(self):
        from _kaiser.scoreboard import _C, WORKER
        seen = []
        for verbose in (False, True):
            h = running(self, harakiri=3, harakiri_verbose=verbose)
            w1 = h.pool.slots[1]
            _C.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot) + WORKER, 1000.0, 1, 0, 0)
            asked = []
            original = worker_limits.verbose_lines
            worker_limits.verbose_lines = lambda pid: asked.append(pid) or ['HARAKIRI: -- wchan> x']
            try:
                h.pool.check(0, 1004)
            finally:
                worker_limits.verbose_lines = original
            self.assertEqual(w1.state, states.HARAKIRI)
            seen.append((asked == [w1.pid], h.logged('HARAKIRI: -- wchan> x')))
        self.assertEqual(seen, [(False, False), (True, True)])


if __name__ == '__main__':
    unittest.main()
