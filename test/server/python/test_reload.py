"""reload: chain and all reloads, rollback when the new app fails, queued reloads, the emperor's config dance."""
import os
import signal
import socket
import unittest

from support import MasterHarness
from _kaiser import reload as _reload
from _kaiser import worker_states as states
from _kaiser.emperor_link import EmperorLink
from _kaiser.phase import RUNNING, STOPPING


def running(test, **cfg):
    h = MasterHarness(test, **cfg)
    h.start()
    h.accept_all()
    assert h.master.phase == RUNNING
    return h


def new_workers(h, since):
    return h.sys.spawned[since:]


class Chain(unittest.TestCase):
    def test_one_old_worker_retires_as_each_replacement_accepts_and_the_next_starts_only_then(self):
        h = running(self, processes=2)
        old1, old2 = h.pool.slots[1], h.pool.slots[2]
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.CHAIN)
        [new1] = new_workers(h, n)
        self.assertEqual(old1.state, states.READY)
        h.send(new1, act='accepting')
        self.assertEqual(old1.state, states.RETIRING)
        self.assertEqual(old2.state, states.READY)
        self.assertEqual(h.sys.signals_to(old1.pid), [signal.SIGHUP])
        new1_, new2 = new_workers(h, n)
        h.send(new2, act='accepting')
        self.assertEqual(old2.state, states.RETIRING)
        self.assertIsNone(h.master.reloader.current)
        self.assertIs(h.master.gen, new1.gen)
        self.assertEqual(h.pool.slots, {1: new1, 2: new2})
        self.assertTrue(h.logged('*** graceful reload done: 2 new workers accepting ***'))


class All(unittest.TestCase):
    def test_old_workers_retire_only_once_every_new_one_accepts(self):
        h = running(self, processes=2)
        old = [h.pool.slots[1], h.pool.slots[2]]
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.ALL)
        [new1] = new_workers(h, n)
        h.send(new1, act='accepting')
        self.assertEqual([w.state for w in old], [states.READY, states.READY])
        [_, new2] = new_workers(h, n)
        h.send(new2, act='accepting')
        self.assertEqual([w.state for w in old], [states.RETIRING, states.RETIRING])

    def test_the_reload_is_a_typed_record_not_a_dict(self):
        h = running(self, processes=3)
        h.master.reloader.start(h.master.cfg, _reload.ALL)
        r = h.master.reloader.current
        self.assertIsInstance(r, _reload.Reload)
        self.assertEqual((r.mode, r.to_start, sorted(r.old_by_id)), (_reload.ALL, [2, 3], [1, 2, 3]))
        with self.assertRaises(AttributeError):
            r.surprise = 1


class Rollback(unittest.TestCase):
    def test_a_replacement_that_fails_to_load_aborts_and_the_old_workers_serve_on(self):
        for mode in _reload.MODES:
            with self.subTest(mode=mode):
                h = running(self, processes=2)
                old = dict(h.pool.slots)
                n = len(h.sys.spawned)
                h.master.reloader.start(h.master.cfg, mode)
                [new1] = new_workers(h, n)
                h.send(new1, act='load-failed', error='SyntaxError: invalid syntax')
                h.exit(new1, code=22)
                self.assertIsNone(h.master.reloader.current)
                self.assertEqual(h.pool.slots, old)
                self.assertEqual([w.state for w in old.values()], [states.READY, states.READY])
                self.assertTrue(h.logged('!!! reload failed, the old workers keep serving !!!'))

    def test_a_config_whose_cheaper_options_cannot_run_starts_no_worker_and_the_old_ones_serve_on(self):
        h = running(self, processes=2)
        old = dict(h.pool.slots)
        n = len(h.sys.spawned)
        h.master.reloader.start(dict(h.master.cfg, cheaper=2), _reload.CHAIN)
        self.assertEqual(new_workers(h, n), [])
        self.assertIsNone(h.master.reloader.current)
        self.assertEqual(h.pool.slots, old)
        self.assertTrue(h.logged('reload failed: invalid cheaper value: must be lower than processes'))

    def test_the_other_new_workers_still_loading_are_killed(self):
        h = running(self, processes=2)
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.ALL)
        [new1] = new_workers(h, n)
        h.send(new1, act='accepting')
        [_, new2] = new_workers(h, n)
        h.master.reloader.abort('boom')
        self.assertEqual(new2.state, states.KILLED)
        self.assertEqual(h.sys.signals_to(new2.pid), [signal.SIGKILL])
        self.assertEqual(new1.state, states.READY)


class ExitOnReload(unittest.TestCase):
    def test_a_reload_is_a_graceful_stop_instead_and_asks_the_emperor_nothing(self):
        h = running(self, exit_on_reload=True)
        mine, emperor = socket.socketpair()
        self.addCleanup(emperor.close)
        emperor.setblocking(False)
        h.master.emperor = EmperorLink(h.master, mine.detach())
        self.addCleanup(os.close, h.master.emperor.fd)
        old = h.pool.slots[1]
        n = len(h.sys.spawned)
        h.master.reloader.request(_reload.CHAIN)
        self.assertEqual(new_workers(h, n), [])
        self.assertIsNone(h.master.reloader.current)
        self.assertEqual(h.master.phase, STOPPING)
        self.assertEqual(old.state, states.RETIRING)
        self.assertTrue(h.logged('uWSGI: GAME OVER (insert coin)'))
        with self.assertRaises(BlockingIOError):
            emperor.recv(16)                    # no "send me my config" (byte 2)

    def test_the_emperor_s_byte_1_stops_it_too(self):
        h = running(self, exit_on_reload=True)
        h.master.reloader.on_emperor_reload()
        self.assertEqual(h.master.phase, STOPPING)
        self.assertIsNone(h.master.reloader.current)


class Requests(unittest.TestCase):
    def test_a_reload_asked_for_during_another_runs_after_it(self):
        h = running(self)
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.CHAIN)
        reloader = h.master.reloader        # the real one from the first reload on (dormant.py)
        reloader.start(h.master.cfg, _reload.ALL)
        self.assertEqual(reloader.queued.mode, _reload.ALL)
        [new1] = new_workers(h, n)
        h.send(new1, act='accepting')
        self.assertEqual(reloader.current.mode, _reload.ALL)
        self.assertIsNone(reloader.queued)

    def test_a_reload_asked_for_while_starting_waits_for_the_start(self):
        h = MasterHarness(self)
        [w1] = h.start()
        h.master.reloader.start(h.master.cfg, None)
        self.assertIsNone(h.master.reloader.current)
        h.send(w1, act='accepting')
        self.assertIsNotNone(h.master.reloader.current)
        self.assertEqual(h.master.reloader.current.mode, _reload.CHAIN)   # reload-mode's default

    def test_under_an_emperor_the_master_asks_for_its_config_and_reloads_on_byte_1(self):
        h = running(self)
        mine, emperor = socket.socketpair()
        self.addCleanup(emperor.close)
        h.master.emperor = EmperorLink(h.master, mine.detach())
        self.addCleanup(os.close, h.master.emperor.fd)
        h.master.reloader.request(_reload.ALL)
        self.assertEqual(emperor.recv(16), bytes((2,)))
        self.assertIsNone(h.master.reloader.current)
        h.master.reloader.on_emperor_reload()
        self.assertEqual(h.master.reloader.current.mode, _reload.ALL)

    def test_without_an_answer_the_master_reloads_with_its_config_after_2_seconds(self):
        h = running(self)
        mine, emperor = socket.socketpair()
        self.addCleanup(emperor.close)
        h.master.emperor = EmperorLink(h.master, mine.detach())
        self.addCleanup(os.close, h.master.emperor.fd)
        h.master.reloader.request(None)
        reloader = h.master.reloader        # the real one from the first request on (dormant.py)
        deadline = reloader.config_wait.deadline
        self.assertEqual(reloader.deadlines(), [deadline])
        reloader.check(deadline - 0.01)
        self.assertIsNone(reloader.current)
        reloader.check(deadline)
        self.assertIsNotNone(reloader.current)
        self.assertTrue(h.logged('no config from the emperor within 2 seconds'))

    def test_nothing_reloads_while_stopping(self):
        h = running(self)
        h.master.phase = 'stopping'
        h.master.reloader.request(None)
        h.master.reloader.start(h.master.cfg, None)
        self.assertIsNone(h.master.reloader.current)


if __name__ == '__main__':
    unittest.main()
