"""worker_states: the table is complete, the diagram's edges are the table's, and WorkerProc.apply follows it."""
import unittest

import support  # noqa: F401
from _kaiser import worker_states as states
from _kaiser.worker_proc import WorkerProc


class Table(unittest.TestCase):
    def test_every_state_has_a_row_and_every_target_is_a_state(self):
        self.assertEqual(set(states.TRANSITIONS), set(states.STATES))
        for row in states.TRANSITIONS.values():
            self.assertLessEqual(set(row), set(states.EVENTS))
            self.assertLessEqual(set(row.values()), set(states.STATES))

    def test_the_lifecycle_edges(self):
        edges = {
            (states.LOADING, states.ACCEPTING): states.READY,
            (states.LOADING, states.RETIRE): states.RETIRING,
            (states.LOADING, states.KILL): states.KILLED,
            (states.READY, states.RETIRE): states.RETIRING,
            (states.READY, states.STUCK): states.HARAKIRI,
            (states.READY, states.KILL): states.KILLED,
            (states.RETIRING, states.STUCK): states.HARAKIRI,
            (states.RETIRING, states.KILL): states.KILLED,
        }
        for state in states.STATES:
            for event in states.EVENTS:
                with self.subTest(state=state, event=event):
                    self.assertEqual(states.next_state(state, event), edges.get((state, event)))

    def test_the_table_in_the_module_header_matches_the_transitions(self):
        rows = [line.split('│') for line in states.__doc__.splitlines()
                if line.count('│') == 4 and line.split('│')[0].strip() in states.STATES + ('state \\ event',)]
        header = [cell.strip() for cell in rows[0]]
        self.assertEqual(header[1:], list(states.EVENTS))
        for cells in rows[1:]:
            state = cells[0].strip()
            for event, cell in zip(states.EVENTS, cells[1:]):
                want = states.TRANSITIONS[state].get(event) or '–'
                self.assertEqual(cell.strip(), want, (state, event))

    def test_unknown_states_and_events_are_internal_errors(self):
        with self.assertRaises(ValueError):
            states.next_state('dancing', states.KILL)
        with self.assertRaises(ValueError):
            states.next_state(states.READY, 'JUMP')


class Apply(unittest.TestCase):
    def worker(self):
        return WorkerProc(1, None, 0, 12345, None)

    def test_a_new_worker_is_loading(self):
        self.assertEqual(self.worker().state, states.LOADING)

    def test_apply_moves_along_the_table_and_ignores_what_does_not_apply(self):
        wp = self.worker()
        self.assertTrue(wp.apply(states.ACCEPTING))
        self.assertEqual(wp.state, states.READY)
        self.assertFalse(wp.apply(states.ACCEPTING))
        self.assertEqual(wp.state, states.READY)
        self.assertTrue(wp.apply(states.RETIRE))
        self.assertFalse(wp.apply(states.RETIRE))
        self.assertTrue(wp.apply(states.KILL))
        self.assertEqual(wp.state, states.KILLED)
        for event in states.EVENTS:
            self.assertFalse(wp.apply(event))


if __name__ == '__main__':
    unittest.main()
