"""Non-blocking socket I/O on client connections, bounded by `socket-timeout`.

Every recv and send is non-blocking (MSG_DONTWAIT: the request cores keep the sockets accept() gives in blocking mode,
which spares an ioctl per connection; no poll() before every recv/send as Python's timeout sockets do); only when the
kernel says EAGAIN do we wait, at most TIMEOUT[0] seconds (set by the worker from `socket-timeout`), and raise
`socket.timeout` past it.
"""
import os
import select
import _socket

TIMEOUT = [4.0]
DONTWAIT = _socket.MSG_DONTWAIT


def _wait(sock, events):
    p = select.poll()
    p.register(sock.fileno(), events)
    if not p.poll(TIMEOUT[0] * 1000):
        raise _socket.timeout('timed out')


def recv_wait(sock, n):
    while True:
        try:
            return sock.recv(n, DONTWAIT)
        except BlockingIOError:
            _wait(sock, select.POLLIN)


def send_all(sock, data):
    try:
        n = sock.send(data, DONTWAIT)
    except BlockingIOError:
        n = 0
    if n == len(data):
        return
    view = memoryview(data)[n:]
    while view:
        _wait(sock, select.POLLOUT)
        try:
            n = sock.send(view, DONTWAIT)
        except BlockingIOError:
            continue
        view = view[n:]


def sendfile_all(sock, fd, offset, count):
    sent = 0
    out = sock.fileno()
    if sock.getblocking():
        sock.setblocking(False)     # sendfile() takes no MSG_DONTWAIT
    while sent < count:
        try:
            n = os.sendfile(out, fd, offset + sent, count - sent)
        except BlockingIOError:
            _wait(sock, select.POLLOUT)
            continue
        if n == 0:
            break
        sent += n
    return sent
