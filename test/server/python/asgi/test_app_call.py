"""asgi/app_call.py: one run of the app as a request cycle and a websocket session share it: a client that went away
is no error, any other exception marks the call failed with its traceback logged, a cancellation is the subclass's
to judge, and `_ended` runs whatever happened."""
import asyncio
import unittest

import asgi_support  # noqa: F401
from asgi_support import CapturedLog
from _kaiser.asgi.app_call import AppCall, ClientDisconnect


class Call(AppCall):
    """An AppCall whose app is `app`, recording what run() asked of it."""
    __slots__ = ('server', 'scope', 'exception', 'events')

    def __init__(self, app):
        self.server = type('Server', (), {'app': staticmethod(app)})()
        self.scope = {'type': 'http', 'path': '/x'}
        self.exception = False
        self.events = []

    async def receive(self):
        return {'type': 'http.request', 'body': b'', 'more_body': False}

    async def send(self, message):
        self.events.append(message['type'])

    def _cancelled(self):
        self.events.append('cancelled')

    def _what(self):
        return 'GET /x'

    def _ended(self):
        self.events.append('ended')


def raising(exc):
    async def app(scope, receive, send):
        await send({'type': 'http.response.start'})
        raise exc
    return app


class AppCallTest(CapturedLog):
    def run_call(self, app):
        call = Call(app)
        asyncio.run(call.run())
        return call

    def test_an_app_that_returns_ends_the_call(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'http.response.start'})
        call = self.run_call(app)
        self.assertEqual(call.events, ['http.response.start', 'ended'])
        self.assertFalse(call.exception)
        self.assertEqual(self.logged, [])

    def test_a_client_gone_is_no_error(self):
        call = self.run_call(raising(ClientDisconnect('gone')))
        self.assertEqual(call.events, ['http.response.start', 'ended'])
        self.assertFalse(call.exception)
        self.assertEqual(self.logged, [])

    def test_an_exception_fails_the_call_and_logs_its_traceback(self):
        call = self.run_call(raising(ValueError('boom')))
        self.assertTrue(call.exception)
        self.assertEqual(call.events, ['http.response.start', 'ended'])
        self.assertEqual(len(self.logged), 1)
        self.assertIn('Traceback of an exception in the ASGI application (GET /x)', self.logged[0])
        self.assertIn('ValueError: boom', self.logged[0])

    def test_a_cancellation_is_the_subclass_s_to_judge(self):
        call = self.run_call(raising(asyncio.CancelledError()))
        self.assertEqual(call.events, ['http.response.start', 'cancelled', 'ended'])
        self.assertFalse(call.exception)
        self.assertEqual(self.logged, [])


if __name__ == '__main__':
    unittest.main()
