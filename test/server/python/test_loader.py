"""loader: wsgi-file, module, callable, chdir, env and pythonpath, as uWSGI loads an app."""
import os
import sys
import unittest
from unittest import mock

import support
from support import temp_dir
from _kaiser import loader


class Load(unittest.TestCase):
    def setUp(self):
        self.dir = temp_dir(self)
        saved_path, saved_modules, saved_cwd = list(sys.path), dict(sys.modules), os.getcwd()

        def restore():
            sys.path[:] = saved_path
            for name in set(sys.modules) - set(saved_modules):
                del sys.modules[name]
            os.chdir(saved_cwd)
        self.addCleanup(restore)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_a_wsgi_file_is_executed_as_uwsgi_file_module(self):
        path = self.write('hello.py', 'def application(e, s):\n    return [b"hi"]\n')
        app = loader.load(support.make_config(wsgi_file=path))
        self.assertEqual(app.__module__, loader.mangle(path))
        self.assertTrue(loader.mangle('/srv/app.py').startswith('uwsgi_file__srv_app'))

    def test_module_with_callable_and_a_factory_call(self):
        self.write('kaiser_test_factory.py', 'def make():\n    return lambda e, s: [b"x"]\napp = make\n')
        app = loader.load(support.make_config(module='kaiser_test_factory:make()', wsgi_file=None, pythonpath=[self.dir]))
        self.assertTrue(callable(app))
        self.assertIn(self.dir, sys.path)

    def test_a_dotted_callable(self):
        self.write('kaiser_test_dotted.py', 'class A:\n    app = staticmethod(lambda e, s: [])\n')
        cfg = support.make_config(module='kaiser_test_dotted', callable='A.app', wsgi_file=None, pythonpath=[self.dir])
        self.assertTrue(callable(loader.load(cfg)))

    def test_failures_say_what_is_wrong(self):
        cases = {
            'missing file': (support.make_config(wsgi_file=os.path.join(self.dir, 'nope.py')), 'failed to open'),
            'no callable': (support.make_config(wsgi_file=self.write('a.py', 'x = 1\n')), 'not found'),
            'not callable': (support.make_config(wsgi_file=self.write('b.py', 'application = 1\n')), 'not callable'),
            'no app': (support.make_config(wsgi_file=None), 'no app configured'),
        }
        for name, (cfg, text) in cases.items():
            with self.subTest(name):
                with self.assertRaises(loader.LoadError) as caught:
                    loader.load(cfg)
                self.assertIn(text, str(caught.exception))

    def test_an_app_raising_at_import_propagates_and_leaves_no_module_behind(self):
        path = self.write('crash.py', 'raise RuntimeError("at import")\n')
        with self.assertRaises(RuntimeError):
            loader.load(support.make_config(wsgi_file=path))
        self.assertNotIn(loader.mangle(path), sys.modules)

    def test_prepare_sets_chdir_and_env(self):
        with mock.patch.dict(os.environ):
            loader.prepare(support.make_config(chdir=self.dir, env={'KAISER_TEST_VAR': 'on'}))
            self.assertEqual(os.environ['KAISER_TEST_VAR'], 'on')
        self.assertEqual(os.path.realpath(os.getcwd()), os.path.realpath(self.dir))


if __name__ == '__main__':
    unittest.main()


class Preload(unittest.TestCase):
    """The master imports a CGI or PHP worker's bridge before forking, so the workers share it (issue 19: PSS)."""

    def modules_after(self, cfg):
        return support.modules_after('from _kaiser import loader; loader.preload(%r)' % (cfg,), site=True)

    def test_a_cgi_master_imports_the_cgi_bridge(self):
        loaded = self.modules_after({'cgi': ['/srv/cgi']})
        self.assertIn('_kaiser.cgi_app', loaded)
        self.assertNotIn('_kaiser.php_app', loaded)

    def test_a_php_master_imports_the_php_bridge_without_shutil(self):
        loaded = self.modules_after({'php-docroot': '/srv/php'})
        self.assertIn('_kaiser.php_app', loaded)
        for name in ('_kaiser.cgi_app', 'shutil', 'bz2', 'lzma'):
            self.assertNotIn(name, loaded)

    def test_a_wsgi_master_imports_neither(self):
        loaded = self.modules_after({'wsgi-file': 'app.py'})
        self.assertNotIn('_kaiser.cgi_app', loaded)
        self.assertNotIn('_kaiser.php_app', loaded)
