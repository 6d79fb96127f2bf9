"""stats: the uWSGI stats document (keys in uWSGI's order, uwsgitop reads it) and the emperor's summary."""
import unittest

from support import MasterHarness
from _kaiser import stats
from _kaiser.scoreboard import _C, _W, WORKER
from _kaiser.version import VERSION

TOP_KEYS = ['version', 'listen_queue', 'listen_queue_errors', 'signal_queue', 'load', 'pid', 'uid', 'gid', 'cwd',
            'locks', 'sockets', 'workers']
WORKER_KEYS = ['id', 'pid', 'accepting', 'requests', 'delta_requests', 'exceptions', 'harakiri_count', 'signals',
               'signal_queue', 'status', 'rss', 'vsz', 'running_time', 'last_spawn', 'respawn_count', 'tx', 'avg_rt',
               'apps', 'cores']


class Document(unittest.TestCase):
    def running(self, **cfg):
        h = MasterHarness(self, **cfg)
        h.start()
        h.accept_all()
        return h

    def test_keys_in_uwsgis_order(self):
        h = self.running(processes=2)
        doc = stats.document(h.master)
        self.assertEqual(list(doc), TOP_KEYS)
        self.assertEqual(doc['version'], 'kaiser-' + VERSION)
        self.assertEqual([list(w) for w in doc['workers']], [WORKER_KEYS, WORKER_KEYS])

    def test_worker_figures_add_the_live_worker_to_the_totals_of_its_id(self):
        h = self.running(memory_report=True)
        w1 = h.pool.slots[1]
        h.sys.rss[w1.pid] = 5 << 20
        h.pool.totals_of(1).requests = 10
        _W.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot), 3, 1, 100, 30, 7, 1)
        _C.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot) + WORKER, 1234.0, 3, 0, 0)
        doc = stats.worker_doc(h.master, 1, True)
        self.assertEqual((doc['requests'], doc['delta_requests'], doc['accepting'], doc['avg_rt']), (13, 3, 1, 7))
        self.assertEqual((doc['status'], doc['rss'], doc['pid']), ('busy', 5 << 20, w1.pid))
        self.assertEqual(doc['cores'][0]['req_info'], {'request_start': 1234})

    def test_an_empty_slot_is_cheap(self):
        h = self.running()
        h.pool.slots.clear()
        doc = stats.worker_doc(h.master, 1, False)
        self.assertEqual((doc['status'], doc['pid'], doc['apps']), ('cheap', 0, []))

    def test_the_summary_the_emperor_asks_for(self):
        h = self.running(processes=2)
        w1 = h.pool.slots[1]
        _C.pack_into(w1.gen.sb.mm, w1.gen.sb.offset(w1.slot) + WORKER, 1.0, 1, 0, 0)
        self.assertEqual(stats.summary(h.master), {'event': 'stats', 'requests': 0, 'inflight': 1, 'workers': 2,
                                                   'busy': 1, 'harakiri': 0})


if __name__ == '__main__':
    unittest.main()
