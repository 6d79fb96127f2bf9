"""The master's phase, one value that every part of the master reads and only master.py and shutdown.py write.

   starting ──every worker of the first generation ACCEPTING──► running
   starting | running ──graceful or brutal stop──► stopping            (never back: the process exits)

A reload asked for while `starting` waits until `running` (reload.py); nothing is respawned while `stopping`.
"""

STARTING = 'starting'
RUNNING = 'running'
STOPPING = 'stopping'
