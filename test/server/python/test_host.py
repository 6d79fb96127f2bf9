"""host: the runtime host's ops over a real channel: sockets it holds for the emperor, waking on a connection,
forking a real master, reporting its exit; and that a forked master imports nothing the host did not."""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.request
from unittest import mock

import support
from support import temp_dir

from _kaiser import host  # noqa: E402
from _kaiser import host_fork  # noqa: E402


class HostTest(unittest.TestCase):
    def setUp(self):
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                                                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD)}
        old_fd = signal.set_wakeup_fd(-1)

        def restore():
            signal.set_wakeup_fd(old_fd)
            for s, h in saved.items():
                signal.signal(s, h)
        self.addCleanup(restore)
        mine, self.emperor = socket.socketpair()
        self.addCleanup(self.emperor.close)
        self.host = host.Host(mine.detach())
        self.addCleanup(self.host.ep.close)
        self.addCleanup(self.host.channel.close)
        for fd in (self.host.wake_r, self.host.wake_w):
            self.addCleanup(os.close, fd)
        self.addCleanup(lambda: [self.host.close_socket(k) for k in list(self.host.sockets)])
        self.buf = b''
        self.fds = []
        self.addCleanup(lambda: [os.close(fd) for fd in self.fds])

    def events(self, within_s=0.2):
        out = []
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if select.select([self.emperor], [], [], 0.02)[0]:
                data, anc, _f, _a = self.emperor.recvmsg(65536, socket.CMSG_SPACE(64))
                for level, kind, payload in anc:
                    for i in range(0, len(payload) - len(payload) % 4, 4):
                        self.fds.append(int.from_bytes(payload[i:i + 4], sys.byteorder))
                self.buf += data
            *lines, self.buf = self.buf.split(b'\n')
            out += [json.loads(line) for line in lines if line]
            if out:
                break
        return out

    def test_bind_listens_and_reports_it(self):
        self.host.handle({'op': 'bind', 'key': 'tcp://127.0.0.1:0'}, None)
        self.assertEqual(self.events(), [{'ev': 'listening', 'key': 'tcp://127.0.0.1:0'}])
        fd = self.host.sockets['tcp://127.0.0.1:0']
        self.assertFalse(os.get_inheritable(fd))

    def test_a_bind_that_fails_is_reported_not_raised(self):
        path = os.path.join(temp_dir(self), 'no', 'such', 'dir', 's.sock')
        self.host.handle({'op': 'bind', 'key': 'unix:' + path}, None)
        [event] = self.events()
        self.assertEqual(event['ev'], 'bind-failed')
        self.assertIn(path, event['error'])

    def test_an_armed_socket_wakes_the_emperor_once_on_its_first_connection(self):
        self.host.handle({'op': 'bind', 'key': 'tcp://127.0.0.1:0'}, None)
        self.events()
        self.host.handle({'op': 'arm', 'key': 'tcp://127.0.0.1:0'}, None)
        fd = self.host.sockets['tcp://127.0.0.1:0']
        port = socket.socket(fileno=os.dup(fd))
        self.addCleanup(port.close)
        client = socket.create_connection(port.getsockname())
        self.addCleanup(client.close)
        [(ready, _ev)] = self.host.ep.poll(2)
        self.host.on_wake(ready)
        self.assertEqual(self.events(), [{'ev': 'wake', 'key': 'tcp://127.0.0.1:0'}])
        self.assertNotIn('tcp://127.0.0.1:0', self.host.armed)

    def test_unknown_ops_and_sockets_are_errors(self):
        with self.assertRaises(ValueError):
            self.host.handle({'op': 'dance'}, None)
        with self.assertRaises(ValueError):
            self.host.handle({'op': 'arm', 'key': 'tcp://127.0.0.1:1'}, None)
        with self.assertRaises(ValueError):
            self.host.handle({'op': 'spawn', 'id': 'v', 'inherit': {':80': 'tcp://0.0.0.0:80'}}, None)
        with self.assertRaises(ValueError):
            self.host.handle({'op': 'socket', 'key': 'k'}, None)

    def test_errors_in_a_message_are_answered_with_an_error_event(self):
        self.emperor.sendall(b'{"op":"dance","id":"v1"}\n')
        with mock.patch.object(host, 'log', lambda msg: None):
            self.host.on_channel()
        [event] = self.events()
        self.assertEqual((event['ev'], event['id']), ('error', 'v1'))

    def test_a_spawned_master_runs_and_dies_with_its_emperor_pipe(self):
        d = temp_dir(self)
        app = os.path.join(d, 'app.py')
        with open(app, 'w') as f:
            f.write('def application(e, s):\n    s("200 OK", [])\n    return [b"ok"]\n')
        config = {'http-socket': ['127.0.0.1:0'], 'wsgi-file': app, '_name': 'app.ini'}
        self.host.spawn({'op': 'spawn', 'id': 'app.ini', 'config': config, 'env': {'PATH': os.environ['PATH']},
                         'cwd': d})
        [pid] = list(self.host.children)
        [output] = self.events()
        self.assertEqual((output['cmd'], output['msg']['stream'], output['msg']['pid']), ('NODE_HANDLE', 'output', pid))
        self.emperor.sendall(b'{"cmd":"NODE_HANDLE_ACK"}\n')       # the next handle waits for this
        self.host.on_channel()
        [pipe] = self.events()
        self.assertEqual(pipe['msg']['stream'], 'pipe')
        self.emperor.sendall(b'{"cmd":"NODE_HANDLE_ACK"}\n')
        self.host.on_channel()
        out_fd, pipe_fd = self.fds
        log = b''
        deadline = time.monotonic() + 20
        while b'kaiser is running' not in log and time.monotonic() < deadline:
            if select.select([out_fd], [], [], 0.1)[0]:
                log += os.read(out_fd, 65536)
        self.assertIn(b'*** has_emperor mode detected', log)
        self.assertIn(b'kaiser is running', log)
        self.assertEqual(os.getsid(pid), pid)              # its own session (and group)
        self.fds.remove(pipe_fd)
        os.close(pipe_fd)                                  # the emperor is gone: the master exits 1
        exits = []
        while not exits and time.monotonic() < deadline:
            self.host.reap()
            exits = [e for e in self.events(0.05) if e['ev'] == 'exit']
        self.assertEqual(exits, [{'ev': 'exit', 'id': 'app.ini', 'pid': pid, 'code': 1, 'signal': None}])


class Fork(unittest.TestCase):
    def test_join_cgroups_writes_the_pid_to_each_procs_file(self):
        d = temp_dir(self)
        files = [os.path.join(d, 'memory.procs'), os.path.join(d, 'cpu.procs')]
        host_fork.join_cgroups(files)
        for path in files:
            with open(path) as f:
                self.assertEqual(f.read(), str(os.getpid()))

    def test_only_a_vassal_with_load_nice_gets_its_nice_limit_raised(self):
        for config, wanted in [({}, False), ({'load-nice': 0}, False), ({'load-nice': '0'}, False),
                               ({'load-nice': 10}, True), ({'load-nice': '5'}, True), ({'load-nice': 'x'}, False)]:
            self.assertEqual(host_fork.wants_load_nice(config), wanted, config)

    def test_no_uid_or_gid_changes_nothing(self):
        host_fork.drop_privileges(None, None)

    def test_replace_environ_removes_missing_keys_and_sets_changed_values(self):
        with mock.patch.dict(os.environ, {'KAISER_T_KEEP': 'same', 'KAISER_T_GONE': 'x', 'KAISER_T_CHANGED': 'old'}):
            env = dict(os.environ, KAISER_T_CHANGED='new', KAISER_T_NEW='n')
            del env['KAISER_T_GONE']
            host_fork.replace_environ(env)
            self.assertEqual(dict(os.environ), env)
            self.assertNotIn(b'KAISER_T_GONE', os.environb)

    def test_restore_dispositions_resets_what_the_host_changed(self):
        saved = signal.getsignal(signal.SIGUSR2)
        self.addCleanup(signal.signal, signal.SIGUSR2, saved)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        host_fork.restore_dispositions()
        self.assertEqual(signal.getsignal(signal.SIGUSR2), host_fork.ORIGINAL_DISPOSITIONS[signal.SIGUSR2])

    def test_the_dispositions_restored_in_a_master_are_a_fresh_interpreters(self):
        self.assertEqual(host_fork.ORIGINAL_DISPOSITIONS[signal.SIGCHLD], signal.SIG_DFL)
        self.assertEqual(os.path.basename(host_fork.MASTER_SCRIPT), 'start_master.py')


# Run as a script: the runtime host's imports and pre-fork steps, an audit hook that reports every module imported
# from then on, then a master forked as the host forks one (host_fork.fork_master), its output copied to stdout.
FORKED_MASTER = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import _kaiser_bootstrap
from _kaiser import host, host_fork
host.share_with_forks()
app = sys.argv[2]

def report(event, args):
    if event == 'import' and args[0] not in sys.modules:
        os.write(2, ('IMPORTED %s in %d\n' % (args[0], os.getpid())).encode())
sys.addaudithook(report)
config = {'http-socket': ['127.0.0.1:0'], 'wsgi-file': app, 'master': True, 'processes': 1, '_name': 'app.ini'}
msg = {'op': 'spawn', 'id': 'app.ini', 'config': config, 'env': {'PATH': os.environ['PATH']}, 'cwd': os.path.dirname(app)}
pid, out_fd, pipe_fd = host_fork.fork_master(msg, {}, lambda: None)
os.write(1, ('MASTER %d\n' % pid).encode())
while True:
    data = os.read(out_fd, 65536)
    if not data:
        break
    os.write(1, data)
os.waitpid(pid, 0)
"""


class ForkedImports(unittest.TestCase):
    """Issue 13 (mass hosting): a module a forked master or its worker imports after the fork is a private copy in
    every vassal (9.6 MiB PSS per hello vassal at N=20 when the host missed nine of them). The host must have
    imported everything a plain WSGI vassal's master and worker import to start and to serve a request."""

    def test_a_forked_master_and_its_worker_import_nothing_the_host_did_not(self):
        d = temp_dir(self)
        app = os.path.join(d, 'app.py')
        with open(app, 'w') as f:
            f.write('def application(e, s):\n    s("200 OK", [])\n    return [b"ok"]\n')
        proc = subprocess.Popen([sys.executable, '-c', FORKED_MASTER, support.PY_DIR, app], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        master = []

        def stop():
            for pid in master + [proc.pid]:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            proc.wait()
            proc.stdout.close()
        self.addCleanup(stop)
        lines = []
        deadline = time.monotonic() + 30
        while not any('kaiser is running' in line for line in lines) and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            if line.startswith('MASTER '):
                master.append(int(line.split()[1]))
        self.assertTrue(any('kaiser is running' in line for line in lines), ''.join(lines))
        port = int(next(l for l in lines if 'bound to TCP address' in l).split(':')[1].split()[0])
        with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=10) as res:
            self.assertEqual(res.read(), b'ok')
        os.killpg(master[0], signal.SIGTERM)
        lines += [line.decode() for line in proc.stdout]
        self.assertEqual([line for line in lines if line.startswith('IMPORTED ')], [], ''.join(lines))

    def test_the_host_imports_no_module_that_runs_code_in_every_fork(self):
        # threading and random register os.register_at_fork hooks: imported in the host, they would run in every
        # forked master and every worker it forks, copying the pages they touch (issue 13).
        loaded = support.modules_after('from _kaiser import host; host.share_with_forks()', site=True)
        self.assertIn('_kaiser.offload', loaded)
        self.assertIn('_kaiser.uwsgi_module', loaded)
        for name in ('threading', 'random'):
            self.assertNotIn(name, loaded)


if __name__ == '__main__':
    unittest.main()
