"""The uWSGI-compatible stats server (`stats`, `stats-http`, `stats-minified`).

Owns: the JSON document (uWSGI 2.0 keys, in uWSGI's order, so uwsgitop works) and serving
it: one document per connection, then close.
"""
import _socket as socket
import os

from . import minijson
from . import sockets as _sockets
from . import worker_states as states
from .version import VERSION
from .worker_proc import memory

HTTP_HEAD = (b'HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n'
             b'Content-Type: application/json\r\n\r\n')
LOCKS = [{'user 0': 0}, {'signal': 0}, {'filemon': 0}, {'timer': 0}, {'rbtimer': 0}, {'cron': 0}, {'rpc': 0},
         {'snmp': 0}]


class StatsServer:
    def __init__(self, addr, cfg):
        family, sa = _sockets.parse_address(addr)
        self.addr = addr
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.unix_path = None
        if family != socket.AF_UNIX:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif not sa.startswith('\0'):
            try:
                os.unlink(sa)
            except OSError:
                pass
            self.unix_path = sa
        self.sock.bind(sa)
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self.http = bool(cfg.get('stats-http'))
        self.minified = bool(cfg.get('stats-minified'))
        if family != socket.AF_UNIX:
            host, port = self.sock.getsockname()[:2]
            self.name = '%s:%d' % (host, port)
        else:
            self.name = addr
        from . import log
        log.log('*** Stats server enabled on %s fd: %d ***' % (self.name, self.fd))

    def serve(self, master):
        try:
            fd, _ = self.sock._accept()
            conn = socket.socket(self.sock.family, socket.SOCK_STREAM, 0, fd)
        except OSError:
            return
        try:
            conn.settimeout(1.0)
            if self.http:
                try:
                    conn.recv(4096)
                except OSError:
                    pass
            doc = document(master)
            if self.minified:
                data = minijson.dumps(doc)
            else:
                data = minijson.dumps(doc, indent='\t')
            data = data.encode()
            conn.sendall(HTTP_HEAD + data if self.http else data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass


def document(master):
    cfg = master.cfg
    socks = []
    lq = 0
    for l in master.listeners:
        q, mq = l.queue()
        lq += q
        socks.append({'name': l.name, 'proto': 'uwsgi' if l.proto == 'uwsgi' else 'http', 'queue': q,
                      'max_queue': mq, 'shared': 0, 'can_offload': 0})
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0
    workers = []
    mem = cfg.get('memory-report')
    for wid in range(1, cfg['processes'] + 1):
        workers.append(worker_doc(master, wid, mem))
    return {
        'version': 'kaiser-' + VERSION, 'listen_queue': lq, 'listen_queue_errors': 0, 'signal_queue': 0,
        'load': int(load), 'pid': os.getpid(), 'uid': os.getuid(), 'gid': os.getgid(), 'cwd': os.getcwd(),
        'locks': LOCKS, 'sockets': socks, 'workers': workers,
    }


def summary(master):
    """The figures the emperor exports as metrics, asked for with byte 3 (no timer: idle vassals stay idle)."""
    requests = inflight = busy = harakiri = workers = 0
    for wid in range(1, master.cfg['processes'] + 1):
        doc = worker_doc(master, wid, False)
        requests += doc['requests']
        harakiri += doc['harakiri_count']
        if doc['pid']:
            workers += 1
        n = sum(c['in_request'] for c in doc['cores'])
        inflight += n
        if n:
            busy += 1
    return {'event': 'stats', 'requests': requests, 'inflight': inflight, 'workers': workers,
            'busy': busy, 'harakiri': harakiri}


def worker_doc(master, wid, mem):
    pool = master.pool
    totals = pool.totals_of(wid)
    live = [w for w in pool.workers.values() if w.id == wid and w.state in states.COUNTED]
    primary = pool.slots.get(wid)
    requests = totals.requests
    exceptions = totals.exceptions
    tx = totals.tx
    running = totals.running
    delta = 0
    avg = 0
    accepting = 0
    for w in live:
        r, e, t, rt, a, acc = w.counters()
        requests += r
        exceptions += e
        tx += t
        running += rt
        if w is primary:
            delta = r
            avg = a
            accepting = acc
    cores = []
    busy = False
    threads = primary.gen.threads if primary else master.cfg['threads']
    for c in range(threads):
        start, creq, rerr, werr = primary.gen.sb.core(primary.slot, c) if primary else (0.0, 0, 0, 0)
        busy = busy or bool(start)
        cores.append({'id': c, 'requests': creq, 'static_requests': 0, 'routed_requests': 0,
                      'offloaded_requests': 0, 'write_errors': werr, 'read_errors': rerr,
                      'in_request': 1 if start else 0, 'vars': [],
                      'req_info': {'request_start': int(start)} if start else {}})
    rss = vsz = 0
    if mem and primary:
        rss, vsz = memory(primary.pid)
    pid = primary.pid if primary else 0
    return {
        'id': wid, 'pid': pid, 'accepting': accepting, 'requests': requests, 'delta_requests': delta,
        'exceptions': exceptions, 'harakiri_count': totals.harakiri, 'signals': 0, 'signal_queue': 0,
        'status': ('busy' if busy else 'idle') if pid else 'cheap', 'rss': rss, 'vsz': vsz,
        'running_time': running, 'last_spawn': int(totals.last_spawn), 'respawn_count': totals.respawns,
        'tx': tx, 'avg_rt': avg,
        'apps': [{'id': 0, 'modifier1': 0, 'mountpoint': '', 'startup_time': 0, 'requests': requests,
                  'exceptions': exceptions, 'chdir': master.cfg.get('chdir') or ''}] if pid else [],
        'cores': cores,
    }


