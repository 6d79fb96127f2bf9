"""uWSGI's subscription client: `subscribe-to` and `subscribe2` announce this instance to subscription servers.

Owns: parsing the two options (uWSGI's syntax), building the uwsgi packets (modifier1 224; modifier2 0 to
subscribe, 1 to unsubscribe; vars key, address, modifier1, modifier2, cores, load, weight, plus proto for HTTP
sockets), sending them over UDP every `subscribe-freq` seconds (10, as uWSGI), and the unsubscribe on a stop.

  subscribe-to = 127.0.0.1:2626:app.example.test            server:key (the key may carry :port)
  subscribe-to = 127.0.0.1:2626:app.example.test,5          ... with modifier1 5
  subscribe-to = 127.0.0.1:2626:@/etc/app/domains.txt       one key per line of the file
  subscribe2   = server=127.0.0.1:2626,key=app.example.test,addr=127.0.0.1:3031,weight=2,proto=http

The announced address is the instance's first socket: a uwsgi `socket` as uWSGI does, else its `http-socket` with
`proto = http` so that the router speaks HTTP to it. Sending never blocks or raises: a subscription server that is
down loses a datagram, and the next period tries again.
"""
import _socket as socket     # the C module: the stdlib `socket` adds enum, selectors… to the master
import struct

from _kaiser import log

MODIFIER1_SUBSCRIPTION = 224
SUBSCRIBE, UNSUBSCRIBE = 0, 1


class SubscriptionError(ValueError):
    pass


def _split_server(text):
    """'127.0.0.1:2626:rest' or '[::1]:2626:rest' -> (('127.0.0.1', 2626), 'rest')."""
    if text.startswith('['):
        close = text.find(']')
        if close == -1 or text[close + 1:close + 2] != ':':
            raise SubscriptionError('bad server address in %r' % text)
        host, rest = text[1:close], text[close + 2:]
    else:
        host, sep, rest = text.partition(':')
        if not sep:
            raise SubscriptionError('expected SERVER:PORT:KEY, got %r' % text)
    port, sep, rest = rest.partition(':')
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SubscriptionError('bad server port in %r' % text)
    return (host or '127.0.0.1', int(port)), rest


def parse_subscribe_to(value):
    """One subscribe-to value -> [dict(server, key, modifier1)]; a key '@FILE' is one key per line of FILE."""
    (server, rest) = _split_server(value)
    key, _, extra = rest.partition(',')
    if not key:
        raise SubscriptionError('no key in subscribe-to %r' % value)
    modifier1 = None
    if extra:
        first = extra.split(',')[0]
        if first:
            if not first.isdigit() or int(first) > 255:
                raise SubscriptionError('bad modifier1 %r in subscribe-to %r' % (first, value))
            modifier1 = int(first)
    keys = [key]
    if key.startswith('@'):
        try:
            with open(key[1:]) as f:
                keys = [line.strip() for line in f if line.strip() and not line.strip().startswith('#')]
        except OSError as e:
            raise SubscriptionError('subscribe-to %r: cannot read %s: %s' % (value, key[1:], e.strerror))
    return [{'server': server, 'key': k, 'modifier1': modifier1} for k in keys]


def parse_subscribe2(value):
    """One subscribe2 value (key=value pairs separated by commas) -> dict."""
    fields = {}
    for part in value.split(','):
        name, sep, v = part.partition('=')
        if not sep:
            raise SubscriptionError('subscribe2 %r: %r is not key=value' % (value, part))
        fields[name.strip()] = v.strip()
    if 'server' not in fields or 'key' not in fields:
        raise SubscriptionError('subscribe2 %r needs server= and key=' % value)
    (server, rest) = _split_server(fields['server'] + ':')
    if rest:
        raise SubscriptionError('subscribe2 %r: bad server' % value)
    out = {'server': server, 'key': fields['key'], 'modifier1': None}
    for name in ('modifier1', 'modifier2', 'weight'):
        if name in fields:
            if not fields[name].isdigit():
                raise SubscriptionError('subscribe2 %r: %s must be a number' % (value, name))
            out[name] = int(fields[name])
    for name in ('addr', 'proto'):
        if name in fields:
            out[name] = fields[name]
    return out


def encode(command, pairs):
    """A uwsgi packet: u8 modifier1, u16le size, u8 modifier2, then u16le-prefixed key/value pairs."""
    body = b''.join(struct.pack('<H', len(k)) + k + struct.pack('<H', len(v)) + v
                    for k, v in ((k.encode('latin-1'), str(v).encode('latin-1')) for k, v in pairs))
    if len(body) > 0xffff:
        raise SubscriptionError('subscription packet too large')
    return struct.pack('<BHB', MODIFIER1_SUBSCRIPTION, len(body), command) + body


def _first_socket(listeners):
    """(address, proto) of the socket to announce: the first uwsgi socket, else the first HTTP one."""
    for proto in ('uwsgi', 'http'):
        for l in listeners:
            if l.proto == proto:
                return l.name, proto
    return None, None


class Subscriber:
    """Sends this instance's subscriptions every `freq` seconds; `stop()` unsubscribes."""

    def __init__(self, entries, listeners, cores, freq=10, weight=1):
        self.entries = entries
        self.address, self.proto = _first_socket(listeners)
        self.cores = cores
        self.freq = freq
        self.weight = weight
        self.next_at = 0.0
        self.socks = {}

    @classmethod
    def from_config(cls, cfg, listeners):
        """A Subscriber for the config's subscribe-to/subscribe2 values, or None without any. Raises
        SubscriptionError naming the bad value."""
        entries = []
        for value in cfg.get('subscribe-to') or []:
            entries += parse_subscribe_to(str(value))
        for value in cfg.get('subscribe2') or []:
            entries.append(parse_subscribe2(str(value)))
        if not entries:
            return None
        cores = int(cfg.get('processes') or 1) * int(cfg.get('threads') or 1)
        return cls(entries, listeners, cores, freq=float(cfg.get('subscribe-freq') or 10),
                   weight=int(cfg.get('weight') or 1))

    def packets(self, command):
        """[(server, bytes)] for every entry."""
        out = []
        for e in self.entries:
            address = e.get('addr') or self.address
            if not address:
                continue
            proto = e.get('proto') or (self.proto if 'addr' not in e else None)
            pairs = [('key', e['key']), ('address', address),
                     ('modifier1', e['modifier1'] if e.get('modifier1') is not None else 0),
                     ('modifier2', e.get('modifier2', 0)), ('cores', self.cores), ('load', 0),
                     ('weight', e.get('weight', self.weight))]
            if proto == 'http':
                pairs.append(('proto', 'http'))
            out.append((e['server'], encode(command, pairs)))
        return out

    def _send(self, command):
        for server, packet in self.packets(command):
            family = socket.AF_INET6 if ':' in server[0] else socket.AF_INET
            try:
                sock = self.socks.get(family)
                if sock is None:
                    sock = self.socks[family] = socket.socket(family, socket.SOCK_DGRAM)
                    sock.setblocking(False)
                sock.sendto(packet, server)
            except OSError:
                pass  # a lost datagram: the next period announces again

    def tick(self, now):
        """Announces when due; returns the next time it is due."""
        if now >= self.next_at:
            if self.next_at == 0.0:
                for e in self.entries:
                    log.log('subscribing to %s:%d:%s' % (e['server'][0], e['server'][1], e['key']))
            self._send(SUBSCRIBE)
            self.next_at = now + self.freq
        return self.next_at

    def stop(self):
        """Unsubscribes (once) and closes the UDP sockets."""
        if self.entries:
            for e in self.entries:
                log.log('unsubscribing from %s:%d:%s' % (e['server'][0], e['server'][1], e['key']))
            self._send(UNSUBSCRIBE)
            self.entries = []
        for sock in self.socks.values():
            sock.close()
        self.socks = {}
