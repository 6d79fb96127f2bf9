"""code_layout: the code a forked master and its worker run, laid out together by the runtime host (issue 13). Every
name of HOT resolves in what the host imports, and `lay_out` gives each of those functions an equal copy of its code
(nested code included) that still runs, and a new function object where it is defined and where it was imported. In a
child process: it replaces code objects of the modules it imports."""
import json
import subprocess
import sys
import unittest

import support

LAY_OUT = r"""
import json, sys, types
sys.path.insert(0, sys.argv[1])
import _kaiser_bootstrap
from _kaiser import host, code_layout, config, master  # the host imports what a forked vassal runs
found, missing = code_layout.hot_functions()
old = [config.socket_specs, master.Master.timeout]   # in a list: lay_out rebinds module namespaces (this one too)
before = [(f, f.__code__, [c for c in f.__code__.co_consts if type(c) is types.CodeType]) for f in found]
count = code_layout.lay_out()
copied = [f.__qualname__ for f, code, nested in before
          if f.__code__ is not code and f.__code__ == code
          and all(a is not b and a == b for a, b in zip(nested, [c for c in f.__code__.co_consts if type(c) is types.CodeType]))]
nested = sum(1 for _, _, n in before if n)
moved = [config.socket_specs is not old[0], master.Master.timeout is not old[1],
         config.socket_specs.__code__ is old[0].__code__, master._config.socket_specs is config.socket_specs]
runs = config.socket_specs({'http-socket': ['127.0.0.1:1'], 'socket': ['/tmp/s']})
print(json.dumps({'found': len(found), 'missing': missing, 'count': count, 'copied': len(copied), 'nested': nested,
                  'runs': runs, 'moved': moved}))
"""


class LayOut(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run([sys.executable, '-c', LAY_OUT, support.PY_DIR], capture_output=True, text=True,
                             check=True, timeout=60).stdout
        cls.result = json.loads(out)

    def test_hot_names_resolve_in_what_the_host_imports(self):
        # A renamed or removed function only loses its place; past a tenth of HOT, record it again:
        # `python3 bench/fork-memory.py --record` prints HOT.
        missing = self.result['missing']
        self.assertLess(len(missing), self.result['found'] / 10, 'HOT names that do not resolve: %s' % missing)
        self.assertGreater(self.result['found'], 100)

    def test_each_hot_function_gets_an_equal_copy_of_its_code_nested_code_included(self):
        self.assertEqual(self.result['count'], self.result['found'])
        self.assertEqual(self.result['copied'], self.result['found'])
        self.assertGreater(self.result['nested'], 0)

    def test_a_function_of_hot_is_replaced_where_it_is_defined_and_where_it_was_imported(self):
        # a new function object with the laid-out code: in its module, in its class, in another module's namespace
        self.assertEqual(self.result['moved'], [True, True, True, True])

    def test_a_laid_out_function_still_runs(self):
        self.assertEqual(self.result['runs'], [['http', '127.0.0.1:1'], ['uwsgi', '/tmp/s']])


if __name__ == '__main__':
    unittest.main()
