"""client_io: non-blocking sends and receives that wait at most socket-timeout."""
import os
import socket
import tempfile
import threading
import unittest

import support  # noqa: F401
from _kaiser import client_io


class ClientIO(unittest.TestCase):
    def setUp(self):
        self.server, self.client = socket.socketpair()
        self.server.setblocking(False)
        self.addCleanup(self.server.close)
        self.addCleanup(self.client.close)
        old = client_io.TIMEOUT[0]
        client_io.TIMEOUT[0] = 0.3
        self.addCleanup(client_io.TIMEOUT.__setitem__, 0, old)

    def test_recv_wait_returns_what_arrives(self):
        self.client.sendall(b'abc')
        self.assertEqual(client_io.recv_wait(self.server, 10), b'abc')

    def test_recv_wait_times_out(self):
        with self.assertRaises(socket.timeout):
            client_io.recv_wait(self.server, 10)

    def test_send_all_sends_more_than_the_socket_buffer_while_the_peer_reads(self):
        data = os.urandom(4 << 20)
        got = []
        reader = threading.Thread(target=lambda: got.append(_read_exactly(self.client, len(data))))
        reader.start()
        client_io.send_all(self.server, data)
        reader.join()
        self.assertEqual(got[0], data)

    def test_send_all_times_out_when_the_peer_never_reads(self):
        with self.assertRaises(socket.timeout):
            client_io.send_all(self.server, b'x' * (16 << 20))

    def test_sendfile_all_sends_a_file_range(self):
        with tempfile.TemporaryFile() as f:
            f.write(b'0123456789')
            f.flush()
            self.assertEqual(client_io.sendfile_all(self.server, f.fileno(), 2, 5), 5)
        self.assertEqual(self.client.recv(10), b'23456')


class ClientIOOnABlockingSocket(ClientIO):
    """The same on a socket in blocking mode, as a request core keeps what accept() gives: MSG_DONTWAIT makes every
    recv and send non-blocking all the same."""

    def setUp(self):
        super().setUp()
        self.server.setblocking(True)

    def test_sendfile_all_leaves_the_socket_non_blocking(self):
        with tempfile.TemporaryFile() as f:
            f.write(b'0123456789')
            f.flush()
            client_io.sendfile_all(self.server, f.fileno(), 0, 10)
        self.assertFalse(self.server.getblocking())


def _read_exactly(sock, n):
    out = []
    while n:
        d = sock.recv(min(n, 1 << 16))
        if not d:
            break
        out.append(d)
        n -= len(d)
    return b''.join(out)


if __name__ == '__main__':
    unittest.main()
