"""_kaiser_bootstrap: the entry points' modules become the package `_kaiser` and never shadow the stdlib or the app."""
import ast
import os
import subprocess
import sys
import unittest

import support

SCRIPT = '''
import sys
sys.path.insert(0, %r)
import _kaiser_bootstrap
assert %r not in sys.path, sys.path
import http, logging
from _kaiser import http as kaiser_http, log as kaiser_log
print(http.__file__)
print(kaiser_http.__file__)
print(type(logging.getLogger).__name__, kaiser_log.__name__)
'''


class Bootstrap(unittest.TestCase):
    def test_the_stdlib_stays_the_stdlib_and_our_modules_are_under_kaiser(self):
        out = subprocess.run([sys.executable, '-c', SCRIPT % (support.PY_DIR, support.PY_DIR)], check=True,
                             capture_output=True, text=True).stdout.split('\n')
        self.assertNotIn(support.PY_DIR, out[0])
        self.assertEqual(out[1], os.path.join(support.PY_DIR, 'http.py'))
        self.assertEqual(out[2], 'function _kaiser.log')

    def test_register_names_the_directory_of_the_module(self):
        import _kaiser_bootstrap
        self.assertEqual(_kaiser_bootstrap.HERE, support.PY_DIR)
        self.assertEqual(sys.modules['_kaiser'].__path__, [support.PY_DIR])

    def test_the_master_script_is_only_the_bootstrap_and_a_call_of_main(self):
        # a script is compiled from source at every start, and what the compiler frees stays in the master's memory
        # (issue 17): the master's code lives in master.py, loaded from its .pyc
        with open(os.path.join(support.PY_DIR, 'start_master.py')) as f:
            body = ast.parse(f.read()).body[1:]
        self.assertEqual([type(node).__name__ for node in body], ['Import', 'ImportFrom', 'Expr'])

    def test_both_entry_points_import_it_first_and_no_module_repeats_it(self):
        for entry in ('start_master.py', 'host.py'):
            with open(os.path.join(support.PY_DIR, entry)) as f:
                tree = ast.parse(f.read())
            first = tree.body[1]                  # after the docstring
            with self.subTest(entry=entry):
                self.assertIsInstance(first, ast.Import)
                self.assertEqual(first.names[0].name, '_kaiser_bootstrap')
        for name in os.listdir(support.PY_DIR):
            if name.endswith('.py') and name != '_kaiser_bootstrap.py':
                with open(os.path.join(support.PY_DIR, name)) as f:
                    source = f.read()
                self.assertNotIn("ModuleType('_kaiser')", source, name)
                self.assertNotIn("type(sys)('_kaiser')", source, name)


if __name__ == '__main__':
    unittest.main()
