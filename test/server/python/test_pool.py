"""pool: the master's workers through a FakeSystem: start-up, crashes, load failures, recycling, harakiri, mercy."""
import signal
import unittest

from support import Exited, MasterHarness
from _kaiser import worker_states as states
from _kaiser.phase import RUNNING, STARTING


class StartUp(unittest.TestCase):
    def test_the_master_runs_once_every_first_worker_accepts(self):
        h = MasterHarness(self, processes=2)
        w1, w2 = h.start()
        self.assertEqual(h.master.phase, STARTING)
        h.send(w1, act='loaded')
        h.send(w1, act='accepting')
        self.assertEqual(h.master.phase, STARTING)
        h.send(w2, act='accepting')
        self.assertEqual(h.master.phase, RUNNING)
        self.assertTrue(h.logged('*** kaiser is running: 2 workers accepting ***'))
        self.assertEqual(h.pool.slots, {1: w1, 2: w2})
        self.assertEqual(h.pool.totals_of(1).respawns, 1)

    def test_a_worker_that_cannot_load_the_app_at_start_is_game_over_with_exit_22(self):
        h = MasterHarness(self)
        [w1] = h.start()
        h.send(w1, act='load-failed', error='ImportError: no module named flask')
        with self.assertRaises(Exited) as caught:
            h.exit(w1, code=22)
        self.assertEqual(caught.exception.code, 22)
        self.assertTrue(h.logged('GAME OVER'))
        self.assertTrue(h.logged('ImportError: no module named flask'))

    def test_an_unknown_message_is_logged_and_ignored(self):
        h = MasterHarness(self)
        [w1] = h.start()
        h.send(w1, act='dance')
        self.assertTrue(h.logged("unknown message 'dance'"))
        self.assertEqual(w1.state, states.LOADING)


class Crashes(unittest.TestCase):
    def running(self, **cfg):
        h = MasterHarness(self, **cfg)
        h.start()
        h.accept_all()
        return h

    def test_a_crashed_worker_is_respawned_in_its_slot(self):
        h = self.running(processes=2)
        w1 = h.pool.slots[1]
        w1.spawned -= 5          # it served for a while
        h.exit(w1, signal=signal.SIGSEGV)
        self.assertTrue(h.logged('DAMN ! worker 1 (pid: %d) died :( trying respawn ...' % w1.pid))
        self.assertIsNot(h.pool.slots[1], w1)
        self.assertEqual(h.pool.slots[1].state, states.LOADING)
        self.assertEqual(h.pool.totals_of(1).respawns, 2)

    def test_a_worker_dying_right_after_its_spawn_is_respawned_after_a_second(self):
        h = self.running()
        w1 = h.pool.slots[1]
        h.exit(w1, code=1)
        self.assertNotIn(1, h.pool.slots)
        self.assertTrue(h.logged('respawning too fast'))
        at = h.pool.respawn_at[1]
        h.pool.check(at - 0.01, 0)
        self.assertNotIn(1, h.pool.slots)
        h.pool.check(at, 0)
        self.assertIn(1, h.pool.slots)

    def test_a_worker_failing_to_load_after_start_is_respawned_with_a_growing_backoff(self):
        h = self.running()
        w1 = h.pool.slots[1]
        w1.spawned -= 5
        h.exit(w1, code=1)
        w2 = h.pool.slots[1]
        h.exit(w2, code=22)
        self.assertEqual(h.pool.backoff[1], 1.0)
        h.pool.check(h.pool.respawn_at[1], 0)
        h.exit(h.pool.slots[1], code=22)
        self.assertEqual(h.pool.backoff[1], 2.0)
        h.pool.check(h.pool.respawn_at[1], 0)
        h.send(h.pool.slots[1], act='accepting')
        self.assertNotIn(1, h.pool.backoff)

    def test_counters_of_a_buried_worker_stay_in_the_totals_of_its_id(self):
        h = self.running()
        w1 = h.pool.slots[1]
        w1.spawned -= 5
        from _kaiser.scoreboard import _W
        _W.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot), 7, 1, 300, 50, 5, 1)
        h.exit(w1, code=1)
        totals = h.pool.totals_of(1)
        self.assertEqual((totals.requests, totals.exceptions, totals.tx, totals.running), (7, 1, 300, 50))


class Retiring(unittest.TestCase):
    def test_retire_asks_with_sighup_and_kills_after_the_mercy(self):
        h = MasterHarness(self, worker_reload_mercy=5)
        h.start()
        h.accept_all()
        w1 = h.pool.slots[1]
        h.pool.retire(w1, 'reload')
        self.assertEqual(w1.state, states.RETIRING)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGHUP])
        self.assertNotIn(1, h.pool.slots)
        h.pool.check(w1.termination.deadline - 0.1, 0)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGHUP])
        h.pool.check(w1.termination.deadline, 0)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGHUP, signal.SIGKILL])
        self.assertEqual(w1.state, states.KILLED)
        self.assertTrue(h.logged('did not finish in time'))
        h.exit(w1, signal=signal.SIGKILL)
        self.assertFalse(h.logged('DAMN'))

    def test_a_worker_retiring_itself_at_max_requests_is_replaced_at_once_and_not_signalled(self):
        h = MasterHarness(self, max_requests=100)
        h.start()
        h.accept_all()
        w1 = h.pool.slots[1]
        h.send(w1, act='retiring', reason='max-requests')
        self.assertEqual(w1.state, states.RETIRING)
        self.assertIsNot(h.pool.slots[1], w1)
        self.assertEqual(h.sys.signals_to(w1.pid), [])
        h.exit(w1, code=0)
        self.assertTrue(h.logged('worker 1 (pid: %d) retired (max-requests), exit 0' % w1.pid))

    def test_reload_on_rss_starts_a_replacement_that_retires_the_old_worker_once_it_accepts(self):
        h = MasterHarness(self, reload_on_rss=10)
        h.start()
        h.accept_all()
        old = h.pool.slots[1]
        h.sys.rss[old.pid] = 11 << 20
        h.pool.check(0, 0)
        new = h.pool.slots[1]
        self.assertIsNot(new, old)
        self.assertIs(new.replaces, old)
        self.assertEqual(old.state, states.READY)      # serves until the replacement accepts
        h.send(new, act='accepting')
        self.assertEqual(old.state, states.RETIRING)
        self.assertEqual(old.reason, 'recycled')

    def test_a_replacement_that_fails_to_load_leaves_the_old_worker_serving(self):
        h = MasterHarness(self, reload_on_rss=10)
        h.start()
        h.accept_all()
        old = h.pool.slots[1]
        h.sys.rss[old.pid] = 11 << 20
        h.pool.check(0, 0)
        h.exit(h.pool.slots[1], code=22)
        self.assertIs(h.pool.slots[1], old)
        self.assertEqual(old.state, states.READY)


class Harakiri(unittest.TestCase):
    def test_a_request_running_past_harakiri_gets_the_worker_killed_and_respawned(self):
        h = MasterHarness(self, harakiri=3)
        h.start()
        h.accept_all()
        w1 = h.pool.slots[1]
        w1.spawned -= 60
        from _kaiser.scoreboard import _C, WORKER
        _C.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot) + WORKER, 1000.0, 1, 0, 0)
        h.pool.check(0, 1002.9)
        self.assertEqual(w1.state, states.READY)
        h.pool.check(0, 1003.1)
        self.assertEqual(w1.state, states.HARAKIRI)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGKILL])
        self.assertEqual(h.pool.totals_of(1).harakiri, 1)
        self.assertTrue(h.logged('*** HARAKIRI ON WORKER 1'))
        h.pool.check(0, 1010)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGKILL])    # once
        h.exit(w1, signal=signal.SIGKILL)
        self.assertFalse(h.logged('DAMN'))
        self.assertEqual(h.pool.slots[1].state, states.LOADING)


class Generations(unittest.TestCase):
    def test_the_scoreboard_of_a_generation_nobody_uses_is_freed(self):
        h = MasterHarness(self)
        h.start()
        h.accept_all()
        from _kaiser.worker_proc import Generation
        old_gen = Generation(h.master.cfg, [])
        h.pool.generations.append(old_gen)
        h.pool.free_generations()
        self.assertNotIn(old_gen, h.pool.generations)
        self.assertTrue(old_gen.sb.mm.closed)


if __name__ == '__main__':
    unittest.main()
