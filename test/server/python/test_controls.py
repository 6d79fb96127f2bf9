"""controls: the stats server, master FIFOs and touch files, (re)configured per config."""
import os
import socket
import time
import unittest

from support import Exited, MasterHarness, temp_dir
from _kaiser.phase import STOPPING
from _kaiser.reload import CHAIN


class Controls(unittest.TestCase):
    def running(self, **cfg):
        h = MasterHarness(self, **cfg)
        h.start()
        h.accept_all()
        h.master.configure(h.master.cfg, None)
        self.addCleanup(h.master.controls.close, True)
        return h

    def test_the_stats_server_serves_the_document_and_is_registered_in_the_loop(self):
        h = self.running(stats='127.0.0.1:0', stats_minified=True)
        server = h.master.controls.stats
        self.assertIn(server.fd, h.master.loop.handlers)
        port = server.sock.getsockname()[1]
        with socket.create_connection(('127.0.0.1', port)) as c:
            h.master.loop.handlers[server.fd]()
            data = c.recv(65536)
        self.assertTrue(data.startswith(b'{"version":'))

    def test_a_reload_keeps_the_stats_server_when_its_keys_did_not_change(self):
        h = self.running(stats='127.0.0.1:0')
        server = h.master.controls.stats
        h.master.configure(h.master.cfg, h.master.cfg)
        self.assertIs(h.master.controls.stats, server)

    def test_fifo_commands(self):
        d = temp_dir(self)
        path = os.path.join(d, 'fifo')
        h = self.running(master_fifo=[path])
        [fifo] = h.master.controls.fifos
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, fd)
        os.write(fd, b'c')
        h.master.controls.on_fifo(fifo)
        self.assertEqual(h.master.reloader.current.mode, CHAIN)
        os.write(fd, b'q')
        h.master.controls.on_fifo(fifo)
        self.assertEqual(h.master.phase, STOPPING)
        os.write(fd, b'Q')
        with self.assertRaises(Exited):
            h.master.controls.on_fifo(fifo)

    def test_touching_a_touch_reload_file_reloads(self):
        d = temp_dir(self)
        path = os.path.join(d, 'touch')
        h = self.running(touch_reload=[path])
        h.master.controls.check_touch()
        self.assertIsNone(h.master.reloader.current)     # missing and still missing: nothing
        with open(path, 'w'):
            pass
        h.master.controls.check_touch()
        self.assertIsNotNone(h.master.reloader.current)
        self.assertTrue(h.logged('has been touched... graceful reload !'))

    def test_touch_chain_reload_is_a_chain_reload(self):
        d = temp_dir(self)
        path = os.path.join(d, 'touch')
        with open(path, 'w'):
            pass
        h = self.running(touch_chain_reload=[path], reload_mode='all')
        t = time.time() + 10
        os.utime(path, (t, t))
        h.master.controls.check_touch()
        self.assertEqual(h.master.reloader.current.mode, CHAIN)


if __name__ == '__main__':
    unittest.main()
