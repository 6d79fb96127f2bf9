"""load_priority: a worker loading next to serving workers loads at a lower priority and returns before it accepts;
only when it can return (CAP_SYS_NICE or RLIMIT_NICE); the master asks for it only for a planned replacement
(reload, reload-on-rss) while another worker accepts."""
import os
import unittest

from support import MasterHarness, in_forked_child
from _kaiser import load_priority
from _kaiser import reload as _reload
from _kaiser.phase import RUNNING

WITH_CAP = 'Name:\tpython3\nCapEff:\t000001fffeffffff\n'        # CAP_SYS_NICE (bit 23) set
WITHOUT_CAP = 'Name:\tpython3\nCapEff:\t0000000000000000\n'


def limits(soft, hard=None):
    return ('Limit                     Soft Limit           Hard Limit           Units     \n'
            'Max nice priority         %s                    %s                    \n'
            % (soft, soft if hard is None else hard))


def in_child(fn):
    """Runs `fn` in a forked child (nice values and uids are per process) -> what it wrote, as text."""
    return in_forked_child(lambda: str(fn()).encode()).decode()


class CanReturn(unittest.TestCase):
    def test_cap_sys_nice_is_enough(self):
        self.assertTrue(load_priority.can_return(0, WITH_CAP, limits(0)))

    def test_without_it_rlimit_nice_must_allow_the_starting_value(self):
        self.assertFalse(load_priority.can_return(0, WITHOUT_CAP, limits(0)))
        self.assertFalse(load_priority.can_return(0, WITHOUT_CAP, limits(19)))
        self.assertTrue(load_priority.can_return(0, WITHOUT_CAP, limits(20)))
        self.assertTrue(load_priority.can_return(5, WITHOUT_CAP, limits(15)))
        self.assertTrue(load_priority.can_return(0, WITHOUT_CAP, limits('unlimited')))

    def test_unreadable_proc_means_no(self):
        self.assertFalse(load_priority.can_return(0, '', ''))


@unittest.skipUnless(load_priority.can_return(os.getpriority(os.PRIO_PROCESS, 0)), 'this process cannot lower its nice')
class LowerAndRestore(unittest.TestCase):
    def test_the_process_loads_nicer_and_returns_to_its_starting_value(self):
        def run():
            base = os.getpriority(os.PRIO_PROCESS, 0)
            got = load_priority.lower(10)
            loading = os.getpriority(os.PRIO_PROCESS, 0)
            error = load_priority.restore(got)
            return '%s %s %s %s %s' % (base, got, loading - base, os.getpriority(os.PRIO_PROCESS, 0), error)
        base, got, delta, after, error = in_child(run).split()
        self.assertEqual(got, base)
        self.assertEqual(int(delta), min(10, 19 - int(base)))
        self.assertEqual(after, base)
        self.assertEqual(error, 'None')

    def test_threads_started_while_loading_return_too(self):
        def run():
            import threading
            base = load_priority.lower(10)
            seen = []
            go = threading.Event()
            done = threading.Event()

            def body():
                go.wait()
                seen.append(os.getpriority(os.PRIO_PROCESS, 0))
                done.set()
            t = threading.Thread(target=body)
            t.start()
            load_priority.restore(base)
            go.set()
            done.wait(10)
            t.join()
            return '%s %s' % (base, seen[0])
        base, thread_nice = in_child(run).split()
        self.assertEqual(thread_nice, base)

    def test_zero_changes_nothing(self):
        self.assertEqual(in_child(lambda: '%s %s' % (load_priority.lower(0), os.getpriority(os.PRIO_PROCESS, 0))),
                         'None %d' % os.getpriority(os.PRIO_PROCESS, 0))


@unittest.skipUnless(os.geteuid() == 0, 'needs root to become another user')
class Tenant(unittest.TestCase):
    def test_a_tenant_without_rlimit_nice_keeps_its_priority(self):
        def run():
            import resource
            resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
            os.setgid(65534)
            os.setuid(65534)
            before = os.getpriority(os.PRIO_PROCESS, 0)
            return '%s %s %s' % (load_priority.lower(10), before, os.getpriority(os.PRIO_PROCESS, 0))
        got, before, after = in_child(run).split()
        self.assertEqual(got, 'None')
        self.assertEqual(before, after)

    def test_a_tenant_whose_rlimit_nice_allows_it_loads_nicer_and_returns(self):
        def run():
            import resource
            load_priority.allow_return_as_root()
            if resource.getrlimit(resource.RLIMIT_NICE)[0] < 20 - os.getpriority(os.PRIO_PROCESS, 0):
                return 'skip'
            os.setgid(65534)
            os.setuid(65534)
            base = load_priority.lower(10)
            loading = os.getpriority(os.PRIO_PROCESS, 0)
            error = load_priority.restore(base)
            return '%s %s %s %s' % (base, loading, os.getpriority(os.PRIO_PROCESS, 0), error is None)
        out = in_child(run)
        if out == 'skip':
            self.skipTest('no CAP_SYS_RESOURCE here: RLIMIT_NICE cannot be raised')
        base, loading, after, ok = out.split()
        self.assertGreater(int(loading), int(base))
        self.assertEqual(after, base)
        self.assertEqual(ok, 'True')


class WhatTheMasterAsks(unittest.TestCase):
    def running(self, **cfg):
        h = MasterHarness(self, **cfg)
        h.start()
        h.accept_all()
        self.assertEqual(h.master.phase, RUNNING)
        return h

    def test_the_first_workers_load_at_full_priority(self):
        h = MasterHarness(self, processes=2)
        w1, w2 = h.start()
        self.assertEqual([h.sys.load_nice[w1.pid], h.sys.load_nice[w2.pid]], [0, 0])

    def test_replacements_of_a_reload_load_nicer_while_others_serve(self):
        h = self.running(processes=2, load_nice=10)
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.CHAIN)
        [new1] = h.sys.spawned[n:]
        self.assertEqual(h.sys.load_nice[new1.pid], 10)
        h.send(new1, act='accepting')
        new2 = h.sys.spawned[-1]
        self.assertEqual(h.sys.load_nice[new2.pid], 10)

    def test_the_successor_of_a_worker_that_serves_until_it_accepts_loads_nicer(self):
        h = self.running(processes=1, reload_on_rss=10, load_nice=10)
        h.sys.rss[h.pool.slots[1].pid] = 11 << 20
        h.pool.check(0, 0)
        self.assertEqual(h.sys.load_nice[h.sys.spawned[-1].pid], 10)

    def test_max_requests_stops_accepting_first_so_its_successor_loads_at_full_priority(self):
        h = self.running(processes=2, max_requests=10, load_nice=10)
        h.send(h.pool.slots[1], act='retiring', reason='max-requests')
        self.assertEqual(h.sys.load_nice[h.sys.spawned[-1].pid], 0)

    def test_a_crash_respawn_restores_missing_capacity_at_full_priority(self):
        h = self.running(processes=2, load_nice=10)
        w1 = h.pool.slots[1]
        w1.spawned -= 5
        h.exit(w1, code=1)
        self.assertEqual(h.sys.load_nice[h.pool.slots[1].pid], 0)

    def test_load_nice_0_turns_it_off(self):
        h = self.running(processes=2, load_nice=0)
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.CHAIN)
        self.assertEqual(h.sys.load_nice[h.sys.spawned[n].pid], 0)

    def test_off_by_default(self):
        # On a quiet machine load-nice 10 made a 2-worker FastAPI chain reload take 8.3-8.5 s instead of 1.2-1.6 s
        # with no shorter gap (bench/asgi.py, PARTS=reload): it is for saturated machines, asked for by name.
        h = self.running(processes=2)
        n = len(h.sys.spawned)
        h.master.reloader.start(h.master.cfg, _reload.CHAIN)
        self.assertEqual(h.sys.load_nice[h.sys.spawned[n].pid], 0)


if __name__ == '__main__':
    unittest.main()
