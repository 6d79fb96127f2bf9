"""host_channel: Node's JSON IPC channel with fd passing: NODE_HANDLE, the ACK before the next handle, EOF."""
import json
import os
import select
import socket
import sys
import unittest

import support  # noqa: F401
from _kaiser.host_channel import ACK_LINE, EOF_MESSAGES, Channel


class NodeSide:
    """The emperor's end, speaking as Node's child_process channel does."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.fds = []

    def send(self, obj, fd=None):
        data = (json.dumps(obj) + '\n').encode()
        if fd is None:
            self.sock.sendall(data)
        else:
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])

    def lines(self):
        while select.select([self.sock], [], [], 0.05)[0]:
            data, anc, _f, _a = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
            for level, kind, payload in anc:
                if kind == socket.SCM_RIGHTS:
                    self.fds.append(int.from_bytes(payload[:4], sys.byteorder))
            if not data:
                break
            self.buf += data
        *lines, self.buf = self.buf.split(b'\n')
        return [json.loads(line) for line in lines if line]


class ChannelTest(unittest.TestCase):
    def setUp(self):
        mine, theirs = socket.socketpair()
        self.ep = select.epoll()
        self.addCleanup(self.ep.close)
        self.channel = Channel(mine.detach(), self.ep)
        self.addCleanup(self.channel.close)
        self.node = NodeSide(theirs)
        self.addCleanup(theirs.close)
        self.bad = []

    def receive(self):
        return self.channel.receive(self.bad.append)

    def test_plain_messages_in_order(self):
        self.node.send({'op': 'arm', 'key': 'a'})
        self.node.send({'op': 'disarm', 'key': 'a'})
        self.assertEqual(self.receive(), [({'op': 'arm', 'key': 'a'}, None), ({'op': 'disarm', 'key': 'a'}, None)])

    def test_a_handle_arrives_with_its_fd_and_is_acknowledged(self):
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        self.node.send({'cmd': 'NODE_HANDLE', 'type': 'net.Native', 'msg': {'op': 'socket', 'key': 'k'}}, r)
        os.close(r)
        [(msg, fd)] = self.receive()
        self.addCleanup(os.close, fd)
        self.assertEqual(msg, {'op': 'socket', 'key': 'k'})
        os.write(w, b'x')
        self.assertEqual(os.read(fd, 1), b'x')
        self.assertEqual(self.node.lines(), [json.loads(ACK_LINE)])

    def test_a_second_handle_waits_for_the_ack_of_the_first(self):
        fds = [os.pipe() for _ in range(2)]
        for r, w in fds:
            self.addCleanup(os.close, w)
        self.channel.send({'ev': 'spawned', 'n': 1}, fds[0][0])
        self.channel.send({'ev': 'spawned', 'n': 2}, fds[1][0])
        self.channel.send({'ev': 'plain'})
        first = self.node.lines()
        self.assertEqual([m['msg']['n'] for m in first], [1])
        self.node.send({'cmd': 'NODE_HANDLE_ACK'})
        self.assertEqual(self.receive(), [])
        rest = self.node.lines()
        self.assertEqual([m.get('msg', m).get('n', m.get('ev')) for m in rest], [2])
        self.node.send({'cmd': 'NODE_HANDLE_ACK'})
        self.receive()
        self.assertEqual(self.node.lines(), [{'ev': 'plain'}])
        for fd in self.node.fds:
            os.close(fd)

    def test_garbage_lines_are_reported_and_skipped(self):
        self.node.sock.sendall(b'not json\n[1]\n{"op":"x"}\n')
        self.assertEqual(self.receive(), [({'op': 'x'}, None)])
        self.assertEqual(self.bad, [b'not json'])

    def test_eof_when_the_emperor_is_gone(self):
        self.node.sock.close()
        self.assertIs(self.receive(), EOF_MESSAGES)


if __name__ == '__main__':
    unittest.main()
