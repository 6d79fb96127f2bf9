"""What every client connection of the ASGI server shares, whatever its protocol (HTTP/1.1 or uwsgi).

Owns: the asyncio transport plumbing (a BufferedProtocol, not streams: no task per read, one shared read buffer), read pausing
for its several reasons (a request body the app has not taken, a pipelined request waiting for the current
response, a request waiting for a concurrency slot), write backpressure (`drain` while the transport is over
its high-water mark), feeding the current request's body with `limit-post`, the end of a response (keep-alive
or close), closing without resetting a client whose input was not read (half-close, then drain for up to
LINGER_S), and the timed checks of the sweep: idle keep-alive, the total deadline of a request head, a body
that stops arriving, the short grace of idle connections when the worker retires.
"""
import asyncio
import time

from .. import log
from .head import HttpError, error_response

PAUSE_BODY, PAUSE_PIPELINE, PAUSE_SLOT = 1, 2, 4
WRITE_HIGH = 64 * 1024          # transport write buffer above which `send` waits
DISCARD_MAX = 1 << 20           # unread request body still drained to keep the connection alive
LINGER_S = 0.5                  # how long a half-closed connection drains a client's unread input
RETIRE_IDLE_S = 0.5             # a retiring worker closes keep-alive connections idle this long


class Connection(asyncio.BufferedProtocol):
    __slots__ = ('server', 'listener', 'transport', 'buf', 'cycle', 'body', 'body_read', 'discard', 'client',
                 'last', 'head_since', 'write_paused', 'drainers', 'paused', 'closing', 'eof', 'ws',
                 'linger_until')

    def __init__(self, server, listener):
        self.server = server
        self.listener = listener
        self.transport = None
        self.buf = b''
        self.cycle = None           # the request whose response is being produced (or waits for a slot)
        self.body = None            # the body decoder while that request's body is arriving
        self.body_read = 0
        self.discard = False        # the response is complete: drop the rest of the request body
        self.client = None
        self.last = 0.0
        self.head_since = 0.0       # when the first byte of a still incomplete request head arrived
        self.write_paused = False
        self.drainers = None
        self.paused = 0             # PAUSE_* reasons reading is paused for
        self.closing = False
        self.eof = False
        self.ws = None
        self.linger_until = 0.0

    # ── asyncio.BufferedProtocol ─────────────────────────────────────────────────────────────────
    # The transport reads into the worker's one read buffer and hands over the bytes at once (buffer_updated runs
    # right after the read): a plain Protocol gets a fresh 256 KiB bytes object per read, which glibc serves with
    # mmap, shrinks with mremap and frees with munmap, three system calls per read (measured with strace).
    def get_buffer(self, sizehint):
        return self.server.read_buffer

    def buffer_updated(self, nbytes):
        self.data_received(self.server.read_view[:nbytes].tobytes())

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(WRITE_HIGH)
        peer = transport.get_extra_info('peername')
        if type(peer) is tuple:
            self.client = (peer[0], peer[1])
        self.last = time.monotonic()
        self.server.conns.add(self)

    def connection_lost(self, exc):
        self.closing = True
        self.server.conns.discard(self)
        cycle = self.cycle
        if cycle is not None:
            cycle.on_disconnect()
        if self.ws is not None:
            self.ws.on_connection_lost()
        self._release_drainers()

    def eof_received(self):
        # A client's FIN means it left, as uvicorn and the WSGI side take it (an HTTP client does not half-close
        # and wait): asyncio closes the transport and the request in flight sees http.disconnect.
        self.eof = True
        return None

    def pause_writing(self):
        self.write_paused = True

    def resume_writing(self):
        self.write_paused = False
        self._release_drainers()

    def _release_drainers(self):
        waiters = self.drainers
        if waiters:
            self.drainers = None
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    async def drain(self):
        if self.closing:
            return
        w = self.server.loop.create_future()
        if self.drainers is None:
            self.drainers = [w]
        else:
            self.drainers.append(w)
        await w

    # ── reading ──────────────────────────────────────────────────────────────────────────────────
    def pause(self, reason):
        if not self.paused and not self.closing:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason):
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and not self.closing:
                self.transport.resume_reading()

    def pause_body(self):
        self.pause(PAUSE_BODY)

    def resume_body(self):
        self.resume(PAUSE_BODY)

    def feed(self, data):
        """Body bytes of the current request out of `data`; returns what follows the body, or None when the
        connection was closed over a bad or oversized body."""
        try:
            chunk, rest, done = self.body.feed(data)
        except HttpError as e:
            self.refuse_body(e.status, str(e))
            return None
        if done:
            self.body = None
        if self.discard:
            if done:
                self.discard = False
                if self.linger_until:
                    self.transport.close()
                    return None
            return rest
        self.body_read += len(chunk)
        limit = self.server.limit_post
        if limit and self.body_read > limit:
            self.refuse_body(413, 'request body over limit-post (%d bytes)' % limit)
            return None
        self.cycle.feed_body(chunk, done)
        return rest

    def refuse_body(self, status, reason):
        cycle = self.cycle
        log.log('ASGI request from %s refused: %s (%d)' % (self.client[0] if self.client else 'unix', reason, status))
        self.body = None
        if cycle is not None and not cycle.started:
            cycle.started = cycle.complete = True
            cycle.status = status
            self.transport.write(error_response(status))
            cycle.on_disconnect()
        elif cycle is not None:
            cycle.on_disconnect()
        self.cycle = None
        self.transport.close()

    def reject(self, status, reason):
        """Answer a request the app never sees (400, 413, 431…) and close."""
        log.log('ASGI request from %s rejected: %s (%d)' % (self.client[0] if self.client else 'unix', reason,
                                                            status))
        self.buf = b''
        self.transport.write(error_response(status))
        self.close_after_write(unread=True)

    # ── the end of a response ────────────────────────────────────────────────────────────────────
    def response_done(self, cycle):
        """The response of `cycle` is complete (its task may still run: background work after the response)."""
        if cycle is not self.cycle:
            return
        self.cycle = None
        if self.closing:
            return
        if not cycle.keep_alive or self.eof or self.server.stopping:
            self.close_after_write(unread=self.body is not None)
            return
        if self.body is not None:
            left = getattr(self.body, 'remaining', 0)
            if left > DISCARD_MAX:
                self.close_after_write(unread=True)
                return
            self.discard = True
            self.resume(PAUSE_BODY)
            return
        self.resume(PAUSE_BODY | PAUSE_PIPELINE)
        if self.buf:
            self.next_request()

    def close_after_write(self, unread=False):
        """Close once the response is written; with input left unread, half-close and drain it first (a close
        with unread input sends a reset, which can destroy the response before the client reads it)."""
        if self.closing:
            return
        self.closing = True
        if unread and self.transport.can_write_eof():
            self.discard = True
            self.linger_until = time.monotonic() + LINGER_S
            if self.paused:
                self.paused = 0
                self.transport.resume_reading()
            self.transport.write_eof()
            if self.body is None:
                self.body = _Sink()
        else:
            self.transport.close()

    def next_request(self):
        raise NotImplementedError

    # ── the sweep ────────────────────────────────────────────────────────────────────────────────
    def overdue(self, now, timeout, stopping):
        """Why this connection is closed now (a log reason, '' for a quiet close), or None to keep it."""
        if self.linger_until:
            return '' if now >= self.linger_until else None
        if self.ws is not None:
            return None
        cycle = self.cycle
        if cycle is None:
            if self.buf:
                if self.head_since and now - self.head_since > timeout:
                    return 'request head not complete within %g s' % timeout
                return None
            idle = now - self.last
            if idle > timeout or (stopping and idle >= RETIRE_IDLE_S):
                return ''
            return None
        if self.body is not None and not self.discard and now - self.last > timeout and cycle.waiter is not None:
            return 'request body stalled for %g s' % timeout
        return None


class _Sink:
    """The body of a lingering connection: everything is dropped until the client closes."""

    __slots__ = ()

    def feed(self, data):
        return b'', b'', False
