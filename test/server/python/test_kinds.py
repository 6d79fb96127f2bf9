"""kinds: the table of exec'd worker languages and how each is started."""
import os
import unittest

import support
from _kaiser import kinds


class Kinds(unittest.TestCase):
    def test_the_app_option_chooses_the_kind_and_python_apps_have_none(self):
        self.assertIsNone(kinds.exec_kind(support.make_config()))
        self.assertEqual(kinds.exec_kind(support.make_config(psgi='app.psgi')).name, 'psgi')
        self.assertEqual(kinds.exec_kind(support.make_config(node_app='app.mjs')).name, 'node')

    def test_the_master_imports_this_table_only_for_a_config_that_names_one_of_its_app_options(self):
        from _kaiser import worker_proc
        self.assertEqual(worker_proc.EXEC_KIND_KEYS, tuple(kind.app_key for kind in kinds.EXEC_KINDS))
        for cfg, imported in (('{"asgi": "app:app"}', False), ('{"psgi": "app.psgi"}', True)):
            loaded = support.modules_after('from _kaiser import config, worker_proc; '
                                           'worker_proc.exec_kind(config.parse(%r))' % cfg)
            self.assertIn('_kaiser.worker_proc', loaded)
            self.assertEqual('_kaiser.kinds' in loaded, imported)

    def test_argv_is_the_runtime_then_the_worker_script(self):
        psgi = kinds.exec_kind(support.make_config(psgi='app.psgi'))
        self.assertEqual(psgi.argv(support.make_config(psgi='app.psgi')),
                         ['perl', os.path.join(kinds.WORKERS_DIR, 'psgi/worker.pl')])
        self.assertEqual(psgi.argv(support.make_config(psgi='app.psgi', perl_bin='/opt/perl'))[0], '/opt/perl')
        node = kinds.exec_kind(support.make_config(node_app='a.mjs'))
        self.assertEqual(node.argv(support.make_config(node_app='a.mjs', _node='/n', _node_worker='/w.js')), ['/n', '/w.js'])

    def test_workers_dir_is_next_to_the_server(self):
        self.assertEqual(kinds.WORKERS_DIR, os.path.join(support.ROOT, 'src', 'workers'))

    def test_a_missing_runtime_names_the_debian_package_and_the_option(self):
        msg = kinds.exec_kind(support.make_config(rack='config.ru')).missing_runtime('ruby', 'No such file')
        self.assertIn('ruby-rack', msg)
        self.assertIn('ruby-bin', msg)


if __name__ == '__main__':
    unittest.main()
