"""record: a Record's fields are its __slots__, given in order, every one of them."""
import unittest

import support  # noqa: F401
from _kaiser.record import Record


class Pair(Record):
    __slots__ = ('left', 'right')


class Fields(unittest.TestCase):
    def test_the_values_land_in_the_slots_in_order(self):
        p = Pair(1, 'two')
        self.assertEqual((p.left, p.right), (1, 'two'))
        self.assertEqual(repr(p), "Pair(left=1, right='two')")

    def test_a_missing_or_extra_value_is_a_type_error_naming_the_fields(self):
        with self.assertRaisesRegex(TypeError, r'Pair takes 2 values \(left, right\), got 1'):
            Pair(1)
        with self.assertRaises(TypeError):
            Pair(1, 2, 3)

    def test_no_field_outside_the_slots(self):
        with self.assertRaises(AttributeError):
            Pair(1, 2).other = 3


if __name__ == '__main__':
    unittest.main()
