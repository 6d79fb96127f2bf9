"""fifo: the master FIFO survives writers coming and going, replaces stale files, maps bytes to commands."""
import os
import stat
import unittest

from support import temp_dir
from _kaiser.fifo import Fifo


class MasterFifo(unittest.TestCase):
    def test_bytes_become_commands_and_unknown_bytes_are_skipped(self):
        path = os.path.join(temp_dir(self), 'f')
        fifo = Fifo(path)
        self.addCleanup(fifo.close)
        self.assertTrue(stat.S_ISFIFO(os.stat(path).st_mode))
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b'rRcqQswWx+-C')
        os.close(fd)        # a writer leaving is no EOF to spin on
        self.assertEqual(fifo.read(), ['reload', 'reload', 'chain-reload', 'graceful-stop', 'stop', 'stats',
                                       'reload', 'reload', 'cheaper-add', 'cheaper-remove', 'go-cheap'])
        self.assertEqual(fifo.read(), [])

    def test_a_regular_file_in_the_way_is_replaced(self):
        path = os.path.join(temp_dir(self), 'f')
        with open(path, 'w') as f:
            f.write('stale')
        fifo = Fifo(path)
        self.assertTrue(stat.S_ISFIFO(os.stat(path).st_mode))
        fifo.close(vacuum=True)
        self.assertFalse(os.path.exists(path))

    def test_an_existing_fifo_is_reused(self):
        path = os.path.join(temp_dir(self), 'f')
        os.mkfifo(path)
        ino = os.stat(path).st_ino
        fifo = Fifo(path)
        self.addCleanup(fifo.close)
        self.assertEqual(os.stat(path).st_ino, ino)


if __name__ == '__main__':
    unittest.main()
