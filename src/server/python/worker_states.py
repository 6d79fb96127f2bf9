r"""A worker's lifecycle as the master sees it: the states, the events, and the one table of allowed transitions.

`WorkerProc.apply(event)` (worker_proc.py) is the only writer of a worker's state and goes through `next_state`;
an event the table does not list for a state is ignored (a late `accepting` from a worker already retiring, a
second retire). What happens when a worker *exits* depends on the state it exited in (pool.py, `on_exit`).

   (spawn)
      │
      ▼       ACCEPTING            RETIRE
   loading ────────────► ready ────────────► retiring
      │ │                  │                  ▲  │
      │ └───── RETIRE ─────┼──────────────────┘  │
      │                    │ STUCK               │ STUCK
      │                    ▼                     │
      │                 harakiri ◄───────────────┘
      │ KILL
      └────────────────► killed ◄──── KILL ──── ready | retiring

   every state ──EXIT──► (buried); what follows depends on the state it exited in:
   loading  ──EXIT──► the app did not load: abort the reload, GAME OVER at first start, or respawn with backoff
   ready    ──EXIT──► a crash: respawned (after 1 s when it died within 1 s of its spawn)
   retiring ──EXIT──► logged as retired          harakiri ──EXIT──► respawned if it still held its slot
   killed   ──EXIT──► nothing: the master killed it on purpose

   RETIRE    the master asks it to go (SIGHUP: reload, recycle, shutdown) or it retired itself (max-requests)
   ACCEPTING the worker loaded the app and accepts on every listening socket
   STUCK     harakiri: a request ran longer than `harakiri` seconds; the master SIGKILLs it
   KILL      SIGKILL on purpose: an aborted reload, a graceful stop of a worker still loading, mercy expired

      state \ event  │ ACCEPTING │ RETIRE   │ STUCK    │ KILL
     ────────────────┼───────────┼──────────┼──────────┼────────
      loading        │ ready     │ retiring │ –        │ killed
      ready          │ –         │ retiring │ harakiri │ killed
      retiring       │ –         │ –        │ harakiri │ killed
      harakiri       │ –         │ –        │ –        │ –
      killed         │ –         │ –        │ –        │ –
"""

LOADING = 'loading'
READY = 'ready'
RETIRING = 'retiring'
HARAKIRI = 'harakiri'
KILLED = 'killed'

STATES = (LOADING, READY, RETIRING, HARAKIRI, KILLED)

ACCEPTING = 'ACCEPTING'
RETIRE = 'RETIRE'
STUCK = 'STUCK'
KILL = 'KILL'

EVENTS = (ACCEPTING, RETIRE, STUCK, KILL)

TRANSITIONS = {
    LOADING: {ACCEPTING: READY, RETIRE: RETIRING, KILL: KILLED},
    READY: {RETIRE: RETIRING, STUCK: HARAKIRI, KILL: KILLED},
    RETIRING: {STUCK: HARAKIRI, KILL: KILLED},
    HARAKIRI: {},
    KILLED: {},
}

# Groups, so a check reads as what it means.
SERVING = frozenset((READY, RETIRING))        # may hold a request in flight: watched for harakiri
COUNTED = frozenset((LOADING, READY, RETIRING, HARAKIRI))   # shown in stats (a killed worker is not)


def next_state(state, event):
    """The state `event` leads to from `state`, or None when the event does not apply there (it is ignored)."""
    table = TRANSITIONS.get(state)
    if table is None:
        raise ValueError('Internal error: unknown worker state %r' % (state,))
    if event not in EVENTS:
        raise ValueError('Internal error: unknown worker event %r' % (event,))
    return table.get(event)
