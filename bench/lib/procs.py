"""The processes a Python bench starts and the one request it probes them with (imported by bench/asgi.py and
bench/per-connection.py after `sys.path.insert(0, 'bench/lib')`).

Each server starts in a session of its own, so `stop` can end its whole group (workers included) by the group this
bench started, never by name; `STARTED` lists what is still running, for a bench's `finally`.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

STARTED = []


def start(argv, cwd=None, env=None, log=None):
    """Starts `argv` with its output appended to the file `log`, or kept in a temporary file (`log_tail` reads it)."""
    out = open(log, 'ab') if log is not None else tempfile.TemporaryFile()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    p.log = out
    STARTED.append(p)
    return p


def stop(p, grace=10, sig=signal.SIGTERM):
    """`sig` (uWSGI wants SIGINT: its SIGTERM reloads), up to `grace` seconds, then SIGKILL of the process group."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)     # the group this bench started (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass
    p.wait()                             # its log stays readable (log_tail) until the bench drops it
    if p in STARTED:
        STARTED.remove(p)


def stop_all(sig=signal.SIGTERM):
    for p in list(STARTED):
        stop(p, sig=sig)


def log_tail(p, n=400):
    """The last `n` characters of what `p` printed (its log file or temporary file)."""
    p.log.flush()
    with open(p.log.fileno(), 'rb', closefd=False) as f:
        f.seek(0)
        return f.read().decode(errors='replace')[-n:]


def http_get(port, path='/', timeout=1.0):
    """(status, raw answer) of one `GET path` on a fresh connection with `Connection: close`; (None, b'') when it
    fails."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
            s.sendall(b'GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' % path.encode())
            data = b''
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        return int(data[9:12]), data
    except (OSError, ValueError):
        return None, b''


def wait_200(port, timeout=60):
    """Whether `GET /` on `port` answered 200 within `timeout` seconds."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if http_get(port)[0] == 200:
            return True
        time.sleep(0.05)
    return False


def free_port():
    """A port on 127.0.0.1 free now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def answers_200(port, deadline, pause=0.05):
    """Whether `GET /` on `port` answered 200 before `deadline` (a time.time() value)."""
    while time.time() < deadline:
        if http_get(port, timeout=2)[0] == 200:
            return True
        time.sleep(pause)
    return False
