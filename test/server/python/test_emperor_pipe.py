"""emperor_pipe: the byte values equal the TypeScript side's, and the stream is framed as docs/runtime-protocol.md
§2 says."""
import os
import re
import socket
import struct
import unittest

import support
from _kaiser import emperor_pipe
from _kaiser.emperor_pipe import EOF_MESSAGE, FROM_VASSAL, TO_VASSAL, EmperorPipe

TS_PIPE = os.path.join(support.ROOT, 'src', 'protocol', 'emperor-pipe.ts')


def ts_constants(name):
    """{KEY: value} of `export const NAME = {...}` in src/protocol/emperor-pipe.ts."""
    with open(TS_PIPE) as f:
        text = f.read()
    body = re.search(r'export const %s = \{(.*?)\}' % name, text, re.S).group(1)
    body = re.sub(r'/\*.*?\*/|//[^\n]*', '', body, flags=re.S)
    return {k: int(v) for k, v in re.findall(r'(\w+):\s*(\d+)', body)}


def names(cls):
    return {k: v for k, v in vars(cls).items() if k.isupper()}


class SameBytesAsTypeScript(unittest.TestCase):
    def test_to_vassal(self):
        self.assertEqual(names(TO_VASSAL), ts_constants('TO_VASSAL'))

    def test_from_vassal(self):
        self.assertEqual(names(FROM_VASSAL), ts_constants('FROM_VASSAL'))


class Stream(unittest.TestCase):
    def setUp(self):
        mine, self.emperor = socket.socketpair()
        self.addCleanup(self.emperor.close)
        self.pipe = EmperorPipe(mine.detach())
        self.addCleanup(os.close, self.pipe.fd)

    def test_single_bytes_and_config_packets_in_one_read(self):
        config = '{"processes":2}'.encode()
        self.emperor.sendall(bytes((TO_VASSAL.STATS,)) + bytes((TO_VASSAL.CONFIG,)) + struct.pack('<I', len(config))
                             + config + bytes((TO_VASSAL.RELOAD,)))
        self.assertEqual(self.pipe.read(), [(TO_VASSAL.STATS, None), (TO_VASSAL.CONFIG, '{"processes":2}'),
                                            (TO_VASSAL.RELOAD, None)])

    def test_a_config_packet_split_across_reads_is_kept_until_complete(self):
        config = b'{"a":1}'
        packet = bytes((TO_VASSAL.CONFIG,)) + struct.pack('<I', len(config)) + config
        self.emperor.sendall(packet[:3])
        self.assertEqual(self.pipe.read(), [])
        self.emperor.sendall(packet[3:])
        self.assertEqual(self.pipe.read(), [(TO_VASSAL.CONFIG, '{"a":1}')])

    def test_a_config_packet_that_is_not_utf8_is_dropped(self):
        self.emperor.sendall(bytes((TO_VASSAL.CONFIG,)) + struct.pack('<I', 2) + b'\xff\xfe' + bytes((0,)))
        self.assertEqual(self.pipe.read(), [(TO_VASSAL.STOP, None)])

    def test_eof_when_the_emperor_closes(self):
        self.emperor.close()
        self.assertEqual(self.pipe.read(), [(EOF_MESSAGE, None)])

    def test_bytes_and_events_to_the_emperor(self):
        self.pipe.send(FROM_VASSAL.LOYAL)
        self.pipe.event({'event': 'reloaded'})
        data = self.emperor.recv(100)
        self.assertEqual(data[0], 17)
        self.assertEqual(data[1], FROM_VASSAL.EVENT)
        (n,) = struct.unpack_from('<I', data, 2)
        self.assertEqual(data[6:6 + n], b'{"event":"reloaded"}')

    def test_no_magic_numbers_left_in_the_master(self):
        for module in ('emperor_link', 'master', 'reload', 'pool', 'shutdown'):
            with open(os.path.join(support.PY_DIR, module + '.py')) as f:
                self.assertIsNone(re.search(r'\.send\(\d+\)', f.read()), module)
        self.assertTrue(emperor_pipe.__doc__)


if __name__ == '__main__':
    unittest.main()
