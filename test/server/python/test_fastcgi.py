"""fastcgi: records and name-value pairs on the wire (FastCGI 1.0), checked byte by byte."""
import struct
import unittest

import support  # noqa: F401
from _kaiser import fastcgi


class Records(unittest.TestCase):
    def test_a_record_is_header_then_content(self):
        rec = fastcgi.record(fastcgi.STDIN, b'abc', request_id=1)
        self.assertEqual(rec[:8], struct.pack('>BBHHBx', 1, fastcgi.STDIN, 1, 3, 0))
        self.assertEqual(rec[8:], b'abc')

    def test_name_value_pairs_short_and_long(self):
        self.assertEqual(fastcgi.encode_params({'A': 'xy'}), b'\x01\x02Axy')
        long_value = 'v' * 200
        encoded = fastcgi.encode_params({'K': long_value})
        self.assertEqual(encoded[:5], b'\x01\x80\x00\x00\xc8')
        self.assertEqual(encoded[5:], b'K' + long_value.encode())

    def test_a_stream_is_split_into_records_and_closed_by_an_empty_one(self):
        data = b'x' * (fastcgi.MAX_CONTENT + 10)
        stream = fastcgi.stream_records(fastcgi.STDIN, data)
        sizes = []
        i = 0
        while i < len(stream):
            _v, _t, _id, n, _pad = struct.unpack_from('>BBHHBx', stream, i)
            sizes.append(n)
            i += 8 + n
        self.assertEqual(sizes, [fastcgi.MAX_CONTENT, 10, 0])


if __name__ == '__main__':
    unittest.main()
