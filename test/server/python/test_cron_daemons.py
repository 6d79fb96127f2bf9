"""cron: uWSGI's five fields (-1 any, -N every N, day OR weekday) and cron2's keys; daemons: the option forms."""
import time
import unittest

import support  # noqa: F401
from _kaiser.cron import CronError, matches, parse_cron, parse_cron2
from _kaiser.daemons import DaemonError, parse


def at(text):
    return time.strptime(text, '%Y-%m-%d %H:%M')


class Fields(unittest.TestCase):
    def test_any_every_and_exact(self):
        job = parse_cron('cron', '-5 3 -1 -1 -1 run it', False)
        self.assertEqual(job.cmd, 'run it')
        self.assertTrue(matches(job.fields, at('2026-12-07 03:10')))
        self.assertFalse(matches(job.fields, at('2026-12-07 03:11')))
        self.assertFalse(matches(job.fields, at('2026-12-07 04:10')))

    def test_day_or_weekday(self):
        job = parse_cron('cron', '0 0 1 -1 0 x', False)      # the 1st, or a Sunday
        self.assertTrue(matches(job.fields, at('2026-12-01 00:00')))   # a Tuesday
        self.assertTrue(matches(job.fields, at('2026-12-06 00:00')))   # a Sunday
        self.assertFalse(matches(job.fields, at('2026-12-07 00:00')))  # a Monday
        self.assertTrue(matches(parse_cron('cron', '0 0 -1 -1 7 x', False).fields, at('2026-12-06 00:00')))

    def test_cron2_and_errors(self):
        job = parse_cron2('minute=-2,unique=1 echo a b')
        self.assertTrue(job.unique)
        self.assertEqual(job.cmd, 'echo a b')
        self.assertTrue(matches(job.fields, at('2026-12-07 10:02')))
        self.assertFalse(matches(job.fields, at('2026-12-07 10:03')))
        with self.assertRaisesRegex(CronError, 'expected MINUTE'):
            parse_cron('cron', '1 2 3 cmd', False)
        with self.assertRaisesRegex(CronError, 'not a number'):
            parse_cron('cron', 'a -1 -1 -1 -1 cmd', False)


class DaemonForms(unittest.TestCase):
    def test_forms(self):
        ds = parse({'attach-daemon': ['memcached -p 0'], 'smart-attach-daemon': ['/tmp/x.pid redis-server x.conf'],
                    'attach-daemon2': ['stopsignal=SIGINT,reloadsignal=1,pidfile=/tmp/p,cmd=run --a,b']})
        self.assertEqual([(d.option, d.cmd, d.pidfile) for d in ds], [
            ('attach-daemon', 'memcached -p 0', None), ('smart-attach-daemon', 'redis-server x.conf', '/tmp/x.pid'),
            ('attach-daemon2', 'run --a,b', '/tmp/p')])
        self.assertTrue(ds[1].smart_fork)
        self.assertEqual((ds[2].stop_signal, ds[2].reload_signal), (2, 1))
        with self.assertRaisesRegex(DaemonError, 'PIDFILE COMMAND'):
            parse({'smart-attach-daemon': ['/tmp/only.pid']})


if __name__ == '__main__':
    unittest.main()
