"""sockets: binding TCP, IPv6, unix and abstract addresses, adopting inherited ones, keeping them across reloads."""
import os
import socket
import stat
import unittest
from unittest import mock

import support
from support import temp_dir
from _kaiser import sockets


class Addresses(unittest.TestCase):
    def test_address_forms(self):
        self.assertEqual(sockets.parse_address('127.0.0.1:80'), (socket.AF_INET, ('127.0.0.1', 80)))
        self.assertEqual(sockets.parse_address(':80'), (socket.AF_INET, ('0.0.0.0', 80)))
        self.assertEqual(sockets.parse_address('[::1]:80'), (socket.AF_INET6, ('::1', 80)))
        self.assertEqual(sockets.parse_address('/run/app.sock'), (socket.AF_UNIX, '/run/app.sock'))
        self.assertEqual(sockets.parse_address('@abstract'), (socket.AF_UNIX, '\0abstract'))
        with self.assertRaises(ValueError):
            sockets.parse_address('host:http')


class Binding(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch.object(support._log, 'log', lambda msg: None)
        patcher.start()
        self.addCleanup(patcher.stop)

    def bind(self, specs, cfg=None, existing=()):
        listeners, new = sockets.bind_all(specs, support.make_config(**(cfg or {})), existing)
        for l in new:
            self.addCleanup(l.close, True)
        return listeners, new

    def test_tcp_port_0_gets_a_port_and_accepts(self):
        [l], _ = self.bind([('http', '127.0.0.1:0')])
        port = int(l.server_port)
        self.assertGreater(port, 0)
        self.assertEqual(l.name, '127.0.0.1:%d' % port)
        socket.create_connection(('127.0.0.1', port)).close()
        self.assertEqual(l.queue()[0], 1)     # one connection waiting in the accept queue

    def test_reuse_port_lets_another_socket_bind_the_same_port(self):
        def second_bind(port):
            other = socket.socket()
            self.addCleanup(other.close)
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                other.bind(('127.0.0.1', port))
                return True
            except OSError:
                return False
        [plain], _ = self.bind([('http', '127.0.0.1:0')])
        self.assertFalse(second_bind(int(plain.server_port)))
        [shared], _ = self.bind([('http', '127.0.0.1:0')], {'reuse_port': True})
        self.assertTrue(second_bind(int(shared.server_port)))

    def test_unix_sockets_get_chmod_socket_and_vacuum_removes_them(self):
        path = os.path.join(temp_dir(self), 's.sock')
        [l], _ = self.bind([('uwsgi', path)], {'chmod_socket': '660'})
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
        l.close(vacuum=True)
        self.assertFalse(os.path.exists(path))

    def test_a_stale_unix_socket_file_is_replaced(self):
        path = os.path.join(temp_dir(self), 's.sock')
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)
        stale.close()
        self.bind([('http', path)])

    def test_a_reload_keeps_sockets_whose_address_did_not_change(self):
        first, _ = self.bind([('http', '127.0.0.1:0')])
        listeners, new = self.bind([('http', '127.0.0.1:0'), ('uwsgi', '127.0.0.1:0')], existing=first)
        self.assertIs(listeners[0], first[0])
        self.assertEqual(len(new), 1)

    def test_a_failing_bind_closes_what_was_bound_before_it(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        busy = '127.0.0.1:%d' % taken.getsockname()[1]
        with mock.patch.object(sockets.Listener, 'close', autospec=True) as close:
            with self.assertRaises(OSError):
                sockets.bind_all([('http', '127.0.0.1:0'), ('http', busy)], support.make_config())
        self.assertEqual(close.call_count, 1)

    def test_an_inherited_socket_is_adopted_not_bound(self):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        s.listen()
        fd = s.detach()
        cfg = support.make_config()
        cfg['_inherit'] = {'127.0.0.1:0': fd}
        [l], _new = sockets.bind_all([('http', '127.0.0.1:0')], cfg)
        self.addCleanup(l.close)
        self.assertEqual(l.fd, fd)
        self.assertIsNone(l.unix_path)


if __name__ == '__main__':
    unittest.main()


class Accepting(unittest.TestCase):
    def setUp(self):
        with mock.patch.object(support._log, 'log', lambda msg: None):
            [self.l], _ = sockets.bind_all([('http', '127.0.0.1:0')], support.make_config())
        self.addCleanup(self.l.close)

    def test_accept_client_gives_a_non_blocking_no_delay_socket_or_none(self):
        self.assertIsNone(self.l.accept_client())
        peer = socket.create_connection(('127.0.0.1', int(self.l.server_port)))
        self.addCleanup(peer.close)
        sock, addr = self.l.accept_client()
        self.addCleanup(sock.close)
        self.assertEqual(addr[0], '127.0.0.1')
        self.assertFalse(sock.getblocking())
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)

    def test_so_keepalive_sets_so_keepalive_on_accepted_connections_only_when_asked(self):
        for flag in (False, True):
            with mock.patch.object(support._log, 'log', lambda msg: None):
                sockets.bind_all([('http', '127.0.0.1:0')], support.make_config(so_keepalive=flag), [self.l])
            peer = socket.create_connection(('127.0.0.1', int(self.l.server_port)))
            self.addCleanup(peer.close)
            sock, _ = self.l.accept_client()
            self.addCleanup(sock.close)
            self.assertEqual(bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)), flag)

    def test_a_tcp_listener_carries_no_delay_so_connections_inherit_it_without_a_setsockopt_each(self):
        self.assertTrue(self.l.nodelay)
        self.assertEqual(self.l.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)
        peer = socket.create_connection(('127.0.0.1', int(self.l.server_port)))
        self.addCleanup(peer.close)
        sock, _ = self.l.accept_client()
        self.addCleanup(sock.close)
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)

    def test_a_parked_listener_keeps_its_fd_number_but_accepts_nothing(self):
        fd = self.l.fd
        sockets.park([self.l])
        self.assertTrue(os.path.samefile('/proc/self/fd/%d' % fd, os.devnull))
        with self.assertRaises(OSError):
            self.l.accept_client()
