"""uwsgi_proto: the uwsgi packet (nginx uwsgi_pass) in and out."""
import unittest

import support  # noqa: F401
from _kaiser import uwsgi_proto


class Packets(unittest.TestCase):
    def test_build_then_parse_round_trips(self):
        pkt = uwsgi_proto.build({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/é', 'EMPTY': ''})
        self.assertEqual(uwsgi_proto.need(pkt), len(pkt))
        self.assertEqual(uwsgi_proto.datasize(pkt), len(pkt) - 4)
        self.assertEqual(uwsgi_proto.parse_vars(pkt, len(pkt)), {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/é', 'EMPTY': ''})

    def test_need_waits_for_the_4_byte_header(self):
        self.assertEqual(uwsgi_proto.need(b'\x00\x05'), -1)
        self.assertEqual(uwsgi_proto.need(b'\x00\x05\x01\x00'), 4 + 0x105)

    def test_modifiers_are_kept(self):
        pkt = uwsgi_proto.build({}, modifier1=30, modifier2=1)
        self.assertEqual((pkt[0], pkt[3]), (30, 1))

    def test_truncated_vars_are_packet_errors(self):
        pkt = uwsgi_proto.build({'KEY': 'value'})
        for cut in (5, 6, 8, 10, len(pkt) - 1):
            with self.subTest(cut=cut):
                with self.assertRaises(uwsgi_proto.PacketError):
                    uwsgi_proto.parse_vars(pkt[:cut], cut)


if __name__ == '__main__':
    unittest.main()
