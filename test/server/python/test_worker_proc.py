"""worker_proc: real forked and exec'd workers report on their status pipe; memory figures from /proc."""
import json
import os
import select
import signal
import sys
import textwrap
import time
import unittest
from unittest import mock

import support
from support import temp_dir
from _kaiser import sockets
from _kaiser.worker_proc import Generation, memory, spawn_worker


def read_messages(wp, until_act, within_s=20):
    """Status messages of `wp` until one with act `until_act` (or the deadline)."""
    msgs = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        select.select([wp.status_fd], [], [], 0.2)
        got, eof = wp.read_status()
        msgs += got
        if any(m.get('act') == until_act for m in msgs) or eof:
            break
    return msgs


class Spawn(unittest.TestCase):
    def setUp(self):
        self.dir = temp_dir(self)
        patcher = mock.patch.object(support._log, 'log', lambda msg: None)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.life_r, self.life_w = os.pipe()
        self.addCleanup(os.close, self.life_r)
        self.addCleanup(os.close, self.life_w)

    def generation(self, **cfg):
        cfg = support.make_config(**cfg)
        listeners, _ = sockets.bind_all(support._config.socket_specs(cfg), cfg)
        gen = Generation(cfg, listeners)
        self.addCleanup(gen.sb.close)
        for l in listeners:
            self.addCleanup(l.close)
        return gen

    def reap(self, wp, sig=None):
        if sig is not None:
            os.kill(wp.pid, sig)
        _, status = os.waitpid(wp.pid, 0)
        os.close(wp.status_fd)
        return os.waitstatus_to_exitcode(status)

    def test_a_python_worker_loads_the_app_accepts_and_retires_on_sighup(self):
        app = os.path.join(self.dir, 'app.py')
        with open(app, 'w') as f:
            f.write('def application(e, s):\n    s("200 OK", [])\n    return [b"ok"]\n')
        gen = self.generation(wsgi_file=app, disable_logging=True)
        wp = spawn_worker(1, gen, [self.life_w], self.life_r)
        self.assertEqual(wp.id, 1)
        acts = [m['act'] for m in read_messages(wp, 'accepting')]
        self.assertEqual(acts, ['loaded', 'accepting'])
        self.assertEqual(gen.sb.worker(wp.slot)[5], 1)      # accepting in the scoreboard
        self.assertGreater(memory(wp.pid)[0], 0)
        self.assertEqual(self.reap(wp, signal.SIGHUP), 0)

    def test_a_worker_that_cannot_load_says_why_and_exits_22(self):
        gen = self.generation(wsgi_file=os.path.join(self.dir, 'missing.py'))
        wp = spawn_worker(1, gen, [self.life_w], self.life_r)
        msgs = read_messages(wp, 'load-failed')
        self.assertIn('failed to open python file', msgs[-1]['error'])
        self.assertEqual(self.reap(wp), 22)

    def test_an_exec_d_worker_gets_the_documented_environment(self):
        script = os.path.join(self.dir, 'fake_node_worker.py')
        with open(script, 'w') as f:
            f.write(textwrap.dedent('''\
                import json, os
                keys = ["KAISER_WORKER_ID", "KAISER_LISTEN_FDS", "KAISER_STATUS_FD", "KAISER_LIFE_FD",
                        "KAISER_SCOREBOARD_FD", "KAISER_SCOREBOARD_OFFSET", "KAISER_CONFIG"]
                env = {k: os.environ.get(k) for k in keys}
                os.write(int(env["KAISER_STATUS_FD"]), (json.dumps({"act": "accepting", "env": env}) + "\\n").encode())
            '''))
        gen = self.generation(node_app='app.mjs', wsgi_file=None, _node=sys.executable, _node_worker=script)
        wp = spawn_worker(2, gen, [self.life_w], self.life_r)
        [msg] = read_messages(wp, 'accepting')
        env = msg['env']
        self.assertEqual(env['KAISER_WORKER_ID'], '2')
        self.assertEqual(env['KAISER_LISTEN_FDS'], '%d:http' % gen.listeners[0].fd)
        self.assertEqual(int(env['KAISER_SCOREBOARD_OFFSET']), gen.sb.offset(wp.slot))
        self.assertEqual(json.loads(env['KAISER_CONFIG'])['node-app'], 'app.mjs')
        self.assertEqual(self.reap(wp), 0)

    def test_memory_of_a_process_that_is_gone(self):
        self.assertEqual(memory(2 ** 22 + 12345), (0, 0))


if __name__ == '__main__':
    unittest.main()
