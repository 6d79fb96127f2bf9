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

    def test_a_length_running_past_the_block_into_the_body_is_a_packet_error(self):
        pkt = bytearray(uwsgi_proto.build({'KEY': 'value'}))
        pkt[4 + 2 + 3] += 1            # the value's length says 6: one byte more than the block holds
        with self.assertRaises(uwsgi_proto.PacketError):
            uwsgi_proto.parse_vars(bytes(pkt) + b'BODYBYTES', len(pkt))


if __name__ == '__main__':
    unittest.main()


class Strict(unittest.TestCase):
    """Issue 14 on the uwsgi path: one CONTENT_LENGTH, digits only."""

    def test_a_repeated_content_length_var_is_a_packet_error(self):
        body = b''.join(len(k).to_bytes(2, 'little') + k + len(v).to_bytes(2, 'little') + v
                        for k, v in ((b'CONTENT_LENGTH', b'5'), (b'CONTENT_LENGTH', b'0')))
        pkt = b'\x00' + len(body).to_bytes(2, 'little') + b'\x00' + body
        with self.assertRaises(uwsgi_proto.PacketError):
            uwsgi_proto.parse_vars(pkt, len(pkt))

    def test_content_length_is_digits_only(self):
        self.assertEqual(uwsgi_proto.content_length({'CONTENT_LENGTH': '12'}), 12)
        self.assertEqual(uwsgi_proto.content_length({'CONTENT_LENGTH': ''}), 0)
        self.assertEqual(uwsgi_proto.content_length({}), 0)
        for value in ('+5', '0_5', '-1', '5 ', '0x5'):
            with self.subTest(value=value):
                with self.assertRaises(uwsgi_proto.PacketError):
                    uwsgi_proto.content_length({'CONTENT_LENGTH': value})

    def test_the_environ_nginx_leaves_out_is_filled_in(self):
        env = {'QUERY_STRING': 'a=1', 'HTTP_CONTENT_LENGTH': '3', 'REQUEST_URI': '/app/x%20y?a=1', 'SCRIPT_NAME': '/app'}
        uwsgi_proto.complete_environ(env, uwsgi_proto.SCRIPT_NAME_MODIFIER)
        self.assertEqual((env['REQUEST_METHOD'], env['PATH_INFO'], env['SERVER_PROTOCOL']), ('GET', '/x y', 'HTTP/1.0'))
        # uWSGI passes every var nginx sends, HTTP_CONTENT_* copies too (issue 15); only CONTENT_LENGTH frames the body.
        self.assertEqual((env['HTTP_CONTENT_LENGTH'], env['wsgi.url_scheme']), ('3', 'http'))
