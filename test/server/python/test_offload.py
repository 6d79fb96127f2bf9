"""offload: a file sent by an offload lane over a real socket pair, whole, then the connection closed; a client that
stops reading is dropped after the timeout; drain waits for transfers in flight."""
import os
import socket
import tempfile
import unittest

import support  # noqa: F401
from _kaiser import offload


class Lanes(unittest.TestCase):
    def setUp(self):
        self.file = tempfile.TemporaryFile()
        self.data = os.urandom(3 * 1024 * 1024)
        self.file.write(self.data)
        self.file.flush()
        self.addCleanup(self.file.close)

    def pair(self):
        a, b = socket.socketpair()
        a.setblocking(False)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return a, b

    def test_sends_the_range_then_closes(self):
        off = offload.Offloader(2, 10.0)
        server, client = self.pair()
        off.sendfile(server.fileno(), self.file.fileno(), 100, len(self.data) - 200)
        server.close()       # the core lets go of its fd; the lane keeps the connection
        client.settimeout(10)
        got = []
        while True:
            chunk = client.recv(1 << 20)
            if not chunk:
                break
            got.append(chunk)
        self.assertEqual(b''.join(got), self.data[100:-100])
        off.drain(10)
        self.assertFalse(any(lane.busy() for lane in off.lanes))

    def test_a_client_that_stops_reading_is_dropped(self):
        off = offload.Offloader(1, 0.2)
        server, client = self.pair()
        off.sendfile(server.fileno(), self.file.fileno(), 0, len(self.data))
        server.close()
        off.drain(10)
        self.assertFalse(off.lanes[0].busy())

    def test_a_connection_in_blocking_mode_never_blocks_the_lane(self):
        # request cores keep their connections in blocking mode (client_io: MSG_DONTWAIT); the lane must not block in
        # sendfile() on a client that stopped reading
        off = offload.Offloader(1, 0.2)
        server, client = self.pair()
        server.setblocking(True)
        off.sendfile(server.fileno(), self.file.fileno(), 0, len(self.data))
        server.close()
        off.drain(10)
        self.assertFalse(off.lanes[0].busy())

    def test_start_only_with_the_option(self):
        self.assertIsNone(offload.start({'offload-threads': 0}))
        self.assertIsNotNone(offload.start({'offload-threads': 1, 'socket-timeout': 1}))
        offload.ACTIVE[0] = None


if __name__ == '__main__':
    unittest.main()
