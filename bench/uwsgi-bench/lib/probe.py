#!/usr/bin/python3
"""Small measurement helpers for the emperor bench scripts (stdlib only).

Every subcommand talks only to 127.0.0.1 and prints plain `key value` lines
(or one JSON object for `gap`) so that bash can parse the result.

Subcommands
  freeports  --base B --count N            N free TCP ports >= B (one per line)
  wait200    --port P --timeout T          epoch time of the first HTTP 200
  get        --port P --timeout T          one request: status/error and timing
  waitdown   --port P --timeout T          epoch time when connect() is refused
  waitaccept --port P --timeout T          epoch time when connect() first succeeds
  waitgone   --port P --pids a,b --timeout T  times when port refuses / pids are gone
  waitall    --ports-file F --timeout T    epoch time when every port answered 200
  gap        --port P --duration D         sequential prober: failures + max gap
  watchkids  --pid P --duration D          log new/vanished direct children of P
  tree       --pid P                       P and all its descendants
  mem        --pid P                       RSS/PSS of P and of its whole tree
  cpu        --pid P --duration D          CPU use of P over D seconds
  vassaltop  --pid P --port N              the direct child of P whose process tree
                                           holds the listening socket on port N
                                           (kaiser bench addition, see cmd_vassaltop)
"""
import argparse
import errno
import json
import os
import queue
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
REQ = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: emperor-bench\r\n\r\n"


def http_get(port, timeout=1.0):
    """One request on a fresh connection. Returns (status:int|None, err:str|None)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((HOST, port))
        s.sendall(REQ)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > 1 << 20:
                break
        if not buf:
            return None, "empty"
        line = buf.split(b"\r\n", 1)[0].split()
        if len(line) >= 2 and line[1].isdigit():
            return int(line[1]), None
        return None, "badstatus"
    except ConnectionRefusedError:
        return None, "refused"
    except ConnectionResetError:
        return None, "reset"
    except socket.timeout:
        return None, "timeout"
    except OSError as e:
        return None, errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()


def can_connect(port, timeout=0.5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def cmd_freeports(a):
    used = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    used.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    out, p = [], a.base
    while len(out) < a.count and p < 65000:
        if p not in used:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, p))
                out.append(p)
            except OSError:
                pass
            finally:
                s.close()
        p += 1
    if len(out) < a.count:
        sys.exit("not enough free ports")
    print("\n".join(map(str, out)))


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            st = fh.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2:].split()[0] != "Z"


def cmd_waitgone(a):
    """Poll until the port refuses connections and all given pids are gone."""
    pids = [int(x) for x in a.pids.split(",") if x]
    deadline = time.time() + a.timeout
    t_port = t_procs = None
    while time.time() < deadline and (t_port is None or t_procs is None):
        now = time.time()
        if t_port is None and (a.port == 0 or not can_connect(a.port, 0.5)):
            t_port = now
        if t_procs is None and not any(pid_alive(p) for p in pids):
            t_procs = now
        time.sleep(a.interval)
    print("port_closed %s" % ("%.6f" % t_port if t_port else "timeout"))
    print("procs_gone %s" % ("%.6f" % t_procs if t_procs else "timeout"))
    if t_port is None or t_procs is None:
        sys.exit(1)


def cmd_get(a):
    """One request; prints status (or error kind) and how long it took."""
    t0 = time.time()
    st, err = http_get(a.port, a.timeout)
    t1 = time.time()
    print("result %s" % (st if st is not None else err))
    print("t_start %.6f" % t0)
    print("t_end %.6f" % t1)


def cmd_wait200(a):
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        st, _ = http_get(a.port, a.req_timeout)
        if st == 200:
            print("t %.6f" % time.time())
            return
        time.sleep(a.interval)
    print("t timeout")
    sys.exit(1)


def cmd_waitaccept(a):
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        if can_connect(a.port, 0.5):
            print("t %.6f" % time.time())
            return
        time.sleep(a.interval)
    print("t timeout")
    sys.exit(1)


def cmd_waitdown(a):
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        if not can_connect(a.port, 0.5):
            print("t %.6f" % time.time())
            return
        time.sleep(a.interval)
    print("t timeout")
    sys.exit(1)


def cmd_waitall(a):
    ports = [int(x) for x in open(a.ports_file).read().split()]
    q = queue.Queue()
    for p in ports:
        q.put(p)
    done = []
    lock = threading.Lock()
    deadline = time.time() + a.timeout
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                p = q.get(timeout=0.05)
            except queue.Empty:
                with lock:
                    if len(done) == len(ports):
                        return
                continue
            st, _ = http_get(p, a.req_timeout)
            if st == 200:
                with lock:
                    done.append((time.time(), p))
            else:
                time.sleep(a.interval)
                q.put(p)
            if time.time() > deadline:
                stop.set()

    th = [threading.Thread(target=worker, daemon=True) for _ in range(a.threads)]
    for t in th:
        t.start()
    for t in th:
        t.join(max(0.0, deadline - time.time()) + 2)
    stop.set()
    print("answered %d" % len(done))
    print("total %d" % len(ports))
    if len(done) == len(ports):
        print("t %.6f" % max(t for t, _ in done))
    else:
        print("t timeout")
        sys.exit(1)


def cmd_gap(a):
    """Sequential requests for `duration` s. Reports failures by kind and the
    longest stretch without a successful (200) completion."""
    end = time.time() + a.duration
    last_ok = None
    first_ok = None
    max_gap = 0.0
    gap_at = None
    ok = 0
    fails = {}
    samples = []
    while time.time() < end:
        t0 = time.time()
        st, err = http_get(a.port, a.req_timeout)
        t1 = time.time()
        if st == 200:
            ok += 1
            if last_ok is not None and t1 - last_ok > max_gap:
                max_gap = t1 - last_ok
                gap_at = last_ok
            if first_ok is None:
                first_ok = t1
            last_ok = t1
        else:
            k = err or ("http_%s" % st)
            fails[k] = fails.get(k, 0) + 1
            samples.append((round(t0, 4), k))
            if a.interval_on_fail:
                time.sleep(a.interval_on_fail)
        if a.interval:
            time.sleep(a.interval)
    print(json.dumps({
        "ok": ok,
        "failed": sum(fails.values()),
        "fail_kinds": fails,
        "max_gap_ms": round(max_gap * 1000, 1),
        "gap_started_at": gap_at,
        "first_fail_samples": samples[:5],
    }))


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                st = fh.read()
        except OSError:
            continue
        rest = st[st.rfind(")") + 2:].split()
        if int(rest[1]) == pid and rest[0] != "Z":
            kids.append(int(d))
    return kids


def tree_of(pid):
    ppid_map = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                st = fh.read()
        except OSError:
            continue
        rest = st[st.rfind(")") + 2:].split()
        if rest[0] == "Z":
            continue
        ppid_map.setdefault(int(rest[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(ppid_map.get(p, []))
    return out


def cmd_watchkids(a):
    end = time.time() + a.duration
    known = {}
    while time.time() < end:
        now = time.time()
        kids = set(children_of(a.pid))
        for k in kids - set(known):
            known[k] = now
            print("spawn %.4f %d" % (now, k), flush=True)
        for k in set(known) - kids:
            print("exit %.4f %d" % (now, k), flush=True)
            del known[k]
        time.sleep(a.interval)


def cmd_tree(a):
    print(" ".join(map(str, tree_of(a.pid))))


def read_kb(path, key):
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmd_mem(a):
    pids = tree_of(a.pid)
    rss = sum(read_kb("/proc/%d/status" % p, "VmRSS:") for p in pids)
    pss = sum(read_kb("/proc/%d/smaps_rollup" % p, "Pss:") for p in pids)
    print("procs %d" % len(pids))
    print("tree_rss_kb %d" % rss)
    print("tree_pss_kb %d" % pss)
    print("root_rss_kb %d" % read_kb("/proc/%d/status" % a.pid, "VmRSS:"))
    print("root_pss_kb %d" % read_kb("/proc/%d/smaps_rollup" % a.pid, "Pss:"))


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as fh:
        st = fh.read()
    rest = st[st.rfind(")") + 2:].split()
    # fields 14,15 (utime, stime) -> index 11,12 after the state field
    return int(rest[11]) + int(rest[12])


def tree_ticks(pids):
    out = {}
    for p in pids:
        try:
            out[p] = cpu_ticks(p)
        except (OSError, IndexError):
            pass
    return out


def cmd_cpu(a):
    """CPU use of PID (and of its whole tree: processes present at start and end)."""
    hz = os.sysconf("SC_CLK_TCK")
    pids = tree_of(a.pid)
    t0, c0, tc0 = time.time(), cpu_ticks(a.pid), tree_ticks(pids)
    time.sleep(a.duration)
    t1, c1, tc1 = time.time(), cpu_ticks(a.pid), tree_ticks(pids)
    wall = t1 - t0
    secs = (c1 - c0) / hz
    tsecs = sum(tc1[p] - tc0[p] for p in tc1 if p in tc0) / hz
    print("cpu_seconds %.3f" % secs)
    print("wall_seconds %.3f" % wall)
    print("cpu_percent %.4f" % (100.0 * secs / wall))
    print("tree_procs %d" % len(tc1))
    print("tree_cpu_seconds %.3f" % tsecs)
    print("tree_cpu_percent %.4f" % (100.0 * tsecs / wall))


def listen_inodes(port):
    out = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            x = ln.split()
            if x[3] == "0A" and int(x[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                out.add(x[9])
    return out


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as fh:
        st = fh.read()
    return int(st[st.rfind(")") + 2:].split()[1])


def cmd_vassaltop(a):
    """Added for kaiser (not in the shared original): the vassal's top process is the
    Emperor's direct child whose tree holds the listening socket of PORT.  The original
    scripts took the first direct child, but kaiser's emperor has a helper child of its
    own (a /bin/sh process-group reaper), which is not a vassal."""
    inodes = listen_inodes(a.port)
    for p in sorted(tree_of(a.pid)):
        if p == a.pid:
            continue
        try:
            fds = os.listdir("/proc/%d/fd" % p)
        except OSError:
            continue
        for fd in fds:
            try:
                ln = os.readlink("/proc/%d/fd/%s" % (p, fd))
            except OSError:
                continue
            if ln.startswith("socket:[") and ln[8:-1] in inodes:
                q = p
                try:
                    while parent_of(q) != a.pid:
                        q = parent_of(q)
                        if q <= 1:
                            raise OSError
                except OSError:
                    break
                print(q)
                return
    sys.exit("no process under %d listens on port %d" % (a.pid, a.port))


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    p = sp.add_parser("freeports"); p.add_argument("--base", type=int, default=20001); p.add_argument("--count", type=int, default=1)
    p = sp.add_parser("wait200"); p.add_argument("--port", type=int, required=True); p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--interval", type=float, default=0.005); p.add_argument("--req-timeout", type=float, default=2.0)
    p = sp.add_parser("waitdown"); p.add_argument("--port", type=int, required=True); p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--interval", type=float, default=0.005)
    p = sp.add_parser("waitaccept"); p.add_argument("--port", type=int, required=True); p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--interval", type=float, default=0.005)
    p = sp.add_parser("waitgone"); p.add_argument("--port", type=int, required=True); p.add_argument("--pids", required=True)
    p.add_argument("--timeout", type=float, default=60); p.add_argument("--interval", type=float, default=0.005)
    p = sp.add_parser("get"); p.add_argument("--port", type=int, required=True); p.add_argument("--timeout", type=float, default=5)
    p = sp.add_parser("waitall"); p.add_argument("--ports-file", required=True); p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--threads", type=int, default=8); p.add_argument("--interval", type=float, default=0.05); p.add_argument("--req-timeout", type=float, default=2.0)
    p = sp.add_parser("gap"); p.add_argument("--port", type=int, required=True); p.add_argument("--duration", type=float, default=10)
    p.add_argument("--interval", type=float, default=0.0); p.add_argument("--interval-on-fail", type=float, default=0.002)
    p.add_argument("--req-timeout", type=float, default=5.0)
    p = sp.add_parser("watchkids"); p.add_argument("--pid", type=int, required=True); p.add_argument("--duration", type=float, default=60)
    p.add_argument("--interval", type=float, default=0.002)
    p = sp.add_parser("tree"); p.add_argument("--pid", type=int, required=True)
    p = sp.add_parser("mem"); p.add_argument("--pid", type=int, required=True)
    p = sp.add_parser("cpu"); p.add_argument("--pid", type=int, required=True); p.add_argument("--duration", type=float, default=30)
    p = sp.add_parser("vassaltop"); p.add_argument("--pid", type=int, required=True); p.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
