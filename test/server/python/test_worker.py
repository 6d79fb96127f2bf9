"""worker: the worker's side of the status pipe, and retiring (stop accepting, take what is queued, wake the cores)."""
import json
import os
import select
import socket
import unittest

import support
from _kaiser import sockets
from _kaiser.scoreboard import Scoreboard
from _kaiser.worker import Worker, max_requests_of


class WorkerSide(unittest.TestCase):
    def setUp(self):
        self.status_r, status_w = os.pipe()
        os.set_blocking(self.status_r, False)
        self.addCleanup(os.close, self.status_r)
        self.addCleanup(os.close, status_w)
        life_r, life_w = os.pipe()
        self.addCleanup(os.close, life_r)
        self.addCleanup(os.close, life_w)
        self.sb = Scoreboard(2, 1)
        self.addCleanup(self.sb.close)
        cfg = support.make_config()
        with support.mock.patch.object(support._log, 'log', lambda m: None):
            self.listeners, _ = sockets.bind_all(support._config.socket_specs(cfg), cfg)
        for l in self.listeners:
            self.addCleanup(l.close)
        self.w = Worker(1, cfg, self.listeners, status_w, life_r, self.sb.mm, self.sb.offset(0))
        self.addCleanup(os.close, self.w.wake_r)
        self.addCleanup(os.close, self.w.wake_w)

    def messages(self):
        try:
            data = os.read(self.status_r, 65536)
        except BlockingIOError:
            return []
        return [json.loads(line) for line in data.decode().splitlines()]

    def test_first_request_is_reported_once(self):
        self.w.first_request()
        self.w.first_request()
        self.assertEqual(self.messages(), [{'act': 'first-request'}])

    def test_retiring_at_max_requests_tells_the_master_and_stops_accepting(self):
        self.w.slot.set_accepting(True)
        self.w.retire('max-requests')
        self.assertEqual(self.messages(), [{'act': 'retiring', 'reason': 'max-requests'}])
        self.assertTrue(self.w.stopping[0])
        self.assertEqual(self.sb.worker(0)[5], 0)
        self.assertTrue(select.select([self.w.wake_r], [], [], 0)[0])
        self.w.retire('max-requests')
        self.assertEqual(self.messages(), [])

    def test_a_retire_asked_by_signal_sends_nothing(self):
        self.w.retire('signal')
        self.assertEqual(self.messages(), [])

    def test_a_retiring_worker_takes_the_connections_already_queued(self):
        from _kaiser.core import Core
        core = Core(self.w, 0)
        self.addCleanup(core.ep.close)
        self.w.cores = [core]
        port = int(self.listeners[0].server_port)
        client = socket.create_connection(('127.0.0.1', port))
        self.addCleanup(client.close)
        self.w.retire('signal')
        self.assertEqual(len(core.conns), 1)
        for c in list(core.conns.values()):
            core.close(c)


class MaxRequestsDelta(unittest.TestCase):
    def test_each_worker_id_adds_id_minus_one_times_the_delta(self):
        cfg = support.make_config(max_requests=100, max_requests_delta=10)
        self.assertEqual([max_requests_of(cfg, wid) for wid in (1, 2, 3)], [100, 110, 120])
        self.assertEqual(max_requests_of(support.make_config(max_requests_delta=10), 3), 0)
        self.assertEqual(max_requests_of(support.make_config(max_requests=100), 3), 100)


if __name__ == '__main__':
    unittest.main()
