#!/usr/bin/env python3
"""Stand-in for a project's manage.py / helper commands: one-shot commands (migrate, runjobs) exit at once, the
rest (daemons such as sendalerts, qcluster) wait until they are stopped."""
import signal
import sys
import time

if len(sys.argv) > 1 and sys.argv[1] in ('migrate', 'runjobs', 'check', 'collectstatic'):
    sys.exit(0)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
