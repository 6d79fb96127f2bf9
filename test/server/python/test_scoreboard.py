"""scoreboard: the shared-memory layout of docs/runtime-protocol.md §3, written by workers, read by the master."""
import mmap
import os
import struct
import unittest

import support  # noqa: F401
from _kaiser.scoreboard import CORE, HEADER, WORKER, Scoreboard, SlotWriter


class Layout(unittest.TestCase):
    def setUp(self):
        self.sb = Scoreboard(4, 2)
        self.addCleanup(self.sb.close)

    def test_header_and_sizes(self):
        self.assertEqual(self.sb.mm[:12], b'KSB1' + struct.pack('<II', 2, 4))
        self.assertEqual(self.sb.size, HEADER + 4 * (WORKER + 2 * CORE))
        self.assertEqual(os.fstat(self.sb.fd).st_size, self.sb.size)

    def test_slots_are_taken_zeroed_and_given_back(self):
        slot = self.sb.take()
        self.sb.mm[self.sb.offset(slot)] = 7
        self.sb.give_back(slot)
        self.sb.give_back(slot)
        self.assertEqual(self.sb.free.count(slot), 1)
        taken = [self.sb.take() for _ in range(4)]
        self.assertIn(slot, taken)
        self.assertEqual(self.sb.mm[self.sb.offset(slot)], 0)

    def test_what_a_worker_writes_the_master_reads(self):
        slot = self.sb.take()
        w = SlotWriter(self.sb.mm, self.sb.offset(slot))
        w.requests, w.exceptions, w.tx, w.running, w.avg_rt = 5, 1, 300, 40, 8
        w.set_accepting(True)
        self.assertEqual(self.sb.worker(slot), (5, 1, 300, 40, 8, 1))
        struct.pack_into('<dQII', self.sb.mm, w.core_off(1), 12.5, 3, 1, 2)
        self.assertEqual(self.sb.core(slot, 1), (12.5, 3, 1, 2))

    def test_an_exec_d_worker_sees_the_same_memory_through_the_fd(self):
        slot = self.sb.take()
        other = mmap.mmap(self.sb.fd, self.sb.size)
        self.addCleanup(other.close)
        SlotWriter(other, self.sb.offset(slot)).set_accepting(True)
        self.assertEqual(self.sb.worker(slot)[5], 1)

    def test_writing_after_close_is_harmless(self):
        w = SlotWriter(self.sb.mm, self.sb.offset(0))
        self.sb.close()
        w.flush()
        self.sb.close()


if __name__ == '__main__':
    unittest.main()
