"""What an HTTP request cycle (http_cycle.py) and a websocket session (ws_session.py) share: one run of the ASGI app
and its failure rules.

Owns: `run`, the app's task: a client that went away (ClientDisconnect) is no error; any other exception marks
the call failed and is logged with its traceback; a cancellation is the subclass's to judge (harakiri for a
request); whatever happened, the subclass's `_ended` answers what the app left unanswered and tells the server.
"""
import asyncio
import traceback

from .. import log


class ClientDisconnect(OSError):
    """`send` on a connection the client has closed."""


class AppCall:
    """Base of HttpCycle and WebSocketSession; they set `server`, `scope`, `exception` and define `_ended`,
    `_cancelled` and `_what` (the call as the traceback's log line names it)."""
    __slots__ = ()

    async def run(self):
        try:
            await self.server.app(self.scope, self.receive, self.send)
        except ClientDisconnect:
            pass
        except asyncio.CancelledError:
            self._cancelled()
        except BaseException:
            self.exception = True
            log.log('Traceback of an exception in the ASGI application (%s):\n%s' % (
                self._what(), traceback.format_exc()))
        finally:
            self._ended()
