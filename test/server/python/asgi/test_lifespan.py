"""asgi/lifespan.py: startup and shutdown, failures, apps that do not speak lifespan, `asgi-lifespan` modes."""
import asyncio
import unittest

import asgi_support  # noqa: F401
from asgi_support import LoopTest
from _kaiser.asgi.lifespan import Lifespan


def starlette_like(events, fail=None, state=None):
    """An app driving lifespan as Starlette does: startup.failed then re-raise when `fail` is set."""
    async def app(scope, receive, send):
        assert scope['type'] == 'lifespan'
        msg = await receive()
        events.append(msg['type'])
        if fail == 'startup':
            await send({'type': 'lifespan.startup.failed', 'message': 'no database'})
            raise RuntimeError('no database')
        if state:
            scope['state'].update(state)
        await send({'type': 'lifespan.startup.complete'})
        msg = await receive()
        events.append(msg['type'])
        if fail == 'shutdown':
            await send({'type': 'lifespan.shutdown.failed', 'message': 'flush failed'})
            return
        await send({'type': 'lifespan.shutdown.complete'})
    return app


class LifespanTest(LoopTest):
    def run_(self, coro):
        return self.loop.run_until_complete(coro)

    def test_startup_then_shutdown_and_state_is_kept(self):
        events = []
        ls = Lifespan(starlette_like(events, state={'db': 1}), self.loop, 'auto')
        self.assertIsNone(self.run_(ls.startup()))
        self.assertTrue(ls.supported)
        self.assertEqual(ls.state, {'db': 1})
        self.run_(ls.shutdown(5))
        self.assertEqual(events, ['lifespan.startup', 'lifespan.shutdown'])
        self.assertTrue(ls.task.done())

    def test_startup_failed_is_a_failure_with_the_apps_message(self):
        ls = Lifespan(starlette_like([], fail='startup'), self.loop, 'auto')
        self.assertIn('no database', self.run_(ls.startup()))

    def test_an_app_raising_before_it_takes_startup_does_not_speak_lifespan(self):
        async def django_like(scope, receive, send):
            raise ValueError('Django can only handle ASGI/HTTP connections, not lifespan.')
        ls = Lifespan(django_like, self.loop, 'auto')
        self.assertIsNone(self.run_(ls.startup()))
        self.assertFalse(ls.supported)
        self.assertIn('not supported', self.logged[0])

    def test_with_asgi_lifespan_on_the_same_app_fails_to_start(self):
        async def django_like(scope, receive, send):
            raise ValueError('only http')
        self.assertIn('only http', self.run_(Lifespan(django_like, self.loop, 'on').startup()))

    def test_an_exception_after_taking_startup_is_a_failure(self):
        async def crashes(scope, receive, send):
            await receive()
            raise KeyError('config')
        self.assertIn("KeyError: 'config'", self.run_(Lifespan(crashes, self.loop, 'auto').startup()))

    def test_returning_before_startup_complete(self):
        async def quits(scope, receive, send):
            await receive()
        self.assertIn('before lifespan.startup.complete', self.run_(Lifespan(quits, self.loop, 'auto').startup()))

    def test_shutdown_failure_and_timeout_are_logged(self):
        ls = Lifespan(starlette_like([], fail='shutdown'), self.loop, 'auto')
        self.run_(ls.startup())
        self.run_(ls.shutdown(5))
        self.assertIn('flush failed', self.logged[-1])

        async def hangs(scope, receive, send):
            await receive()
            await send({'type': 'lifespan.startup.complete'})
            await receive()
            await asyncio.sleep(3600)
        ls = Lifespan(hangs, self.loop, 'auto')
        self.run_(ls.startup())
        self.run_(ls.shutdown(0.05))
        self.assertIn('did not complete', self.logged[-1])
        ls.task.cancel()
        self.run_(asyncio.sleep(0))

    def test_unknown_messages_are_errors(self):
        async def bad(scope, receive, send):
            await receive()
            await send({'type': 'lifespan.bogus'})
        self.assertIn('not one of a lifespan scope', self.run_(Lifespan(bad, self.loop, 'auto').startup()))


if __name__ == '__main__':
    unittest.main()
