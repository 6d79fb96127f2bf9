"""turns (and core with `threads` > 1): the cores of a worker share one epoll and its connections and take turns
polling it (leader/follower); a follower takes the turn only from a leader stuck in one request; the leader's sweep
leaves the connection another core is serving alone."""
import socket
import struct
import time
import unittest
from unittest import mock

from support import CoreHarness, FakeWorker, hello_app
from _kaiser.core import STOP_GRACE, Core
from _kaiser import serving
from _kaiser.turns import SAMPLE_MASK, TAKEOVER_S, Shared, note
from _kaiser.serving import Conn

BUSY_SINCE = struct.Struct('<d')


class Turns(unittest.TestCase):
    def setUp(self):
        self.w = FakeWorker(self, hello_app, threads=2)
        self.leader, self.follower = Core(self.w, 0), Core(self.w, 1)
        self.w.cores = [self.leader, self.follower]
        self.addCleanup(self.leader.ep.close)
        for core in self.w.cores:
            self.addCleanup(core.watch.close)
        # work waiting in the worker's epoll: what wakes a follower's watch
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.leader.ep.register(a.fileno(), 1)
        b.send(b'x')

    def busy_since(self, t):
        BUSY_SINCE.pack_into(self.w.mm, self.leader.core_off, t)

    def test_the_cores_share_the_epoll_and_the_connections_and_core_0_leads(self):
        self.assertIs(self.leader.ep, self.follower.ep)
        self.assertIs(self.leader.conns, self.follower.conns)
        self.assertEqual(self.w.shared.leader, 0)

    def test_work_waiting_while_the_leader_is_idle_stays_the_leaders(self):
        self.busy_since(0.0)
        self.follower.watch.follow(1.0)
        self.assertEqual(self.w.shared.leader, 0)
        self.assertGreater(self.follower.watch.look_at, 0.0)     # disarmed: looks again later, not at every event

    def test_a_leader_in_a_short_request_keeps_the_turn(self):
        self.busy_since(time.time())
        self.follower.watch.follow(1.0)
        self.assertEqual(self.w.shared.leader, 0)
        self.assertLessEqual(self.follower.watch.look_at, time.monotonic() + TAKEOVER_S)

    def test_a_leader_stuck_in_one_request_loses_the_turn(self):
        self.busy_since(time.time() - 10 * TAKEOVER_S)
        self.follower.watch.follow(1.0)
        self.assertEqual(self.w.shared.leader, 1)


class Eager(unittest.TestCase):
    def test_requests_that_wait_make_the_cores_poll_together_and_computing_ones_take_turns_again(self):
        shared = Shared()
        self.addCleanup(shared.ep.close)
        for _ in range(50):
            note(shared, 0.0002, 0.0002)        # all on the CPU
        self.assertFalse(shared.eager)
        for _ in range(50):
            note(shared, 0.0022, 0.0002)        # 2 ms waiting on something each
        self.assertTrue(shared.eager)
        note(shared, 0.0002, 0.0002)
        self.assertTrue(shared.eager)           # one request does not flip it back
        for _ in range(50):
            note(shared, 0.0002, 0.0002)
        self.assertFalse(shared.eager)

    def test_a_sample_of_real_requests_is_timed_and_waiting_ones_make_the_cores_eager(self):
        # one request in SAMPLE_MASK + 1 is timed (the thread's CPU time is a system call): computing requests leave
        # the cores taking turns, requests that wait 2 ms each make them poll together
        def app(env, start_response):
            if env['PATH_INFO'] == '/wait':
                time.sleep(0.002)
            start_response('200 OK', [('Content-Length', '2')])
            return [b'ok']
        h = CoreHarness(self, app, threads=2)
        self.addCleanup(h.core.watch.close)
        timed = []
        real = serving.thread_time
        with mock.patch.object(serving, 'thread_time', lambda: timed.append(1) or real()):
            for _ in range(8 * (SAMPLE_MASK + 1)):
                h.send(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            self.assertEqual(len(timed), 2 * 8)
            self.assertFalse(h.worker.shared.eager)
            for _ in range(8 * (SAMPLE_MASK + 1)):
                h.send(b'GET /wait HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(h.worker.shared.eager)

    def test_an_eager_follower_does_not_wait_for_a_turn(self):
        w = FakeWorker(self, hello_app, threads=2)
        leader, follower = Core(w, 0), Core(w, 1)
        w.cores = [leader, follower]
        self.addCleanup(leader.ep.close)
        for core in w.cores:
            self.addCleanup(core.watch.close)
        w.shared.eager = True
        self.assertEqual(follower.watch.follow(60.0), ())   # returns at once: the loop polls the worker's epoll


class SweepWithTurns(unittest.TestCase):
    def test_the_sweep_closes_idle_connections_but_not_one_another_core_serves(self):
        h = CoreHarness(self, hello_app, threads=2)
        other = Core(h.worker, 1)
        h.worker.cores.append(other)
        self.addCleanup(other.watch.close)
        self.addCleanup(h.core.watch.close)
        conns = []
        for port in (50001, 50002):
            server, client = socket.socketpair()
            self.addCleanup(client.close)
            c = Conn(server, server.fileno(), ('127.0.0.1', port), h.worker.listeners[0])
            h.core.conns[c.fd] = c
            conns.append(c)
        other.current = conns[0]
        h.core.begin_stop()
        h.core.sweep(h.core.stop_time + STOP_GRACE)
        self.assertEqual(list(h.core.conns.values()), [conns[0]])
        other.current = None
        h.core.drop(conns[0])


if __name__ == '__main__':
    unittest.main()
