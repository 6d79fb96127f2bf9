"""minijson against the stdlib json: a table of values round-trips both ways, and a table of texts json rejects
is rejected too."""
import json
import math
import unittest

import support  # noqa: F401
from _kaiser import minijson

ROUND_TRIP = [
    None, True, False, 0, -0, 1, -1, 12345678901234567890, -987654321,
    0.5, -0.25, 1e100, 1e-7, 3.141592653589793, -0.0, 2.5e-300,
    '', 'plain', 'quote " backslash \\ slash /', 'tab\tnewline\ncr\r', 'control \x00\x01\x1f\x7f',
    'latin-1 é ß', 'bmp 漢字', 'astral 😀 𝄞', '\u2028\u2029',
    [], [1, 'two', None], [[[]]], {}, {'a': 1}, {'nested': {'list': [1, {'x': [True, False]}]}},
    {'': 'empty key', 'é': 'non-ascii key'},
    {'http-socket': ['127.0.0.1:0'], 'processes': 4, 'env': {'A': 'B=C'}, 'harakiri': 1.5},
]

VALID_TEXTS = [
    '0', '-0', '1', '-1', '10', '1.5', '-1.5', '1e5', '1E5', '1e+5', '1e-5', '1.25e3', '0.5', '-0.0',
    ' \t\n\r[ 1 , 2 ]\n', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\/"', '"\\b\\f\\n\\r\\t"', '{"a":{"b":[]}}',
    '[true,false,null]', '"\\u0000"', '1e400',
]

INVALID_TEXTS = [
    '', ' ', '01', '-01', '00', '+5', '+0', '.5', '1.', '-', '--1', '1e', '1e+', '1.e5', '0x10', '1_000',
    'NaN', 'Infinity', '-Infinity', 'nan', 'inf', 'tru', 'truex', 'nul', '[1,]', '[,1]', '{"a":1,}', '{a:1}',
    "{'a':1}", '{"a" 1}', '[1 2]', '"abc', '"\\x41"', '"\\u12"', '"\\u12g4"', '"raw\nnewline"', '"tab\there"',
    '[1]]', '{}{}', '"\\"', '1 2',
]


def _refuse(constant):
    raise ValueError('not JSON: %s' % constant)


def same(a, b):
    """Equal, with -0.0 and 0.0 told apart (and NaN never produced)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class RoundTrip(unittest.TestCase):
    def test_values_survive_minijson_both_ways(self):
        for value in ROUND_TRIP:
            with self.subTest(value=value):
                self.assertTrue(same(minijson.loads(minijson.dumps(value)), value))

    def test_what_minijson_writes_json_reads_as_the_same_value(self):
        for value in ROUND_TRIP:
            with self.subTest(value=value):
                self.assertTrue(same(json.loads(minijson.dumps(value)), value))

    def test_what_json_writes_minijson_reads_as_the_same_value(self):
        for value in ROUND_TRIP:
            for ensure_ascii in (True, False):
                with self.subTest(value=value, ensure_ascii=ensure_ascii):
                    self.assertTrue(same(minijson.loads(json.dumps(value, ensure_ascii=ensure_ascii)), value))

    def test_indented_output_reads_back(self):
        for value in ROUND_TRIP:
            with self.subTest(value=value):
                self.assertTrue(same(json.loads(minijson.dumps(value, indent='\t')), value))

    def test_tuples_and_bytes_are_written_as_lists_and_latin1_strings(self):
        self.assertEqual(json.loads(minijson.dumps((1, 2))), [1, 2])
        self.assertEqual(json.loads(minijson.dumps(b'\xe9t\xe9')), 'été')

    def test_non_string_keys_are_written_as_json_writes_them(self):
        value = {1: 'a', 2.5: 'b', None: 'c', False: 'd'}
        self.assertEqual(json.loads(minijson.dumps(value)), json.loads(json.dumps(value)))


class Reading(unittest.TestCase):
    def test_reads_every_valid_text_as_json_does(self):
        for text in VALID_TEXTS:
            with self.subTest(text=text):
                self.assertTrue(same(minijson.loads(text), json.loads(text)))

    def test_rejects_every_text_json_rejects(self):
        for text in INVALID_TEXTS:
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    json.loads(text, parse_constant=_refuse)   # NaN and Infinity are json's extensions, not JSON
                with self.assertRaises(ValueError):
                    minijson.loads(text)

    def test_reads_bytes_as_utf8(self):
        self.assertEqual(minijson.loads('{"k":"é"}'.encode()), {'k': 'é'})

    def test_the_error_is_a_value_error_naming_the_place(self):
        with self.assertRaises(minijson.JSONError) as caught:
            minijson.loads('[1, 01]')
        self.assertIn('5', str(caught.exception))


class Writing(unittest.TestCase):
    def test_refuses_infinities_and_nan_like_json_with_allow_nan_false(self):
        for value in (float('inf'), float('-inf'), float('nan'), [float('inf')], {'x': float('nan')}):
            with self.subTest(value=value):
                with self.assertRaises(ValueError):
                    json.dumps(value, allow_nan=False)
                with self.assertRaises(ValueError):
                    minijson.dumps(value)

    def test_lone_surrogates_are_escaped_so_the_text_encodes_as_utf8(self):
        text = minijson.dumps('a\ud800b')
        text.encode('utf-8')
        self.assertEqual(json.loads(text), 'a\ud800b')

    def test_compact_by_default_like_the_emperor_expects(self):
        self.assertEqual(minijson.dumps({'a': [1, 2], 'b': None}), '{"a":[1,2],"b":null}')


if __name__ == '__main__':
    unittest.main()
