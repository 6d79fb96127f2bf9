import {ChunkedDecoder} from '../../src/router/chunked-decoder.js';
import {isHeadError, parseRequestHead, type RequestHead} from '../../src/router/request-head.js';
import {parseResponseHead} from '../../src/router/response-head.js';

const head = (...lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
function parsed(...lines: string[]): RequestHead {
  const result = parseRequestHead(head(...lines));
  if (isHeadError(result)) throw new Error(`refused: ${result.reason}`);
  return result;
}
function refused(...lines: string[]): number {
  const result = parseRequestHead(head(...lines));
  return isHeadError(result) ? result.status : 200;
}

describe('parseRequestHead', () => {
  it('reads method, target, Host, framing and keep-alive, forwarding end-to-end headers only', () => {
    const h = parsed('POST /up?x=1 HTTP/1.1', 'Host: Shop.test:8080', 'Content-Length: 5', 'Connection: keep-alive, X-Private', 'X-Private: p', 'Keep-Alive: 5', 'TE: trailers', 'Accept: */*', 'User-Agent: t/1');
    expect(h).toMatchObject({method: 'POST', target: '/up?x=1', minor: 1, host: 'Shop.test:8080', body: {kind: 'length', length: 5}, keepAlive: true, userAgent: 't/1'});
    expect(h.forwardLines).toBe('Accept: */*\r\nUser-Agent: t/1\r\n');
  });

  it('takes HTTP/1.0 keep-alive only when asked, and chunked bodies on HTTP/1.1', () => {
    expect(parsed('GET / HTTP/1.0').keepAlive).toBe(false);
    expect(parsed('GET / HTTP/1.0', 'Connection: Keep-Alive').keepAlive).toBe(true);
    expect(parsed('GET / HTTP/1.1', 'Host: a', 'Connection: close').keepAlive).toBe(false);
    expect(parsed('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: Chunked').body).toEqual({kind: 'chunked'});
  });

  it('routes an absolute-form target by its authority', () => {
    expect(parsed('GET http://shop.test/a?b HTTP/1.1', 'Host: other.test')).toMatchObject({host: 'shop.test', target: '/a?b'});
  });

  it('refuses ambiguous framing with 400 (issue 14: request smuggling through the router)', () => {
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Content-Length: 5')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Transfer-Encoding: chunked')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Content-Length: +5')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Content-Length: 0_5')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5, 5')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Content_Length: 5')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Transfer_Encoding: chunked')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked')).toBe(400);
    expect(refused('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip, chunked')).toBe(501);
    expect(refused('POST / HTTP/1.0', 'Transfer-Encoding: chunked')).toBe(400);
  });

  it('refuses obs-fold, CTL bytes, bare CR or LF, spaces before the colon and bad names with 400', () => {
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X-A: 1', ' folded')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X-A: 1\x00')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X-A: 1\x1b[0m')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X-A: 1\nX-B: 2')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X-A: 1\rX-B: 2')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X-A : 1')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'X(A): 1')).toBe(400);
    expect(refused('GET /a b HTTP/1.1', 'Host: a')).toBe(400);
    expect(refused('GET / HTTP/1.1', 'Host: a', 'Host: b')).toBe(400);
    expect(refused('GET / HTTP/1.1')).toBe(400);
    expect(refused('GET / HTTP/2.0', 'Host: a')).toBe(505);
    expect(refused('CONNECT a:443 HTTP/1.1', 'Host: a')).toBe(400);
  });

  it('drops other names with _ (nginx: underscores_in_headers off), so X_Forwarded_For cannot pose as X-Forwarded-For', () => {
    const h = parsed('GET / HTTP/1.1', 'Host: a', 'X_Forwarded_For: 6.6.6.6', 'X-Forwarded-For: 10.0.0.1');
    expect(h.forwardLines).toBe('');
    expect(h.forwardedFor).toBe('10.0.0.1');
  });
});

describe('ChunkedDecoder', () => {
  const decode = (text: string): {taken: number; done: boolean; error: string | undefined; data: number} => {
    const d = new ChunkedDecoder();
    const buf = Buffer.from(text, 'latin1');
    const taken = d.feed(buf, 0, buf.length);
    return {taken, done: d.done, error: d.error, data: d.dataBytes};
  };

  it('finds the end of a body, with extensions and trailers, and not past it', () => {
    expect(decode('5\r\nhello\r\n0\r\n\r\nGET')).toEqual({taken: 15, done: true, error: undefined, data: 5});
    expect(decode('a;name=v\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n')).toMatchObject({done: true, data: 10});
  });

  it('follows a body split anywhere', () => {
    const text = Buffer.from('4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n');
    for (let cut = 1; cut < text.length; cut += 1) {
      const d = new ChunkedDecoder();
      expect(d.feed(text, 0, cut)).toBe(cut);
      expect(d.feed(text, cut, text.length)).toBe(text.length - cut);
      expect(d.done).toBe(true);
    }
  });

  it('refuses sizes that are not 1*HEXDIG, bare LF, data longer than its size, and CTL in extensions', () => {
    for (const bad of ['0x5\r\nhello\r\n0\r\n\r\n', '+5\r\nhello\r\n', ' 5\r\nhello\r\n', '5 \r\nhello\r\n', '5\nhello\r\n', '5\r\nhelloX\r\n', '5;a\x00\r\n', '1234567890123\r\n', '\r\n']) {
      expect(decode(bad).taken).toBe(-1);
    }
  });
});

describe('parseResponseHead', () => {
  it('frames a response by length, chunked, or close, and says when the head must be rewritten', () => {
    const r = parseResponseHead(head('HTTP/1.1 200 OK', 'Content-Length: 5'), false);
    expect(r).toMatchObject({status: 200, framing: {kind: 'length', length: 5}, reusable: true, hasHopByHop: false});
    expect(parseResponseHead(head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'), false)).toMatchObject({framing: {kind: 'chunked'}});
    expect(parseResponseHead(head('HTTP/1.0 200 OK'), false)).toMatchObject({framing: {kind: 'close'}, reusable: false});
    expect(parseResponseHead(head('HTTP/1.1 304 Not Modified', 'Content-Length: 5'), false)).toMatchObject({framing: {kind: 'none'}});
    expect(parseResponseHead(head('HTTP/1.1 200 OK', 'Content-Length: 5'), true)).toMatchObject({framing: {kind: 'none'}});
    const hop = parseResponseHead(head('HTTP/1.1 200 OK', 'Connection: close, X-Hop', 'X-Hop: 1', 'Content-Length: 0'), false);
    expect(hop).toMatchObject({hasHopByHop: true, reusable: false, lines: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n'});
  });

  it('refuses a backend response framed two ways', () => {
    expect(typeof parseResponseHead(head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6'), false)).toBe('string');
    expect(typeof parseResponseHead(head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Transfer-Encoding: chunked'), false)).toBe('string');
    expect(typeof parseResponseHead(head('HTTP/1.1 200 OK', 'X-A: \x01'), false)).toBe('string');
    expect(typeof parseResponseHead(head('HTTP/1.1 2000 OK'), false)).toBe('string');
  });
});
