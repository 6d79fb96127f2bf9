"""host: the runtime host's ops over a real channel: sockets it holds for the emperor, waking on a connection,
forking a real master, reporting its exit."""
import json
import os
import select
import signal
import socket
import sys
import time
import unittest
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

    def test_no_uid_or_gid_changes_nothing(self):
        host_fork.drop_privileges(None, None)

    def test_the_dispositions_restored_in_a_master_are_a_fresh_interpreters(self):
        self.assertIs(host_fork.ORIGINAL_DISPOSITIONS[signal.SIGCHLD], signal.SIG_DFL)
        self.assertEqual(os.path.basename(host_fork.MASTER_PY), 'master.py')


if __name__ == '__main__':
    unittest.main()
