"""Stand-ins for the master's parts that its config does not use, so that their modules stay unimported (issue 17:
every module a master imports counts in a 1-worker vassal's memory, twice where the forked worker copies its pages:
leaving reload.py, controls.py, cheaper.py and cheap_mode.py out took 0.13 MB off a 1-worker FastAPI vassal's private
memory, bench/results/asgi-pss-ab.20261207-2350.txt).

Each stand-in gives the answers of its part at rest (no reload in progress, no stats server or FIFO, every worker id
spawned, never cheap) and, where something asks it to act, imports the real part, puts it in the master's attribute
and hands over (`wake`); from then on the master holds the real part. Master.wake_parts() wakes what a config turns
on, at start and with every reload's config. NoJobs stands in for the daemons and the cron jobs the same way.
"""
CONTROL_KEYS = ('stats', 'master-fifo', 'touch-reload', 'touch-chain-reload')   # controls.py reads
CHEAP_MODE_KEYS = ('cheap', 'idle')   # cheap_mode.py reads (die-on-idle and on-demand act through `idle`)


class NoJobs:
    """The master's daemons and cron jobs while its config names none: daemons.py and cron.py (and subscriber.py,
    zygote.py, stats.py) are imported only by a master that uses them. The first config naming one makes the real
    Daemons or Cron, which then stays: a reload dropping the option stops what it started."""

    def configure(self, cfg, old=None):
        pass

    def tick(self, now):
        pass

    def deadlines(self):
        return []

    def next_at(self, wall, mono):
        return None

    def on_exit(self, pid, status):
        return False

    def stop(self, sig=None):
        pass

    def kill(self):
        pass


NO_JOBS = NoJobs()


class StandIn:
    """What every stand-in shares: `wake` imports the real part (MODULE.CLASS, made with the master), puts it in the
    master's attribute ATTR in place of the stand-in and returns it; once woken, the master holds the real part.
    `needed(cfg)`: whether a config turns the part on (one of its KEYS set); Master.wake_parts wakes those before
    the config reaches the part, so a stand-in's own methods see only configs that leave it off."""

    ATTR = MODULE = CLASS = ''
    KEYS = ()

    def needed(self, cfg):
        return any(cfg.get(k) for k in self.KEYS)

    def __init__(self, master):
        self.master = master

    def wake(self):
        if getattr(self.master, self.ATTR) is self:
            real = getattr(__import__(self.MODULE, globals(), None, [self.CLASS], 1), self.CLASS)
            setattr(self.master, self.ATTR, real(self.master))
        return getattr(self.master, self.ATTR)


class DormantReloader(StandIn):
    """`master.reloader` until a reload is first asked for (SIGHUP, a touch file, the master FIFO, the emperor):
    any master may be reloaded, so it wakes on the asking, not on a config key."""

    ATTR, MODULE, CLASS = 'reloader', 'reload', 'Reloader'

    current = None      # the Reload in progress: none

    def in_progress(self):
        return False

    def owns(self, wp):
        return False

    def generation(self):
        return None

    def listeners(self):
        return []

    def check(self, now):
        pass

    def deadlines(self):
        return []

    def run_queued(self):
        pass

    def on_worker_ready(self, wp):
        return False

    def request(self, mode):
        self.wake().request(mode)

    def on_config(self, cfg):
        self.wake().on_config(cfg)

    def on_emperor_reload(self):
        self.wake().on_emperor_reload()

    def start(self, cfg, mode=None):
        self.wake().start(cfg, mode)


class DormantControls(StandIn):
    """`master.controls` while no config names a stats server, a master FIFO or a touch file."""

    ATTR, MODULE, CLASS = 'controls', 'controls', 'Controls'
    KEYS = CONTROL_KEYS

    def __init__(self, master):
        super().__init__(master)
        self.touch = {}

    def configure(self, cfg, old):
        pass

    def fds(self):
        return []

    def close(self, vacuum):
        pass

    def check_touch(self):
        pass


def cheaper_problem(cfg):
    """cheaper.problem(cfg), importing cheaper.py only for a config that turns cheaper on."""
    if not cfg.get('cheaper'):
        return None
    from .cheaper import problem
    return problem(cfg)


class DormantCheaper(StandIn):
    """`master.cheaper` while no config turns cheaper on: every worker id runs."""

    ATTR, MODULE, CLASS = 'cheaper', 'cheaper', 'Cheaper'
    KEYS = ('cheaper',)

    options = None      # cheaper's Options: off

    def configure(self, cfg, now):
        pass

    def initial_ids(self, cfg):
        return list(range(1, cfg['processes'] + 1))

    def reload_ids(self, cfg):
        # asked with a reload's new config before the master configures its parts with it (reload.py)
        if self.needed(cfg):
            return self.wake().reload_ids(cfg)
        return list(range(1, cfg['processes'] + 1))

    def fifo(self, delta):
        pass            # `+` / `-` on the master FIFO act with cheaper only, as in uWSGI

    def tick(self, now):
        pass

    def deadlines(self):
        return []


class DormantCheapMode(StandIn):
    """`master.cheap_mode` while no config asks for cheap or idle: serving, never cheap, until the master FIFO's `C`."""

    ATTR, MODULE, CLASS = 'cheap_mode', 'cheap_mode', 'CheapMode'
    KEYS = CHEAP_MODE_KEYS

    def is_cheap(self):
        return False

    def start_cheap(self):
        self.wake().start_cheap()

    def go_cheap_now(self):
        self.wake().go_cheap_now()

    def unwatch(self):
        pass

    def rearm(self):
        pass

    def check(self, now):
        pass

    def deadlines(self):
        return []
