"""mounts: mount + manage-script-name, uWSGI's choice of app (longest mount point at a / boundary, SCRIPT_NAME,
UWSGI_APPID, the first app as the default one)."""
import os
import shutil
import tempfile
import unittest

import support  # noqa: F401
from _kaiser.mounts import Mounts


def main_app(env, sr):
    return 'main'


class Select(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.api = os.path.join(self.dir, 'api.py')
        with open(self.api, 'w') as f:
            f.write('def application(env, sr):\n    return "api"\n')

    def mounts(self, **cfg):
        cfg.setdefault('wsgi_file', None)
        base = support.make_config(**cfg)
        return Mounts.from_config(main_app, base)

    def pick(self, m, path, **env):
        e = {'PATH_INFO': path, 'SCRIPT_NAME': ''}
        e.update(env)
        app = m.select(e)
        return app(e, None), e['SCRIPT_NAME'], e['PATH_INFO']

    def test_manage_script_name_splits_the_longest_mount_point(self):
        m = self.mounts(mount=['/api=' + self.api, '/api/v2/=' + self.api], manage_script_name=True)
        self.assertEqual(self.pick(m, '/api/x'), ('api', '/api', '/x'))
        self.assertEqual(self.pick(m, '/api'), ('api', '/api', ''))
        self.assertEqual(self.pick(m, '/api/v2/y'), ('api', '/api/v2/', 'y'))
        self.assertEqual(self.pick(m, '/apix'), ('main', '', '/apix'))
        self.assertEqual(self.pick(m, '/'), ('main', '', '/'))

    def test_without_manage_script_name_script_name_or_appid_choose(self):
        m = self.mounts(mount=['/api=' + self.api])
        self.assertEqual(self.pick(m, '/api/x'), ('main', '', '/api/x'))
        self.assertEqual(self.pick(m, '/x', SCRIPT_NAME='/api')[0], 'api')
        self.assertEqual(self.pick(m, '/x', UWSGI_APPID='/api')[0], 'api')

    def test_the_first_mount_names_the_main_app(self):
        m = self.mounts(mount=['/api=' + self.api], manage_script_name=True, wsgi_file=self.api)
        self.assertEqual(self.pick(m, '/other'), ('main', '', '/other'))
        self.assertEqual(self.pick(m, '/api/z'), ('main', '/api', '/z'))

    def test_no_default_app_when_the_mount_point_is_not_a_path(self):
        m = self.mounts(mount=['$(PREFIX)=' + self.api], wsgi_file=self.api)
        self.assertIsNotNone(m)
        app = m.select({'PATH_INFO': '/x', 'SCRIPT_NAME': ''})
        got = {}
        body = app({}, lambda status, headers: got.setdefault('status', status))
        self.assertEqual((got['status'], body), ('500 Internal Server Error', [b'Internal Server Error']))
        self.assertEqual(self.pick(m, '/x', SCRIPT_NAME='$(PREFIX)')[0], 'main')   # the app named by that mount

    def test_nothing_to_choose(self):
        self.assertIsNone(self.mounts())
        self.assertIsNone(self.mounts(mount=['/api=' + self.api], wsgi_file=self.api))


if __name__ == '__main__':
    unittest.main()
