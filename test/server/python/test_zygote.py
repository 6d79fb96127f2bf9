"""zygote: a generation's zygote as the master sees it, over a FakeSystem and a fake zygote process (its real pipes).

The fake `exec_kind_child` hands the test the zygote's control pipe (what the master asks for) and its event pipe
(what the zygote and its workers say), so the master's real reading, routing and exit code run.
"""
import json
import os
import signal
import unittest
from unittest import mock

from support import Exited, MasterHarness
from _kaiser import worker_states as states
from _kaiser.phase import RUNNING


class FakeZygotes:
    """Plays the zygote processes: records each start and keeps dups of its pipes."""

    def __init__(self, test):
        self.next_pid = 50000
        self.started = []        # (pid, extra_env, control read end, event write end)
        test.addCleanup(self.close)

    def exec_kind_child(self, gen, wid, sb_offset, status_w, life_r, close_fds, extra_env, extra_fds):
        self.next_pid += 1
        self.started.append((self.next_pid, dict(extra_env), os.dup(extra_fds[0]), os.dup(status_w)))
        return self.next_pid

    def close(self):
        for _pid, _env, ctl_r, ev_w in self.started:
            for fd in (ctl_r, ev_w):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def asked(self, index=-1):
        """The `spawn ID SLOT OFFSET` lines the master wrote to zygote `index` so far."""
        ctl_r = self.started[index][2]
        os.set_blocking(ctl_r, False)
        try:
            return [line.split() for line in os.read(ctl_r, 65536).decode().splitlines()]
        except BlockingIOError:
            return []


class ZygoteHarness:
    def __init__(self, test, **cfg):
        self.fake = FakeZygotes(test)
        patcher = mock.patch('_kaiser.zygote.exec_kind_child', self.fake.exec_kind_child)
        patcher.start()
        test.addCleanup(patcher.stop)
        self.h = MasterHarness(test, **cfg)
        self.pool = self.h.pool

    def say(self, pid, index=-1, **msg):
        """A message on zygote `index`'s event pipe from `pid` (the zygote's or a worker's)."""
        zpid, _env, _ctl, ev_w = self.fake.started[index]
        os.write(ev_w, (json.dumps(dict(msg, pid=pid)) + '\n').encode())
        self.pool.zygotes.on_events(self.pool.zygotes.by_pid[zpid])

    def start_forked(self, processes=2):
        """Starts the first generation; the zygote loads and forks every worker -> the workers."""
        for wid in range(1, processes + 1):
            self.pool.spawn(wid, self.h.master.gen)
        zpid = self.fake.started[0][0]
        self.say(zpid, act='loaded')
        workers = []
        for i, (_cmd, _wid, slot, _off) in enumerate(self.fake.asked()):
            self.say(60001 + i, act='spawned', slot=int(slot))
            workers.append(self.pool.workers[60001 + i])
        return workers


class Forking(unittest.TestCase):
    def test_one_zygote_per_generation_forks_every_worker_and_they_are_seen_by_pid(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru')
        self.assertEqual(len(z.fake.started), 0)
        z.pool.spawn(1, z.h.master.gen)
        z.pool.spawn(2, z.h.master.gen)
        self.assertEqual(len(z.fake.started), 1, 'one zygote for the generation')
        self.assertEqual(z.fake.started[0][1]['KAISER_ZYGOTE'], '1')
        asked = z.fake.asked()
        self.assertEqual([a[:2] for a in asked], [['spawn', '1'], ['spawn', '2']])
        self.assertTrue(all(w.pid is None and w.state == states.LOADING for w in z.pool.workers.values()))
        z.say(z.fake.started[0][0], act='loaded')
        z.say(60001, act='spawned', slot=int(asked[0][2]))
        z.say(60002, act='spawned', slot=asked[1][2])     # Perl and Lua send numbers as strings
        self.assertEqual(sorted(z.pool.workers), [60001, 60002])
        z.say(60001, act='accepting')
        z.say(60002, act='accepting')
        self.assertEqual(z.h.master.phase, RUNNING)
        self.assertTrue(z.h.logged('spawned uWSGI worker 1 (pid: 60001, cores: 1) from the rack zygote'))

    def test_lazy_apps_execs_each_worker_as_before(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru', **{'lazy-apps': True})
        z.h.start()
        self.assertEqual(z.fake.started, [])
        self.assertEqual(len(z.h.sys.spawned), 2)

    def test_a_worker_the_zygote_reaped_is_respawned_through_the_zygote(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru')
        w1, w2 = z.start_forked()
        for w in (w1, w2):
            z.say(w.pid, act='accepting')
        w1.spawned -= 5
        z.say(z.fake.started[0][0], act='exited', worker=w1.pid, status=signal.SIGSEGV)
        self.assertTrue(z.h.logged('DAMN ! worker 1 (pid: %d) died' % w1.pid))
        self.assertNotIn(w1.pid, z.pool.workers)
        self.assertEqual([a[:2] for a in z.fake.asked()], [['spawn', '1']])
        self.assertEqual(len(z.fake.started), 1, 'the same zygote forks the replacement')

    def test_harakiri_signals_the_worker_by_pid(self):
        z = ZygoteHarness(self, processes=1, rack='config.ru')
        [w1] = z.start_forked(1)
        z.say(w1.pid, act='accepting')
        z.pool.kill(w1)
        self.assertEqual(z.h.sys.signals_to(w1.pid), [signal.SIGKILL])

    def test_a_worker_killed_before_it_is_forked_gets_sigkill_once_it_has_a_pid(self):
        z = ZygoteHarness(self, processes=1, rack='config.ru')
        z.pool.spawn(1, z.h.master.gen)
        [wp] = list(z.pool.workers.values())
        z.pool.kill(wp)
        self.assertEqual([k for k in z.h.sys.kills if k[0] is not None], [])
        slot = int(z.fake.asked()[0][2])
        z.say(60001, act='spawned', slot=slot)
        self.assertEqual(z.h.sys.signals_to(60001), [signal.SIGKILL])

    def test_a_fork_for_no_worker_is_killed(self):
        z = ZygoteHarness(self, processes=1, rack='config.ru')
        z.start_forked(1)
        z.say(60009, act='spawned', slot=7)
        self.assertEqual(z.h.sys.signals_to(60009), [signal.SIGKILL])


class LoadFailures(unittest.TestCase):
    def test_a_zygote_that_cannot_load_the_app_at_start_is_game_over_with_its_error(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru')
        z.pool.spawn(1, z.h.master.gen)
        z.pool.spawn(2, z.h.master.gen)
        zpid = z.fake.started[0][0]
        z.say(zpid, act='load-failed', error='unable to load RACK app config.ru: NameError')
        with self.assertRaises(Exited) as caught:
            z.pool.zygotes.on_exit(zpid, 22 << 8)
        self.assertEqual(caught.exception.code, 22)
        self.assertTrue(z.h.logged('NameError'))

    def test_a_zygote_dying_takes_its_workers_down_and_a_new_zygote_forks_their_replacements(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru')
        w1, w2 = z.start_forked()
        for w in (w1, w2):
            z.say(w.pid, act='accepting')
            w.spawned -= 5
        z.pool.zygotes.on_exit(z.fake.started[0][0], signal.SIGKILL)
        self.assertEqual(z.h.sys.signals_to(w1.pid), [signal.SIGKILL])
        self.assertEqual(z.h.sys.signals_to(w2.pid), [signal.SIGKILL])
        self.assertEqual(len(z.fake.started), 2, 'a new zygote for the generation')
        self.assertEqual([a[:2] for a in z.fake.asked()], [['spawn', '1'], ['spawn', '2']])

    def test_a_freed_generation_retires_its_zygote(self):
        z = ZygoteHarness(self, processes=1, rack='config.ru')
        z.start_forked(1)
        gen = z.h.master.gen
        zyg = gen.zygote
        z.pool.generations.append(gen)
        z.h.master.gen = None
        z.pool.workers.clear()
        z.pool.free_generations()
        self.assertIsNone(zyg.ctl_w)


class Stopping(unittest.TestCase):
    def test_a_brutal_stop_kills_the_forked_workers_and_waits_for_no_grandchild(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru')
        w1, w2 = z.start_forked()
        zyg = z.h.master.gen.zygote
        with self.assertRaises(Exited) as caught:
            z.h.master.brutal_stop(3)
        self.assertEqual(caught.exception.code, 3)
        self.assertEqual(z.h.sys.signals_to(w1.pid), [signal.SIGKILL])
        self.assertEqual(z.h.sys.signals_to(w2.pid), [signal.SIGKILL])
        self.assertEqual(z.pool.workers, {})
        self.assertIsNone(zyg.ctl_w, 'the zygote is told to exit')

    def test_a_graceful_stop_forgets_workers_not_forked_yet(self):
        z = ZygoteHarness(self, processes=2, rack='config.ru')
        z.pool.spawn(1, z.h.master.gen)
        with self.assertRaises(Exited):
            z.h.master.graceful_stop()
        self.assertEqual(z.pool.workers, {})


if __name__ == '__main__':
    unittest.main()
