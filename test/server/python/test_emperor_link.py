"""emperor_link: each emperor byte's action, loyalty once, heartbeat (the idle stop is test_cheap_mode.py's)."""
import os
import socket
import struct
import unittest

from support import Exited, MasterHarness
from _kaiser.emperor_link import EmperorLink
from _kaiser.emperor_pipe import FROM_VASSAL, TO_VASSAL
from _kaiser.phase import STOPPING


class Linked(unittest.TestCase):
    def link(self, **cfg):
        h = MasterHarness(self, **cfg)
        h.start()
        h.accept_all()
        mine, self.emperor = socket.socketpair()
        self.addCleanup(self.emperor.close)
        link = h.master.emperor = EmperorLink(h.master, mine.detach())
        self.addCleanup(os.close, link.fd)
        link.configure(h.master.cfg)
        self.emperor.setblocking(False)
        return h, link

    def received(self):
        try:
            return self.emperor.recv(65536)
        except BlockingIOError:
            return b''


class FromEmperor(Linked):
    def test_byte_2_is_a_graceful_stop(self):
        h, link = self.link()
        self.emperor.sendall(bytes((TO_VASSAL.GRACEFUL_STOP,)))
        link.on_readable()
        self.assertEqual(h.master.phase, STOPPING)

    def test_byte_0_is_a_brutal_stop_with_exit_0(self):
        h, link = self.link()
        self.emperor.sendall(bytes((TO_VASSAL.STOP,)))
        with self.assertRaises(Exited) as caught:
            link.on_readable()
        self.assertEqual(caught.exception.code, 0)

    def test_eof_is_a_brutal_stop_with_exit_1(self):
        h, link = self.link()
        self.emperor.close()
        with self.assertRaises(Exited) as caught:
            link.on_readable()
        self.assertEqual(caught.exception.code, 1)
        self.assertTrue(h.logged('lost connection with my emperor'))

    def test_a_config_packet_then_byte_1_reloads_with_that_config(self):
        h, link = self.link()
        config = b'{"http-socket":["127.0.0.1:0"],"wsgi-file":"app.py","processes":3}'
        self.emperor.sendall(bytes((TO_VASSAL.CONFIG,)) + struct.pack('<I', len(config)) + config
                             + bytes((TO_VASSAL.RELOAD,)))
        link.on_readable()
        self.assertEqual(h.master.reloader.current.gen.cfg['processes'], 3)

    def test_a_bad_config_packet_is_reported_as_reload_failed(self):
        h, link = self.link()
        self.emperor.sendall(bytes((TO_VASSAL.CONFIG,)) + struct.pack('<I', 1) + b'[')
        link.on_readable()
        data = self.received()
        self.assertEqual(data[0], FROM_VASSAL.EVENT)
        self.assertIn(b'reload-failed', data)

    def test_byte_3_answers_with_the_stats_event(self):
        h, link = self.link(processes=2)
        self.emperor.sendall(bytes((TO_VASSAL.STATS,)))
        link.on_readable()
        data = self.received()
        self.assertIn(b'"event":"stats"', data)
        self.assertIn(b'"workers":2', data)

    def test_an_unknown_byte_is_logged_and_ignored(self):
        h, link = self.link()
        self.emperor.sendall(bytes((99,)))
        link.on_readable()
        self.assertTrue(h.logged('unknown byte 99 from the emperor'))


class ToEmperor(Linked):
    def test_loyal_is_sent_once_after_the_first_request(self):
        h, link = self.link()
        w1 = h.pool.slots[1]
        h.send(w1, act='first-request')
        h.send(w1, act='first-request')
        self.assertEqual(self.received(), bytes((FROM_VASSAL.LOYAL,)))

    def test_heartbeat_every_heartbeat_seconds(self):
        h, link = self.link(heartbeat=5)
        at = link.next_heartbeat
        self.assertIn(at, link.deadlines())
        link.check(at - 0.1)
        self.assertEqual(self.received(), b'')
        link.check(at)
        self.assertEqual(self.received(), bytes((FROM_VASSAL.HEARTBEAT,)))
        self.assertAlmostEqual(link.next_heartbeat, at + 5)


if __name__ == '__main__':
    unittest.main()
