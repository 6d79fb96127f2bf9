"""phase: the master's three phases, written by master.py and shutdown.py only."""
import os
import re
import unittest

import support
from _kaiser import phase


class Phase(unittest.TestCase):
    def test_three_distinct_phases(self):
        self.assertEqual(len({phase.STARTING, phase.RUNNING, phase.STOPPING}), 3)

    def test_only_master_and_shutdown_assign_the_phase(self):
        writers = set()
        for name in os.listdir(support.PY_DIR):
            if name.endswith('.py'):
                with open(os.path.join(support.PY_DIR, name)) as f:
                    if re.search(r'\.phase = ', f.read()):
                        writers.add(name)
        self.assertEqual(writers, {'master.py', 'shutdown.py'})


if __name__ == '__main__':
    unittest.main()
