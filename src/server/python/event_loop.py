"""The master's event loop: one epoll over every fd the master reads (signal self-pipe, worker status pipes, the
emperor pipe, master FIFOs, the stats socket), a handler per fd, and a tick after every wake-up for the timed
duties (harakiri, mercy deadlines, respawns, touch files, heartbeats); the master says how long it may sleep.
"""
import select


class Loop:
    def __init__(self):
        self.ep = select.epoll()
        self.handlers = {}

    def add(self, fd, handler):
        self.handlers[fd] = handler
        self.ep.register(fd, select.EPOLLIN)

    def remove(self, fd):
        if self.handlers.pop(fd, None) is not None:
            try:
                self.ep.unregister(fd)
            except (OSError, ValueError):
                pass

    def fileno(self):
        return self.ep.fileno()

    def run(self, timeout, tick):
        """Forever: wait at most `timeout()` seconds (-1: no limit), run the ready fds' handlers, then `tick()`."""
        ep = self.ep
        handlers = self.handlers
        while True:
            try:
                events = ep.poll(timeout())
            except InterruptedError:
                continue
            for fd, _ev in events:
                handler = handlers.get(fd)
                if handler is not None:
                    handler()
            tick()
