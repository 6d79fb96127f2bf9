"""master: start_master.py as a script (start, serve, stop), main()'s config errors, and the Master's timing and fds."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

import support
from support import MasterHarness, temp_dir

MASTER_SCRIPT = os.path.join(support.PY_DIR, 'start_master.py')


class Script(unittest.TestCase):
    def start(self, config):
        env = dict(os.environ, KAISER_CONFIG=json.dumps(config))
        env.pop('UWSGI_EMPEROR_FD', None)
        proc = subprocess.Popen([sys.executable, MASTER_SCRIPT], env=env, stderr=subprocess.PIPE, start_new_session=True)

        def stop():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
        self.addCleanup(stop)
        return proc

    def read_until(self, proc, text, within_s=20):
        lines = []
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            line = proc.stderr.readline().decode()
            if not line:
                break
            lines.append(line)
            if text in line:
                return lines
        self.fail('no %r in:\n%s' % (text, ''.join(lines)))

    def test_serves_then_stops_gracefully_on_sigterm(self):
        d = temp_dir(self)
        app = os.path.join(d, 'app.py')
        with open(app, 'w') as f:
            f.write('def application(e, s):\n    s("200 OK", [])\n    return [b"from the master test"]\n')
        proc = self.start({'http-socket': ['127.0.0.1:0'], 'wsgi-file': app, 'processes': 2, 'disable-logging': True})
        lines = self.read_until(proc, 'kaiser is running: 2 workers accepting')
        port = int(next(l for l in lines if 'bound to TCP address' in l).split(':')[1].split()[0])
        with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=10) as res:
            self.assertEqual(res.read(), b'from the master test')
        proc.send_signal(signal.SIGTERM)
        self.read_until(proc, 'goodbye to uWSGI.')
        self.assertEqual(proc.wait(timeout=20), 0)

    def test_a_bad_config_exits_1_naming_it(self):
        env = dict(os.environ, KAISER_CONFIG='{"processes": 01}')
        res = subprocess.run([sys.executable, MASTER_SCRIPT], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 1)
        self.assertIn('KAISER_CONFIG is not valid JSON', res.stderr)

    def test_no_socket_exits_1(self):
        proc = self.start({'wsgi-file': 'app.py'})
        self.read_until(proc, 'The -s/--socket option is missing')
        self.assertEqual(proc.wait(timeout=20), 1)


class Timing(unittest.TestCase):
    def test_idle_masters_sleep_without_a_timeout(self):
        h = MasterHarness(self)
        h.start()
        h.accept_all()
        self.assertEqual(h.master.timeout(), -1)

    def test_harakiri_is_checked_twice_a_second_and_deadlines_wake_earlier(self):
        h = MasterHarness(self, harakiri=5)
        h.start()
        h.accept_all()
        self.assertEqual(h.master.timeout(), 0.5)
        h.pool.respawn_at[9] = time.monotonic() + 0.1
        self.assertLessEqual(h.master.timeout(), 0.1)

    def test_a_new_worker_is_told_every_master_fd(self):
        h = MasterHarness(self)
        h.master.life_r, h.master.life_w = 100, 101
        [w1] = h.start()
        fds = h.master.master_fds()
        self.assertIn(101, fds)
        self.assertNotIn(100, fds)        # workers keep the read end: EOF there means the master is gone
        self.assertIn(w1.status_fd, fds)
        self.assertIn(h.master.loop.fileno(), fds)


if __name__ == '__main__':
    unittest.main()


class Imports(unittest.TestCase):
    """What the master holds counts whole in a 1-worker vassal's memory (issues 17 and 19): modules only workers,
    the ASGI loop or a rarely used option need stay out of its import."""

    def test_importing_the_master_loads_no_worker_module_and_no_heavy_stdlib_module(self):
        loaded = support.modules_after('import _kaiser.master; import _kaiser.emperor_link')
        self.assertIn('_kaiser.pool', loaded)
        for name in ('_kaiser.worker', '_kaiser.loader', '_kaiser.core', '_kaiser.wsgi', '_kaiser.asgi', 're',
                     'socket', 'enum', 'threading', 'json', 'asyncio', 'email', 'types',
                     # what only some configs use: imported where they are first needed
                     '_kaiser.cron', '_kaiser.daemons', '_kaiser.subscriber', '_kaiser.zygote', '_kaiser.stats',
                     '_kaiser.reload', '_kaiser.controls', '_kaiser.cheaper', '_kaiser.cheap_mode', '_kaiser.kinds'):
            self.assertNotIn(name, loaded)

    def test_a_master_imports_reload_controls_cheaper_and_cheap_mode_when_its_config_uses_them(self):
        make = ('from _kaiser import config; from _kaiser.master import Master; '
                'm = Master(config.parse(%r)); m.reloader.%s')
        plain = '{"http-socket": ["127.0.0.1:0"], "asgi": "app:app"}'
        loaded = support.modules_after(make % (plain, 'in_progress()'))
        for name in ('_kaiser.reload', '_kaiser.controls', '_kaiser.cheaper', '_kaiser.cheap_mode'):
            self.assertNotIn(name, loaded)
        loaded = support.modules_after(make % (plain, 'on_config(m.cfg)'))      # any master may be asked to reload
        self.assertIn('_kaiser.reload', loaded)
        rich = ('{"http-socket": ["127.0.0.1:0"], "asgi": "app:app", "processes": 2, "cheaper": 1, "idle": 5, '
                '"touch-reload": ["/nonexistent"]}')
        loaded = support.modules_after(make % (rich, 'in_progress()'))
        for name in ('_kaiser.controls', '_kaiser.cheaper', '_kaiser.cheap_mode'):
            self.assertIn(name, loaded)

    def test_the_options_that_wake_the_controls_are_the_ones_they_read(self):
        from _kaiser import controls, dormant
        self.assertEqual(set(dormant.CONTROL_KEYS), {'stats', 'master-fifo'} | {k for k, _ in controls.TOUCH_KEYS})

    def test_the_options_that_bring_in_daemons_and_cron_are_the_ones_they_read(self):
        from _kaiser import cron, daemons
        from _kaiser.master import CRON_KEYS, DAEMON_KEYS
        self.assertEqual(DAEMON_KEYS, tuple(option for option, _ in daemons._OPTIONS))
        self.assertEqual(CRON_KEYS, tuple(option for option, _ in cron._OPTIONS))


class Heap(unittest.TestCase):
    def test_trim_asks_glibc_to_return_the_free_heap(self):
        from _kaiser import heap
        self.assertTrue(heap.trim())

    def test_an_asgi_vassal_does_not_trim_nor_import_ctypes_for_it_others_do(self):
        code = ('import sys; sys.path.insert(0, %r); import _kaiser_bootstrap; from _kaiser import heap; '
                'print(heap.trim_where_it_pays({"asgi": "app:app"}), "ctypes" in sys.modules, '
                'heap.trim_where_it_pays({"wsgi-file": "app.py"}))' % support.PY_DIR)
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(out, ['False', 'False', 'True'])

    def test_prepare_binds_malloc_trim_once_for_the_forks_to_share(self):
        from _kaiser import heap
        self.assertTrue(heap.prepare())
        bound = heap._malloc_trim
        self.assertTrue(heap.prepare())
        self.assertIs(heap._malloc_trim, bound)
