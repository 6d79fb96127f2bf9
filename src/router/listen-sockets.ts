/**
 * The router's listening sockets, owned by the emperor: one per router process and address, bound with
 * SO_REUSEPORT so the kernel spreads connections evenly over the processes (nginx's `reuseport`), where a shared
 * socket would let whichever process wakes first take most of them. Because the emperor keeps a copy of each, a
 * router process that dies leaves its socket open: connections queue in its backlog until the replacement accepts
 * them, instead of being refused or reset.
 *
 * Node 20 cannot set SO_REUSEPORT, and libuv accepts as soon as a Node socket listens. So a short-lived python3
 * helper binds and listens, and sends each socket back over Node's IPC channel as a raw handle (Node's own
 * `NODE_HANDLE` message with the descriptor attached, type `net.Native`): the emperor holds it without accepting,
 * and passes it on to a router process with `child.send(message, handle)`. Unix socket addresses get one socket,
 * shared by every process.
 */
import {spawn} from 'node:child_process';
import {err, ok, type Result} from '../result.js';

/** A bound, listening socket the emperor holds (a libuv TCP or Pipe handle). */
export interface HeldSocket {
  /** The address as bound, with the real port: `127.0.0.1:41234`, `[::1]:8080`, `/run/kaiser-http.sock`. */
  readonly address: string;
  readonly handle: object & {close(callback?: () => void): void};
}

const HELPER = String.raw`
import json, os, socket, stat, sys
chan = socket.socket(fileno=int(os.environ['NODE_CHANNEL_FD']))
def say(obj, fd=None):
    line = (json.dumps(obj) + '\n').encode()
    if fd is None:
        chan.sendall(line)
        return
    socket.send_fds(chan, [line], [fd])
    got = b''
    while b'\n' not in got:   # one handle per message: wait for Node's ACK before the next
        more = chan.recv(4096)
        if not more:
            sys.exit(1)
        got += more
def parse(address):
    if address.startswith('@'):
        return socket.AF_UNIX, '\0' + address[1:]
    if address.startswith('/') or ':' not in address:
        return socket.AF_UNIX, address
    host, _, port = address.rpartition(':')
    if host.startswith('['):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, ('0.0.0.0' if host in ('', '*') else host, int(port))
def shown(family, name):
    if family == socket.AF_UNIX:
        return name if isinstance(name, str) and not name.startswith('\0') else '@' + name[1:]
    if family == socket.AF_INET6:
        return '[%s]:%d' % (name[0], name[1])
    return '%s:%d' % (name[0], name[1])
held = []
try:
    for spec in json.loads(sys.argv[1]):
        family, addr = parse(spec['address'])
        count = 1 if family == socket.AF_UNIX else spec['count']
        for i in range(count):
            s = socket.socket(family, socket.SOCK_STREAM)
            if family == socket.AF_UNIX:
                if isinstance(addr, str) and not addr.startswith('\0') and os.path.exists(addr) and stat.S_ISSOCK(os.stat(addr).st_mode):
                    os.unlink(addr)
            else:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind(addr)
            except OSError as e:
                say({'act': 'error', 'address': spec['address'], 'error': '%s (%s)' % (os.strerror(e.errno), e.errno)})
                sys.exit(0)
            if family != socket.AF_UNIX:
                addr = s.getsockname()[:2]   # port 0: every further socket takes the port the first one got
            s.listen(spec['backlog'])
            held.append((spec['address'], shown(family, s.getsockname()), s))
    for i, (asked, bound, s) in enumerate(held):
        say({'cmd': 'NODE_HANDLE', 'type': 'net.Native', 'msg': {'act': 'socket', 'asked': asked, 'address': bound}}, s.fileno())
    say({'act': 'done'})
except Exception as e:
    say({'act': 'error', 'address': '', 'error': repr(e)})
`;

/** What to bind: an address, and how many sockets (one per router process). */
export interface SocketRequest {
  readonly address: string;
  readonly count: number;
}

/**
 * Binds every requested address `count` times (SO_REUSEPORT); resolves with the sockets per requested address,
 * or an error naming the address that could not be bound.
 */
export function bindListenSockets(python: string, requests: readonly SocketRequest[], backlog = 1024): Promise<Result<Map<string, HeldSocket[]>, string>> {
  return new Promise((resolve) => {
    const spec = JSON.stringify(requests.map((r) => ({address: r.address, count: r.count, backlog})));
    const helper = spawn(python, ['-c', HELPER, spec], {stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json'});
    const sockets = new Map<string, HeldSocket[]>();
    let stderr = '';
    let settled = false;
    const finish = (result: Result<Map<string, HeldSocket[]>, string>) => {
      if (settled) return;
      settled = true;
      if (!result.ok) for (const list of sockets.values()) for (const s of list) s.handle.close();
      resolve(result);
    };
    helper.stderr?.setEncoding('utf8');
    helper.stderr?.on('data', (text: string) => (stderr += text));
    helper.on('message', (message: {act?: string; asked?: string; address?: string; error?: string}, handle?: HeldSocket['handle']) => {
      if (message.act === 'socket' && handle !== undefined && message.asked !== undefined) {
        const list = sockets.get(message.asked) ?? [];
        list.push({address: message.address ?? message.asked, handle});
        sockets.set(message.asked, list);
      } else if (message.act === 'done') {
        finish(ok(sockets));
      } else if (message.act === 'error') {
        finish(err(message.address ? `cannot bind ${message.address}: ${message.error ?? 'unknown error'}` : `cannot bind the router's sockets: ${message.error ?? ''}`));
      }
    });
    helper.on('error', (error) => finish(err(`cannot run ${python} to bind the router's sockets: ${error.message}`)));
    helper.on('close', (code) => finish(err(`the socket helper (${python}) exited with ${code ?? 'a signal'} before binding: ${stderr.trim().slice(-300)}`)));
  });
}
