"""event_loop: handlers run for ready fds, the tick after every wake-up, the timeout the master gives."""
import os
import unittest

import support  # noqa: F401
from _kaiser.event_loop import Loop


class Stop(Exception):
    pass


class EventLoop(unittest.TestCase):
    def setUp(self):
        self.loop = Loop()
        self.addCleanup(self.loop.ep.close)
        self.r, self.w = os.pipe()
        self.addCleanup(os.close, self.r)
        self.addCleanup(os.close, self.w)

    def test_a_ready_fd_runs_its_handler_then_the_tick(self):
        calls = []
        self.loop.add(self.r, lambda: calls.append(os.read(self.r, 10)))
        os.write(self.w, b'x')

        def tick():
            calls.append('tick')
            raise Stop
        with self.assertRaises(Stop):
            self.loop.run(lambda: 1.0, tick)
        self.assertEqual(calls, [b'x', 'tick'])

    def test_the_timeout_wakes_the_loop_for_the_tick(self):
        ticks = []

        def tick():
            ticks.append(1)
            if len(ticks) == 2:
                raise Stop
        with self.assertRaises(Stop):
            self.loop.run(lambda: 0.001, tick)

    def test_a_removed_fd_is_not_watched_and_removing_twice_is_harmless(self):
        self.loop.add(self.r, lambda: self.fail('removed handler ran'))
        self.loop.remove(self.r)
        self.loop.remove(self.r)
        os.write(self.w, b'x')

        def tick():
            raise Stop
        with self.assertRaises(Stop):
            self.loop.run(lambda: 0.001, tick)
        self.assertEqual(self.loop.handlers, {})


if __name__ == '__main__':
    unittest.main()
