"""Plain values with named fields: one constructor instead of an `__init__` of `self.x = x` lines per class.

A subclass lists its fields in `__slots__` (no per-instance dict: these objects are made per request or per
reload) and is built with every field, positionally, in that order. For objects that also carry state of their own
(counters, caches), write the `__init__`: a Record has nothing but its fields.
"""


class Record:
    """A value whose fields are its subclass's `__slots__`, given in that order: `Found(path, st)`."""

    __slots__ = ()

    def __init__(self, *values):
        fields = self.__slots__
        if len(values) != len(fields):
            raise TypeError('%s takes %d values (%s), got %d' % (type(self).__name__, len(fields), ', '.join(fields), len(values)))
        for name, value in zip(fields, values):
            setattr(self, name, value)

    def __repr__(self):
        return '%s(%s)' % (type(self).__name__, ', '.join('%s=%r' % (n, getattr(self, n)) for n in self.__slots__))
