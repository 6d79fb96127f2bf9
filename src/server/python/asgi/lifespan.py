"""The ASGI `lifespan` protocol of one worker: startup before the worker accepts, shutdown when it retires.

Owns: the lifespan scope (with `state`, which every request scope gets a shallow copy of), the two events the
app receives, the four messages it may send, and what counts as what under `asgi-lifespan`:

  auto (default)  an app that raises before it took `lifespan.startup` (Django's ASGIHandler, an app that
                  asserts scope['type'] == 'http') does not speak lifespan: logged, and the worker serves
                  without it. `lifespan.startup.failed`, or an exception after the app took the startup
                  event, is a failed startup.
  on              any exception, or an app returning before `lifespan.startup.complete`, is a failed startup.
  off             lifespan is never called.

A failed startup is a failed load: the worker reports `load-failed` with the app's message and exits 22, so a
reload rolls back and a first start ends in GAME OVER, as for a WSGI app that fails to import. Shutdown is
bounded by the time the master still grants the retiring worker.
"""
import asyncio
import traceback

from .. import log

ASGI_LIFESPAN = {'version': '3.0', 'spec_version': '2.0'}


class Lifespan:
    def __init__(self, app, loop, mode):
        self.app = app
        self.loop = loop
        self.strict = mode == 'on'
        self.state = {}
        self.inbox = []
        self.waiter = None
        self.taken = 0                  # events the app has received
        self.supported = True
        self.started = loop.create_future()     # result: None, or the failure text
        self.stopped = loop.create_future()
        self.task = None

    async def startup(self):
        """Run the app's startup; returns None when the worker may accept, else the failure text."""
        self.task = self.loop.create_task(self._main())
        self._put({'type': 'lifespan.startup'})
        await asyncio.wait((self.started, self.task), return_when=asyncio.FIRST_COMPLETED)
        if not self.started.done():
            self._settle(self.started, 'lifespan ended before startup completed')
        return self.started.result()

    async def shutdown(self, timeout):
        """Send `lifespan.shutdown` and wait (at most `timeout` s) for the app's answer; logs a failure."""
        if not self.supported or self.task is None or self.task.done():
            return
        self._put({'type': 'lifespan.shutdown'})
        try:
            await asyncio.wait((self.stopped, self.task), timeout=max(timeout, 0.01),
                               return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            return
        if not self.stopped.done():
            log.log('ASGI lifespan shutdown did not complete within %.1f s' % timeout)
        elif self.stopped.result():
            log.log('ASGI lifespan shutdown failed: %s' % self.stopped.result())

    async def _main(self):
        scope = {'type': 'lifespan', 'asgi': ASGI_LIFESPAN, 'state': self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as e:
            if self.taken == 0 and not self.strict and not isinstance(e, asyncio.CancelledError):
                self._unsupported('%s: %s' % (type(e).__name__, e))
            else:
                tb = traceback.format_exc()
                self._settle(self.started, 'exception in ASGI lifespan startup:\n%s' % tb)
                self._settle(self.stopped, 'exception in ASGI lifespan shutdown:\n%s' % tb)
        else:
            if not self.started.done():
                if self.taken == 0 and not self.strict:
                    self._unsupported('the app returned without taking lifespan.startup')
                else:
                    self._settle(self.started, 'the ASGI app returned from lifespan before lifespan.startup.complete')
            self._settle(self.stopped, None)

    def _unsupported(self, why):
        log.log('ASGI lifespan not supported by the app (%s): serving without it' % why)
        self.supported = False
        self._settle(self.started, None)
        self._settle(self.stopped, None)

    @staticmethod
    def _settle(fut, value):
        if not fut.done():
            fut.set_result(value)

    def _put(self, event):
        self.inbox.append(event)
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _receive(self):
        while not self.inbox:
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        self.taken += 1
        return self.inbox.pop(0)

    async def _send(self, message):
        kind = message['type']
        if kind == 'lifespan.startup.complete':
            self._settle(self.started, None)
        elif kind == 'lifespan.startup.failed':
            self._settle(self.started, 'ASGI lifespan startup failed: %s' % (message.get('message') or '(no message)'))
        elif kind == 'lifespan.shutdown.complete':
            self._settle(self.stopped, None)
        elif kind == 'lifespan.shutdown.failed':
            self._settle(self.stopped, message.get('message') or '(no message)')
        else:
            raise RuntimeError('ASGI message %r is not one of a lifespan scope' % (kind,))
