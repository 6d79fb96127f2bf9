"""uwsgi_module: the `uwsgi` module apps import."""
import os
import sys
import types
import unittest

import support  # noqa: F401
from _kaiser import uwsgi_module


class FakeSlot:
    requests = 7


class FakeWorker:
    wid = 3
    slot = FakeSlot()
    listeners = [types.SimpleNamespace(fd=5)]
    mm = bytearray(64 + 2 * (64 + 32))


class Install(unittest.TestCase):
    def setUp(self):
        self.saved = sys.modules.pop('uwsgi', None)
        cfg = {'processes': 4, 'threads': 2, 'buffer-size': 8192,
               '_opt': ['socket', ':3031', 'env', 'A=1', 'env', 'B=2', 'project', 'myapp', 'master', None]}
        self.m = uwsgi_module.install(cfg, FakeWorker())

    def tearDown(self):
        sys.modules.pop('uwsgi', None)
        if self.saved is not None:
            sys.modules['uwsgi'] = self.saved

    def test_is_importable_as_uwsgi(self):
        import uwsgi
        self.assertIs(uwsgi, self.m)

    def test_opt_has_bytes_values_the_last_of_repeats_and_true_for_bare_flags(self):
        self.assertEqual(self.m.opt, {'socket': b':3031', 'env': b'B=2', 'project': b'myapp', 'master': True})

    def test_process_facts(self):
        self.assertEqual((self.m.numproc, self.m.cores, self.m.buffer_size, self.m.worker_id()), (4, 2, 8192, 3))
        self.assertEqual(self.m.masterpid(), os.getppid())
        self.assertEqual(self.m.sockets, [5])
        self.assertIsInstance(self.m.started_on, int)
        self.assertGreaterEqual(self.m.version_info[:2], (2, 0))

    def test_logvars_belong_to_the_current_request(self):
        uwsgi_module.begin_request(uwsgi_module.request_state(), {'CONTENT_LENGTH': '12'}, 4)
        self.m.set_logvar('user', 'alice')
        self.assertEqual((self.m.get_logvar('user'), self.m.cl(), self.m.request_id()), (b'alice', 12, 4))
        uwsgi_module.begin_request(uwsgi_module.request_state(), {}, 5)
        self.assertIsNone(self.m.get_logvar('user'))

    def test_total_requests_sums_the_scoreboard(self):
        mm = bytearray(64 + 2 * (64 + 32))
        import struct
        struct.pack_into('<II', mm, 4, 1, 2)
        struct.pack_into('<Q', mm, 64, 5)
        struct.pack_into('<Q', mm, 64 + 96, 6)
        self.assertEqual(uwsgi_module._total_requests(mm), 10)


if __name__ == '__main__':
    unittest.main()
