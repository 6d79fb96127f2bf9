"""dormant: each stand-in answers for its part of the master, so it must offer every name the master's code asks of
that part (or the first master without the option fails with an AttributeError), and mirror the real part's
methods with the same parameters."""
import inspect
import os
import re
import unittest

import support  # noqa: F401  (makes the server's modules the package _kaiser)

from _kaiser import cheap_mode, cheaper, controls, cron, daemons, dormant, reload

SRC = os.path.dirname(dormant.__file__)

# (attribute of the master, stand-in, the real parts it stands for)
PARTS = (
    ('reloader', dormant.DormantReloader, (reload.Reloader,)),
    ('controls', dormant.DormantControls, (controls.Controls,)),
    ('cheaper', dormant.DormantCheaper, (cheaper.Cheaper,)),
    ('cheap_mode', dormant.DormantCheapMode, (cheap_mode.CheapMode,)),
    ('daemons', dormant.NoJobs, (daemons.Daemons,)),
    ('cron', dormant.NoJobs, (cron.Cron,)),
)

# Names the code asks of a part only once the real part is known to be there.
ONLY_WHEN_AWAKE = {
    ('reloader', 'abort'): 'pool.py calls it only after reloader.owns(wp), which a dormant reloader answers False',
}


def asked_of(attr):
    """Every NAME in `master.ATTR.NAME` / `self.ATTR.NAME` across the server's modules (the part's own module and
    the stand-ins excepted)."""
    names = set()
    pattern = re.compile(r'\b(?:master|self|m)\.%s\.([a-z_]+)\b' % attr)
    for name in os.listdir(SRC):
        if name.endswith('.py') and name not in ('dormant.py', attr + '.py'):
            with open(os.path.join(SRC, name)) as f:
                names.update(pattern.findall(f.read()))
    return names


def public_methods(cls):
    return {n: f for n, f in vars(cls).items() if callable(f) and not n.startswith('_')}


class StandIns(unittest.TestCase):
    def test_every_name_the_master_asks_of_a_part_is_on_its_stand_in(self):
        for attr, stand_in, _ in PARTS:
            asked = asked_of(attr)
            self.assertTrue(asked, 'no use of master.%s found: the pattern no longer matches the code' % attr)
            made = stand_in() if stand_in is dormant.NoJobs else stand_in(object())   # instance attributes count
            missing = {n for n in asked if not hasattr(made, n) and (attr, n) not in ONLY_WHEN_AWAKE}
            self.assertEqual(missing, set(), '%s lacks what the master asks of %s' % (stand_in.__name__, attr))

    def test_the_stand_ins_mirror_the_real_parts(self):
        reals_of = {}
        for _, stand_in, reals in PARTS:
            reals_of.setdefault(stand_in, []).extend(reals)
        for stand_in, reals in reals_of.items():
            for name, method in public_methods(stand_in).items():
                if name == 'wake':
                    continue
                having = [r for r in reals if hasattr(r, name)]
                self.assertTrue(having, '%s.%s is on none of %s' % (stand_in.__name__, name, [r.__name__ for r in reals]))
                got = list(inspect.signature(method).parameters.values())
                required = sum(1 for p in got if p.default is inspect.Parameter.empty)
                for real in having:
                    want = len(inspect.signature(getattr(real, name)).parameters)
                    # called as the real part is: takes as many arguments (one standing for two parts may take more,
                    # with defaults: NoJobs.configure's `old` is Daemons', Cron's takes none)
                    self.assertTrue(required <= want <= len(got), '%s.%s does not take the arguments of %s.%s' % (
                        stand_in.__name__, name, real.__name__, name))

if __name__ == '__main__':
    unittest.main()
