"""What an ASGI worker tells the master and the log about its requests: the scoreboard slot and the request log.

Owns: the worker's scoreboard counters (requests, exceptions, tx bytes, running time, avg_rt: docs/runtime-
protocol.md §3) and its one core (an event loop is one core): the requests it served, read and write errors,
and `request_start`, the start of the oldest HTTP request in flight (0 when none), which the master reads
for stats (busy/idle), metrics, `idle` and harakiri. With `harakiri` set, the worker cancels an overdue request
itself (server.py) and the master's harakiri is the backstop for a *blocked* loop (synchronous code in an async
view): while requests are in flight the sweep republishes `request_start` as the time it last ran, so the
master kills the worker once its loop has not run for `harakiri` seconds. Also the uWSGI-style request log.
"""
import struct
import time

from .. import log

_CORE = struct.Struct('<dQII')          # request_start, requests, read_errors, write_errors


class Accounting:
    __slots__ = ('slot', 'mm', 'core_off', 'requests', 'read_errors', 'write_errors', 'published', 'reqlog',
                 'logging', 'pid', 'harakiri')

    def __init__(self, worker, cfg):
        self.slot = worker.slot
        self.mm = worker.mm
        self.core_off = worker.slot.core_off(0)
        self.requests = 0
        self.read_errors = 0
        self.write_errors = 0
        self.published = 0.0
        self.reqlog = log.RequestLog()
        self.logging = not cfg.get('disable-logging')
        self.harakiri = cfg.get('harakiri') or 0

    def _core(self):
        _CORE.pack_into(self.mm, self.core_off, self.published, self.requests, self.read_errors, self.write_errors)

    def started(self, wall):
        """A request (or websocket) started at unix time `wall`; counted at once, as the WSGI side does."""
        s = self.slot
        s.requests += 1
        self.requests += 1
        if not self.published:
            self.published = wall
        self._core()
        s.flush()

    def ended(self, cycle, seconds, busy_since):
        """`cycle` ended after `seconds`; `busy_since` is the wall start of the oldest request still in flight
        (0 when none)."""
        s = self.slot
        us = int(seconds * 1000000)
        s.running += us
        s.avg_rt = (s.avg_rt + us) >> 1
        s.tx += cycle.sent + cycle.head_len
        if cycle.exception:
            s.exceptions += 1
        if not busy_since:
            self.published = 0.0
        self._core()
        s.flush()
        if self.logging:
            scope = cycle.scope
            q = scope['query_string']
            uri = scope['path'] + ('?' + q.decode('latin-1') if q else '')
            client = scope.get('client')
            self.reqlog.request(time.time(), s.requests, client[0] if client else '', len(scope['headers']), 0,
                                scope.get('method', 'GET'), uri, cycle.sent, int(seconds * 1000),
                                'HTTP/' + scope['http_version'], str(cycle.status or 0), 0, cycle.head_len, 0)

    def refresh(self, busy_since, now_wall):
        """The sweep: publish when the worker is busy since (with harakiri: that its loop still runs, see above)."""
        start = now_wall if busy_since and self.harakiri else busy_since
        if start != self.published:
            self.published = start
            self._core()

    def error(self, read):
        if read:
            self.read_errors += 1
        else:
            self.write_errors += 1
        self._core()

    def flush(self):
        self.reqlog.flush()
