"""subscriber: uWSGI's subscribe-to / subscribe2 syntax, the subscription packets, and sending over UDP."""
import os
import socket
import struct
import tempfile
import unittest

import support  # noqa: F401
from _kaiser import subscriber


class FakeListener:
    def __init__(self, proto, name):
        self.proto = proto
        self.name = name


def decode(packet):
    modifier1, size, modifier2 = struct.unpack('<BHB', packet[:4])
    pairs, pos = [], 4
    while pos < 4 + size:
        (kl,) = struct.unpack('<H', packet[pos:pos + 2])
        key = packet[pos + 2:pos + 2 + kl].decode()
        pos += 2 + kl
        (vl,) = struct.unpack('<H', packet[pos:pos + 2])
        pairs.append((key, packet[pos + 2:pos + 2 + vl].decode()))
        pos += 2 + vl
    return modifier1, modifier2, pairs


class ParseTest(unittest.TestCase):
    def test_subscribe_to_takes_server_key_and_modifier1(self):
        self.assertEqual(subscriber.parse_subscribe_to('127.0.0.1:2626:app.test'),
                         [{'server': ('127.0.0.1', 2626), 'key': 'app.test', 'modifier1': None}])
        self.assertEqual(subscriber.parse_subscribe_to('127.0.0.1:2626:app.test:8000,5'),
                         [{'server': ('127.0.0.1', 2626), 'key': 'app.test:8000', 'modifier1': 5}])
        self.assertEqual(subscriber.parse_subscribe_to('[::1]:2626:v6.test')[0]['server'], ('::1', 2626))

    def test_subscribe_to_reads_keys_from_a_file(self):
        with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
            f.write('a.test\n\n# comment\nb.test\n')
        self.addCleanup(os.unlink, f.name)
        keys = [e['key'] for e in subscriber.parse_subscribe_to('127.0.0.1:2626:@' + f.name)]
        self.assertEqual(keys, ['a.test', 'b.test'])

    def test_subscribe2_takes_key_value_pairs(self):
        e = subscriber.parse_subscribe2('server=127.0.0.1:2626,key=app.test,addr=127.0.0.1:3031,weight=3,proto=http')
        self.assertEqual(e, {'server': ('127.0.0.1', 2626), 'key': 'app.test', 'modifier1': None,
                             'addr': '127.0.0.1:3031', 'weight': 3, 'proto': 'http'})

    def test_bad_values_name_what_is_wrong(self):
        for bad, word in (('app.test', 'SERVER:PORT:KEY'), ('127.0.0.1:x:app', 'port'), ('127.0.0.1:2626:', 'no key'),
                          ('127.0.0.1:2626:a,999', 'modifier1'), ('127.0.0.1:2626:@/nonexistent/keys', 'cannot read')):
            with self.assertRaises(subscriber.SubscriptionError) as caught:
                subscriber.parse_subscribe_to(bad)
            self.assertIn(word, str(caught.exception))
        with self.assertRaises(subscriber.SubscriptionError):
            subscriber.parse_subscribe2('key=app.test')
        with self.assertRaises(subscriber.SubscriptionError):
            subscriber.parse_subscribe2('server=127.0.0.1:1,key=a,weight=heavy')


class PacketTest(unittest.TestCase):
    def test_announces_the_first_uwsgi_socket_as_uwsgi_does(self):
        s = subscriber.Subscriber(subscriber.parse_subscribe_to('127.0.0.1:2626:app.test'),
                                  [FakeListener('http', '127.0.0.1:8001'), FakeListener('uwsgi', '127.0.0.1:3031')], cores=2)
        [(server, packet)] = s.packets(subscriber.SUBSCRIBE)
        self.assertEqual(server, ('127.0.0.1', 2626))
        self.assertEqual(decode(packet), (224, 0, [('key', 'app.test'), ('address', '127.0.0.1:3031'), ('modifier1', '0'),
                                                   ('modifier2', '0'), ('cores', '2'), ('load', '0'), ('weight', '1')]))

    def test_an_http_socket_is_announced_with_proto_http_and_unsubscribe_is_modifier2_1(self):
        s = subscriber.Subscriber(subscriber.parse_subscribe_to('127.0.0.1:2626:app.test'),
                                  [FakeListener('http', '127.0.0.1:8001')], cores=1)
        modifier1, modifier2, pairs = decode(s.packets(subscriber.UNSUBSCRIBE)[0][1])
        self.assertEqual((modifier1, modifier2), (224, 1))
        self.assertIn(('proto', 'http'), pairs)
        self.assertIn(('address', '127.0.0.1:8001'), pairs)


class SendTest(unittest.TestCase):
    def test_sends_when_due_every_freq_seconds_and_unsubscribes_once_on_stop(self):
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(server.close)
        server.bind(('127.0.0.1', 0))
        server.settimeout(5)
        port = server.getsockname()[1]
        s = subscriber.Subscriber(subscriber.parse_subscribe_to('127.0.0.1:%d:app.test' % port),
                                  [FakeListener('uwsgi', '127.0.0.1:3031')], cores=1, freq=10)
        self.assertEqual(s.tick(100.0), 110.0)
        self.assertEqual(decode(server.recv(65536))[1], 0)
        self.assertEqual(s.tick(105.0), 110.0)   # not due: nothing sent
        s.stop()
        self.assertEqual(decode(server.recv(65536))[1], 1)
        s.stop()                                  # idempotent: nothing more
        server.settimeout(0.2)
        with self.assertRaises(socket.timeout):
            server.recv(65536)


if __name__ == '__main__':
    unittest.main()
