import {createHash} from 'node:crypto';
import {request, type IncomingMessage} from 'node:http';
import {connect} from 'node:net';
import {closeRig, cleanups, deadPort, fetchVia, hello, keepAliveAgent, startRouter, startUpstream} from './rig.js';

afterEach(closeRig);

describe('HttpFront', () => {
  it('routes each request by Host to its vassal, passing Host through and adding X-Forwarded-*', async () => {
    const a = await startUpstream(hello('a'));
    const b = await startUpstream(hello('b'));
    const {port} = await startRouter([
      {vassal: 'a.ini', domains: ['app1.example.test'], upstream: {host: '127.0.0.1', port: a.port}},
      {vassal: 'b.ini', domains: ['*.b.example.test'], upstream: {host: '127.0.0.1', port: b.port}},
    ]);
    expect((await fetchVia(port, 'App1.Example.test:8080')).body).toBe('hello from a');
    const reply = await fetchVia(port, 'shop.b.example.test');
    expect(reply.body).toBe('hello from b');
    expect(reply.headers['x-vassal']).toBe('b');
    expect(a.seen[0]?.host).toBe('App1.Example.test:8080');
    expect(b.seen[0]).toMatchObject({host: 'shop.b.example.test', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'shop.b.example.test'});
  });

  it('removes hop-by-hop headers, including those named by Connection', async () => {
    const a = await startUpstream((_req, res) => {
      res.writeHead(200, {'x-secret-hop': '1', connection: 'x-secret-hop', 'keep-alive': 'timeout=5'});
      res.end('ok');
    });
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const reply = await fetchVia(port, 'a.test', {headers: {connection: 'x-private', 'x-private': 'p', te: 'trailers'}});
    expect(a.seen[0]?.['x-private']).toBeUndefined();
    expect(a.seen[0]?.te).toBeUndefined();
    expect(reply.headers['x-secret-hop']).toBeUndefined();
  });

  it('answers 404 naming the host when no vassal serves it, and keeps the client connection', async () => {
    const {port} = await startRouter([]);
    const agent = keepAliveAgent();
    let sockets = 0;
    agent.on('free', () => (sockets = Object.values(agent.freeSockets).flat().length));
    const first = await fetchVia(port, 'nope.example.test', {agent});
    expect(first).toMatchObject({status: 404, body: 'no vassal serves nope.example.test\n'});
    await fetchVia(port, 'nope.example.test', {agent});
    expect(sockets).toBe(1);
  });

  it('answers 502 with a page naming the vassal, and logs, when a ready vassal refuses connections', async () => {
    const port0 = await deadPort();
    const {port, lines} = await startRouter([{vassal: 'down.ini', domains: ['down.test'], upstream: {host: '127.0.0.1', port: port0}}]);
    const reply = await fetchVia(port, 'down.test');
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toMatch(/text\/html/);
    expect(reply.body).toContain('<b>down.ini</b> is ready: connection refused');
    expect(lines).toContainEqual(expect.objectContaining({level: 'warn', vassal: 'down.ini', status: 502, cause: 'connection refused'}));
  });

  it('answers 503 while the vassal is starting, and at once while it backs off', async () => {
    const port0 = await deadPort();
    const {port, setRoutes} = await startRouter([{vassal: 'slow.ini', domains: ['slow.test'], upstream: {host: '127.0.0.1', port: port0}, state: 'starting'}]);
    const starting = await fetchVia(port, 'slow.test');
    expect(starting.status).toBe(503);
    expect(starting.headers['retry-after']).toBe('1');
    expect(starting.body).toContain('<b>slow.ini</b> is starting');
    setRoutes([{vassal: 'slow.ini', domains: ['slow.test'], upstream: {host: '127.0.0.1', port: port0}, state: 'backoff'}]);
    const backoff = await fetchVia(port, 'slow.test');
    expect(backoff.status).toBe(503);
    expect(backoff.body).toContain('is backoff: it is not running');
  });

  it('reuses keep-alive connections to the vassal across requests and clients', async () => {
    const a = await startUpstream(hello('a'));
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const agent = keepAliveAgent();
    for (let i = 0; i < 10; i += 1) expect((await fetchVia(port, 'a.test', {agent})).status).toBe(200);
    // Clients that close their connection after each request still share the router's upstream connection.
    for (let i = 0; i < 10; i += 1) expect((await fetchVia(port, 'a.test', {headers: {connection: 'close'}})).status).toBe(200);
    expect(a.seen.length).toBe(20);
    expect(a.connections).toBe(1);
  });

  it('streams a large response without buffering it', async () => {
    const chunk = Buffer.alloc(1 << 20, 'x');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const a = await startUpstream((_req, res) => {
      res.writeHead(200, {'content-type': 'application/octet-stream'});
      // The first MiB goes out; the remaining 63 only once the client has seen bytes, which needs streaming.
      res.write(chunk);
      void released.then(async () => {
        for (let i = 1; i < 64; i += 1) if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
        res.end();
      });
    });
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const total = await new Promise<number>((resolve, reject) => {
      const req = request({host: '127.0.0.1', port, path: '/', agent: false, headers: {host: 'a.test'}}, (res) => {
        let bytes = 0;
        res.on('data', (data: Buffer) => {
          if (bytes === 0) release();
          bytes += data.length;
        });
        res.on('end', () => resolve(bytes));
      });
      req.on('error', reject);
      req.end();
    });
    expect(total).toBe(64 << 20);
  });

  it('streams a large request body to the vassal as it arrives', async () => {
    const a = await startUpstream((req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.once('data', () => {
        res.writeHead(200, {'content-type': 'text/plain'});
        res.flushHeaders();
      });
      req.on('data', (data: Buffer) => {
        bytes += data.length;
        hash.update(data);
      });
      req.on('end', () => res.end(`${bytes} ${hash.digest('hex')}`));
    });
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const chunk = Buffer.alloc(1 << 20, 'y');
    const expected = createHash('sha256');
    for (let i = 0; i < 32; i += 1) expected.update(chunk);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false, headers: {host: 'a.test'}}, (res) => {
        // Headers arrive after the first chunk only: the body is still being sent, so nothing buffered it whole.
        void (async () => {
          for (let i = 1; i < 32; i += 1) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          req.end();
        })();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write(chunk);
    });
    expect(body).toBe(`${32 << 20} ${expected.digest('hex')}`);
  });

  it('finishes a long request to one vassal while routes are removed and others answer 404', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const slow = await startUpstream((_req, res) => {
      res.writeHead(200, {'content-type': 'text/plain'});
      res.write('part one, ');
      started();
      void released.then(() => res.end('part two'));
    });
    const a = await startUpstream(hello('a'));
    const {port, setRoutes} = await startRouter([
      {vassal: 'slow.ini', domains: ['slow.test'], upstream: {host: '127.0.0.1', port: slow.port}},
      {vassal: 'a.ini', domains: ['a.test'], upstream: {host: '127.0.0.1', port: a.port}},
    ]);
    const long = fetchVia(port, 'slow.test');
    await inFlight;
    setRoutes([{vassal: 'slow.ini', domains: ['slow.test'], upstream: {host: '127.0.0.1', port: slow.port}}]);
    expect((await fetchVia(port, 'a.test')).status).toBe(404);
    // Even the vassal of the long request may leave the table: its request still completes.
    setRoutes([]);
    expect((await fetchVia(port, 'slow.test')).status).toBe(404);
    release();
    expect(await long).toMatchObject({status: 200, body: 'part one, part two'});
  });

  it('passes an upgrade request through as a byte pipe', async () => {
    const a = await startUpstream(hello('a'));
    a.server.on('upgrade', (req: IncomingMessage, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Host: ${req.headers.host}\r\n\r\n`);
      socket.pipe(socket);
    });
    const {port} = await startRouter([{vassal: 'a.ini', domains: ['ws.test'], upstream: {host: '127.0.0.1', port: a.port}}]);
    const client = connect({host: '127.0.0.1', port});
    cleanups.push(() => void client.destroy());
    client.write('GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    let received = '';
    await new Promise<void>((resolve) => {
      client.on('data', (data: Buffer) => {
        received += data.toString('utf8');
        if (received.endsWith('\r\n\r\n')) client.write('ping');
        if (received.endsWith('ping')) resolve();
      });
    });
    expect(received).toMatch(/^HTTP\/1.1 101 Switching Protocols\r\n/);
    expect(received).toContain('X-Host: ws.test');
  });
});
