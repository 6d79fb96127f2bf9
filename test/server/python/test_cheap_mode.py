"""cheap_mode: the idle watch, going cheap (no worker, the master watching its sockets), the first connection
spawning workers again, die-on-idle and on-demand vassals stopping with byte 22, a reload while cheap."""
import os
import signal
import socket
import unittest
from unittest import mock

import support
from support import MasterHarness
from _kaiser import cheap_mode
from _kaiser import sockets
from _kaiser import worker_states as states
from _kaiser.cheap_mode import IdleWatch
from _kaiser.emperor_link import EmperorLink
from _kaiser.emperor_pipe import FROM_VASSAL
from _kaiser.phase import RUNNING, STOPPING


class Idle(unittest.TestCase):
    def test_a_request_or_one_in_flight_restarts_the_idle_time(self):
        watch = IdleWatch()
        self.assertFalse(watch.is_idle({'requests': 0, 'inflight': 0}, 100, 10))
        self.assertFalse(watch.is_idle({'requests': 0, 'inflight': 0}, 105, 10))
        self.assertFalse(watch.is_idle({'requests': 1, 'inflight': 0}, 109, 10))
        self.assertFalse(watch.is_idle({'requests': 1, 'inflight': 1}, 118, 10))
        self.assertFalse(watch.is_idle({'requests': 1, 'inflight': 0}, 127, 10))
        self.assertTrue(watch.is_idle({'requests': 1, 'inflight': 0}, 128, 10))

    def test_the_transition_table_refuses_what_the_diagram_does_not_have(self):
        self.assertEqual(cheap_mode.TRANSITIONS[cheap_mode.SERVING], {cheap_mode.IDLE: cheap_mode.CHEAP})
        self.assertEqual(cheap_mode.TRANSITIONS[cheap_mode.CHEAP], {cheap_mode.CONNECTION: cheap_mode.SERVING})


class Harness(unittest.TestCase):
    def master(self, start=True, **cfg):
        h = MasterHarness(self, **cfg)
        with mock.patch.object(support._log, 'log', lambda msg: None):
            listeners, _ = sockets.bind_all([('http', '127.0.0.1:0')], h.master.cfg)
        for l in listeners:
            self.addCleanup(l.close)
        h.master.listeners = h.master.gen.listeners = listeners
        h.master.cheaper.configure(h.master.cfg, 0)
        self.port = int(listeners[0].server_port)
        if start:
            h.start()
            h.accept_all()
            self.assertEqual(h.master.phase, RUNNING)
        return h

    def emperor(self, h):
        mine, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        theirs.setblocking(False)
        h.master.emperor = EmperorLink(h.master, mine.detach())
        self.addCleanup(os.close, h.master.emperor.fd)
        return theirs

    def connect_and_poll(self, h):
        """A client connects; the master's loop runs the handlers of what is readable."""
        client = socket.create_connection(('127.0.0.1', self.port))
        self.addCleanup(client.close)
        for fd, _ev in h.master.loop.ep.poll(1):
            handler = h.master.loop.handlers.get(fd)
            if handler is not None:
                handler()

    def idle_for(self, h, seconds):
        cm = h.master.cheap_mode
        t0 = cm.idle.next_check
        cm.check(t0)
        cm.check(t0 + seconds + 0.01)


class GoingCheap(Harness):
    def test_idle_workers_retire_and_the_first_connection_spawns_them_again(self):
        h = self.master(processes=2, idle=10)
        w1, w2 = h.pool.slots[1], h.pool.slots[2]
        cm = h.master.cheap_mode
        t0 = cm.idle.next_check
        cm.check(t0)
        cm.check(t0 + 9)
        self.assertFalse(cm.is_cheap())
        cm.check(t0 + 10.01)
        self.assertTrue(cm.is_cheap())
        self.assertEqual((w1.state, w2.state), (states.RETIRING, states.RETIRING))
        self.assertEqual(h.sys.signals_to(w1.pid), [signal.SIGHUP])
        self.assertEqual(h.pool.slots, {})
        self.assertTrue(h.logged('cheap mode enabled: waiting for socket connection...'))
        h.exit(w1)
        h.exit(w2)
        self.assertEqual(len(h.sys.spawned), 2)       # nothing respawned while cheap
        self.connect_and_poll(h)
        self.assertFalse(cm.is_cheap())
        self.assertEqual(sorted(h.pool.slots), [1, 2])
        self.assertEqual(cm.watched, [])

    def test_with_cheaper_the_connection_spawns_cheaper_workers(self):
        h = self.master(processes=4, cheaper=1, idle=5)
        self.idle_for(h, 5)
        self.assertTrue(h.master.cheap_mode.is_cheap())
        self.connect_and_poll(h)
        self.assertEqual(sorted(h.pool.slots), [1])

    def test_a_request_keeps_it_serving(self):
        h = self.master(idle=10)
        cm = h.master.cheap_mode
        t0 = cm.idle.next_check
        cm.check(t0)
        with mock.patch('_kaiser.stats.summary', lambda m: {'requests': 1, 'inflight': 0}):
            cm.check(t0 + 5)
            cm.check(t0 + 10.01)
        self.assertFalse(cm.is_cheap())


    def test_the_fifo_s_C_goes_cheap_at_once(self):
        h = self.master(processes=2)
        from _kaiser.controls import FIFO_ACTIONS
        FIFO_ACTIONS['go-cheap'](h.master)
        self.assertTrue(h.master.cheap_mode.is_cheap())
        self.assertEqual(h.pool.slots, {})
        FIFO_ACTIONS['go-cheap'](h.master)                # already cheap: nothing more
        self.connect_and_poll(h)
        self.assertEqual(sorted(h.pool.slots), [1, 2])


class Stopping(Harness):
    def test_die_on_idle_sends_byte_22_and_stops_gracefully(self):
        h = self.master(idle=10, die_on_idle=True)
        emperor = self.emperor(h)
        self.idle_for(h, 10)
        self.assertEqual(emperor.recv(16), bytes((FROM_VASSAL.VOLUNTARY_STOP,)))
        self.assertEqual(h.master.phase, STOPPING)
        self.assertFalse(h.master.cheap_mode.is_cheap())

    def test_an_on_demand_vassal_stops_without_die_on_idle_too(self):
        h = self.master(idle=10, _on_demand=True)
        emperor = self.emperor(h)
        self.idle_for(h, 10)
        self.assertEqual(emperor.recv(16), bytes((FROM_VASSAL.VOLUNTARY_STOP,)))
        self.assertEqual(h.master.phase, STOPPING)

    def test_idle_without_die_on_idle_says_nothing_to_the_emperor(self):
        h = self.master(idle=10)
        emperor = self.emperor(h)
        self.idle_for(h, 10)
        self.assertTrue(h.master.cheap_mode.is_cheap())
        with self.assertRaises(BlockingIOError):
            emperor.recv(16)

    def test_a_stop_while_cheap_stops_watching_the_sockets(self):
        h = self.master(idle=10)
        self.idle_for(h, 10)
        fd = h.master.listeners[0].fd
        self.assertIn(fd, h.master.loop.handlers)
        h.master.graceful_stop()
        self.assertNotIn(fd, h.master.loop.handlers)


class Cheap(Harness):
    def test_cheap_starts_without_workers_and_the_first_connection_spawns_them(self):
        h = self.master(start=False, processes=2, cheap=True)
        h.master.on_started()
        h.master.cheap_mode.start_cheap()
        self.assertEqual(h.master.phase, RUNNING)
        self.assertEqual(h.sys.spawned, [])
        self.connect_and_poll(h)
        self.assertEqual(sorted(h.pool.slots), [1, 2])

    def test_a_reload_while_cheap_stays_cheap_on_the_new_generation(self):
        h = self.master(start=False, processes=2, cheap=True)
        h.master.on_started()
        h.master.cheap_mode.start_cheap()
        old_gen = h.master.gen
        h.master.reloader.start(h.master.cfg, None)
        self.assertIsNone(h.master.reloader.current)
        self.assertIsNot(h.master.gen, old_gen)
        self.assertEqual(h.sys.spawned, [])
        self.assertTrue(h.master.cheap_mode.is_cheap())
        self.assertIn(h.master.listeners[0].fd, h.master.loop.handlers)


if __name__ == '__main__':
    unittest.main()
