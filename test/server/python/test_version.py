"""version: the one version source is package.json."""
import json
import os
import unittest

import support
from support import temp_dir
from _kaiser import version


class Version(unittest.TestCase):
    def test_the_version_is_package_jsons(self):
        with open(os.path.join(support.ROOT, 'package.json')) as f:
            self.assertEqual(version.VERSION, json.load(f)['version'])

    def test_package_json_sits_three_levels_up_from_the_module(self):
        self.assertEqual(os.path.realpath(version.PACKAGE_JSON), os.path.realpath(os.path.join(support.ROOT, 'package.json')))

    def test_unreadable_or_odd_package_json_gives_the_unknown_version(self):
        d = temp_dir(self)
        cases = {'missing.json': None, 'bad.json': '{', 'list.json': '[1]', 'noversion.json': '{"name":"x"}',
                 'number.json': '{"version": 1}'}
        for name, text in cases.items():
            path = os.path.join(d, name)
            if text is not None:
                with open(path, 'w') as f:
                    f.write(text)
            with self.subTest(name=name):
                self.assertEqual(version.read_version(path), version.UNKNOWN)

    def test_no_python_module_writes_a_version_of_its_own(self):
        for name in os.listdir(support.PY_DIR):
            if name.endswith('.py'):
                with open(os.path.join(support.PY_DIR, name)) as f:
                    self.assertNotRegex(f.read(), r'kaiser-\d+\.\d+', name)


if __name__ == '__main__':
    unittest.main()
