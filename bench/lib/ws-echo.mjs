// node bench/lib/ws-echo.mjs PORT PATH CONNECTIONS SECONDS [BYTES]
// Websocket echo round trips per second: CONNECTIONS clients, each sending one masked text message of BYTES
// bytes and waiting for its echo before the next, for SECONDS. Prints one JSON line:
// {"connections", "seconds", "round_trips", "per_second", "errors"}.
import {createHash, randomBytes} from 'node:crypto';
import {connect} from 'node:net';

const [port, path, conns, seconds, bytes] = [Number(process.argv[2]), process.argv[3] ?? '/ws', Number(process.argv[4] ?? 64),
  Number(process.argv[5] ?? 10), Number(process.argv[6] ?? 32)];
const text = Buffer.alloc(bytes, 'e');
let roundTrips = 0;
let errors = 0;
let measuring = false;
let done = false;

function frame(payload) {
  const mask = randomBytes(4);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : Buffer.from([0x81, 0xfe, n >> 8, n & 255]);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, out]);
}

function client() {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let open = false;
    s.on('error', () => {
      errors += 1;
      resolve();
    });
    s.on('close', resolve);
    s.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (!head.startsWith('HTTP/1.1 101') || !head.includes(accept)) {
          errors += 1;
          s.destroy();
          return;
        }
        open = true;
        buf = buf.subarray(end + 4);
        s.write(frame(text));
      }
      for (;;) {
        if (buf.length < 2) return;
        let n = buf[1] & 0x7f;
        let pos = 2;
        if (n === 126) {
          if (buf.length < 4) return;
          n = buf.readUInt16BE(2);
          pos = 4;
        }
        if (buf.length < pos + n) return;
        buf = buf.subarray(pos + n);
        if (measuring) roundTrips += 1;
        if (done) {
          s.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
          return;
        }
        s.write(frame(text));
      }
    });
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

const all = Array.from({length: conns}, client);
setTimeout(() => {           // one second of warm-up, then count
  measuring = true;
  setTimeout(() => {
    measuring = false;
    done = true;
    console.log(JSON.stringify({connections: conns, seconds, round_trips: roundTrips, per_second: Math.round(roundTrips / seconds), errors}));
    setTimeout(() => process.exit(0), 500);
  }, seconds * 1000);
}, 1000);
await Promise.all(all);
