"""cheaper: the algorithms' answers check by check (uWSGI 2.0's rules), the options' defaults and refusals, and the
controller over a FakeSystem: the first ids, spawning cheaped ids, retiring the oldest idle worker, reloads."""
import signal
import unittest

from support import MasterHarness, make_config
from _kaiser import cheaper
from _kaiser import worker_states as states
from _kaiser import cheaper_algos
from _kaiser.cheaper_algos import Sample


def options(**cfg):
    return cheaper.Options(make_config(**cfg))


def answers(algo, samples):
    return [algo.decide(s) for s in samples]


class Spare(unittest.TestCase):
    def test_all_busy_for_overload_checks_spawns_step_workers(self):
        algo = cheaper_algos.Spare(options(processes=6, cheaper=2, cheaper_overload=3, cheaper_step=2))
        busy = Sample(active=2, busy=2, cheaped=4)
        self.assertEqual(answers(algo, [busy, busy, busy]), [0, 0, 2])
        self.assertEqual(algo.overload_count, 0)

    def test_step_is_capped_by_the_cheaped_ids(self):
        algo = cheaper_algos.Spare(options(processes=3, cheaper=1, cheaper_overload=1, cheaper_step=4))
        self.assertEqual(algo.decide(Sample(active=2, busy=2, cheaped=1)), 1)

    def test_one_free_worker_is_stable_more_are_cheaped_every_overload_checks(self):
        algo = cheaper_algos.Spare(options(processes=6, cheaper=2, cheaper_overload=3))
        self.assertEqual(answers(algo, [Sample(5, 4, 1)] * 4), [0, 0, 0, 0])       # one spare: stable
        self.assertEqual(answers(algo, [Sample(5, 0, 1)] * 6), [0, 0, -1, 0, 0, -1])
        self.assertEqual(answers(algo, [Sample(2, 0, 4)] * 6), [0] * 6)            # down to cheaper

    def test_a_free_worker_decrements_the_overload_count(self):
        algo = cheaper_algos.Spare(options(processes=6, cheaper=2, cheaper_overload=3))
        self.assertEqual(answers(algo, [Sample(2, 2, 4), Sample(2, 2, 4), Sample(2, 1, 4), Sample(2, 2, 4)]),
                         [0, 0, 0, 0])
        self.assertEqual(algo.decide(Sample(2, 2, 4)), 1)


class Spare2(unittest.TestCase):
    def test_fewer_idle_than_cheaper_spawns_the_difference_capped_by_step(self):
        algo = cheaper_algos.Spare2(options(processes=8, cheaper=3, cheaper_step=2))
        self.assertEqual(algo.decide(Sample(active=3, busy=3, cheaped=5)), 2)
        self.assertEqual(algo.decide(Sample(active=3, busy=1, cheaped=5)), 1)

    def test_more_idle_than_cheaper_for_cheaper_idle_checks_cheaps_one(self):
        algo = cheaper_algos.Spare2(options(processes=8, cheaper=2, cheaper_idle=3))
        self.assertEqual(answers(algo, [Sample(5, 0, 3)] * 4), [0, 0, -1, 0])
        self.assertEqual(answers(algo, [Sample(2, 0, 6)] * 4), [0] * 4)             # exactly cheaper idle


class Backlog(unittest.TestCase):
    def test_a_queue_above_overload_spawns_below_it_cheaps(self):
        algo = cheaper_algos.Backlog(options(processes=4, cheaper=1, cheaper_overload=3))
        self.assertEqual(algo.decide(Sample(1, 1, 3, backlog=4)), 1)
        self.assertEqual(algo.decide(Sample(2, 2, 2, backlog=3)), 0)
        self.assertEqual(algo.decide(Sample(2, 0, 2, backlog=0)), -1)
        self.assertEqual(algo.decide(Sample(1, 0, 3, backlog=0)), 0)


class Busyness(unittest.TestCase):
    def test_busy_share_of_each_period_spawns_or_cheaps(self):
        o = options(processes=4, cheaper=1, cheaper_overload=2, cheaper_busyness_multiplier=2)
        algo = cheaper_algos.Busyness(o)
        self.assertEqual(algo.decide(Sample(1, 0, 3, running_us=0)), 0)               # first: the baseline
        self.assertEqual(algo.decide(Sample(1, 1, 3, running_us=1_000_000)), 0)
        self.assertEqual(algo.decide(Sample(1, 1, 3, running_us=1_800_000)), 1)       # 90 % of 2 s > 50 %
        low = [Sample(2, 0, 2, running_us=1_800_000)] * 4
        self.assertEqual(answers(algo, low), [0, 0, 0, -1])                          # 0 % twice in a row

    def test_a_backlog_alert_spawns_at_once(self):
        algo = cheaper_algos.Busyness(options(processes=4, cheaper=1))
        self.assertEqual(algo.decide(Sample(1, 1, 3, backlog=34)), 1)


class Manual(unittest.TestCase):
    def test_manual_never_decides_by_itself(self):
        algo = cheaper_algos.Manual(options(processes=4, cheaper=1, cheaper_algo='manual'))
        self.assertEqual(answers(algo, [Sample(1, 1, 3, backlog=100), Sample(4, 0, 0)]), [0, 0])
        self.assertIsNone(cheaper.problem(make_config(processes=4, cheaper=1, cheaper_algo='manual')))


class Configuration(unittest.TestCase):
    def test_uwsgi_defaults(self):
        o = options(processes=4, cheaper=2)
        self.assertEqual((o.algo, o.step, o.overload, o.initial, o.idle), ('spare', 1, 3, 2, 10))
        self.assertEqual(options(processes=4, cheaper=2, cheaper_initial=9).initial, 4)
        self.assertEqual(options(processes=4, cheaper=2, cheaper_initial=1).initial, 2)

    def test_what_uwsgi_refuses_at_start(self):
        self.assertIsNone(cheaper.problem(make_config(processes=4)))
        self.assertEqual(cheaper.problem(make_config(processes=2, cheaper=2)),
                         'invalid cheaper value: must be lower than processes')
        self.assertIn('cheaper algorithm "fancy"', cheaper.problem(make_config(processes=4, cheaper=1,
                                                                               cheaper_algo='fancy')))


class Controller(unittest.TestCase):
    def running(self, **cfg):
        h = MasterHarness(self, **cfg)
        h.master.cheaper.configure(h.master.cfg, 0)
        for wid in h.master.cheaper.initial_ids(h.master.cfg):
            h.pool.spawn(wid, h.master.gen)
        h.accept_all()
        return h

    def test_only_cheaper_initial_workers_start_and_stats_show_the_others_cheap(self):
        h = self.running(processes=4, cheaper=1, cheaper_initial=2)
        self.assertEqual(sorted(h.pool.slots), [1, 2])
        from _kaiser.stats import document
        self.assertEqual([w['status'] for w in document(h.master)['workers']], ['idle', 'idle', 'cheap', 'cheap'])

    def test_an_overload_spawns_the_lowest_cheaped_id_and_a_quiet_spell_cheaps_the_oldest(self):
        h = self.running(processes=3, cheaper=1, cheaper_overload=1)
        c = h.master.cheaper
        c.algo.decide = lambda s: 1
        c.tick(1.0)
        self.assertEqual(sorted(h.pool.slots), [1, 2])
        c.tick(1.5)                                    # once a second
        self.assertEqual(sorted(h.pool.slots), [1, 2])
        h.accept_all([h.pool.slots[2]])
        h.pool.totals_of(1).last_spawn = 100
        h.pool.totals_of(2).last_spawn = 200
        c.algo.decide = lambda s: -1
        w1 = h.pool.slots[1]
        c.tick(2.0)
        self.assertEqual(w1.state, states.RETIRING)
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGHUP])
        self.assertEqual(sorted(h.pool.slots), [2])
        h.exit(w1)
        self.assertEqual(sorted(h.pool.slots), [2])     # a cheaped worker is not respawned
        self.assertEqual(c.cheaped_ids(), [1, 3])

    def test_the_fifo_s_plus_and_minus_override_the_algorithm_at_the_next_check(self):
        h = self.running(processes=3, cheaper=1, cheaper_algo='manual')
        c = h.master.cheaper
        c.fifo(1)
        c.fifo(1)
        c.tick(1.0)
        self.assertEqual(sorted(h.pool.slots), [1, 2, 3])
        h.accept_all([h.pool.slots[2], h.pool.slots[3]])
        c.fifo(-1)
        c.tick(2.0)
        self.assertEqual(len(h.pool.slots), 2)
        c.fifo(-5)
        c.tick(3.0)
        self.assertEqual(len(h.pool.slots), 1)             # never below one running worker
        c.tick(4.0)
        self.assertEqual(len(h.pool.slots), 1)

    def test_without_cheaper_the_fifo_s_plus_does_nothing(self):
        h = MasterHarness(self, processes=2)
        h.master.cheaper.configure(h.master.cfg, 0)
        h.master.cheaper.fifo(1)
        self.assertEqual(getattr(h.master.cheaper, 'fifo_delta', 0), 0)   # dormant (dormant.py): nothing counted
        self.assertIsNone(h.master.cheaper.options)

    def test_a_busy_worker_is_never_the_one_cheaped(self):
        h = self.running(processes=3, cheaper=1, cheaper_initial=2)
        w1, w2 = h.pool.slots[1], h.pool.slots[2]
        from _kaiser.scoreboard import _C, WORKER
        _C.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot) + WORKER, 1000.0, 1, 0, 0)
        h.master.cheaper.cheap_one()
        self.assertEqual((w1.state, w2.state), (states.READY, states.RETIRING))

    def test_a_reload_starts_the_ids_running_now(self):
        h = self.running(processes=4, cheaper=1)
        h.master.phase = 'running'
        h.master.cheaper.spawn(2)
        h.accept_all()
        self.assertEqual(h.master.cheaper.reload_ids(h.master.cfg), [1, 2, 3])
        self.assertEqual(h.master.cheaper.initial_ids(make_config(processes=4)), [1, 2, 3, 4])


if __name__ == '__main__':
    unittest.main()
