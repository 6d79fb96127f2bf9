"""procname: titles by role (uWSGI's auto-procname), and the title and short name written where ps and pidof read
them, checked in a forked child through /proc."""
import os
import unittest

from support import in_forked_child
from _kaiser import procname


def _in_child(fn):
    """Runs `fn` in a forked child; returns what the child's /proc/self/cmdline and comm then say."""
    def child():
        fn()
        with open('/proc/self/cmdline', 'rb') as f:
            cmdline = f.read()
        with open('/proc/self/comm', 'rb') as f:
            comm = f.read().strip()
        return cmdline + b'\n' + comm
    cmdline, _, comm = in_forked_child(child).rpartition(b'\n')
    return cmdline, comm.decode()


class Titles(unittest.TestCase):
    def test_roles_are_named_the_uwsgi_auto_procname_way(self):
        self.assertEqual(procname.title_for({'_name': 'shop.ini'}, 'master'), 'kaiser master shop.ini')
        self.assertEqual(procname.title_for({'_name': 'shop.ini'}, 'worker', 3), 'kaiser worker 3 shop.ini')
        self.assertEqual(procname.title_for({'_name': 'kaiser'}, 'master'), 'kaiser master')
        self.assertEqual(procname.title_for(None, 'host'), 'kaiser host')

    def test_the_title_and_short_name_land_where_ps_and_pidof_read_them(self):
        cmdline, comm = _in_child(lambda: procname.set_title('kaiser worker 2 shop.ini'))
        self.assertTrue(cmdline.startswith(b'kaiser worker 2 shop.ini\0'))
        self.assertEqual(cmdline.rstrip(b'\0'), b'kaiser worker 2 shop.ini')
        self.assertEqual(comm, 'kaiser worker 2')

    def test_a_title_longer_than_the_argv_area_is_cut_not_written_past_it(self):
        start, size = procname.argv_area()
        cmdline, _ = _in_child(lambda: procname.set_title('kaiser ' + 'x' * (size + 100)))
        self.assertEqual(len(cmdline), size)
        self.assertEqual(cmdline[-1:], b'\0')

    def test_kaiser_procname_0_leaves_the_process_alone(self):
        before, before_comm = _in_child(lambda: None)

        def disabled():
            os.environ['KAISER_PROCNAME'] = '0'
            procname._enabled = None       # as in a new process: read on first use
            procname.set_title('kaiser master other.ini')
        after, after_comm = _in_child(disabled)
        self.assertEqual(after, before)
        self.assertEqual(after_comm, before_comm)


if __name__ == '__main__':
    unittest.main()
