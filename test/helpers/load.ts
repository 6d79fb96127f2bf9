/**
 * An in-test load generator: a few sequential clients, each request on a fresh connection, bounded in count and
 * time. Counts failures (connection errors, 5xx) and the longest gap between two successes, and which bodies came
 * back, so a test can assert "zero failed requests" and "responses switched to the new version".
 */
import {request} from 'node:http';

export interface LoadResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  bodies: Map<string, number>;
  maxGapMs: number;
}

function once(port: number): Promise<{status: number; body: string} | {error: string}> {
  return new Promise((resolve) => {
    const req = request({host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000, headers: {connection: 'close'}}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({status: res.statusCode ?? 0, body}));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({error: e.code ?? e.message}));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({error: e.code ?? e.message}));
    req.end();
  });
}

/** Runs `clients` sequential clients until `stop()` resolves (or `maxRequests` is reached). */
export function startLoad(port: number, clients = 4, maxRequests = 100_000): {result: LoadResult; stop: () => Promise<LoadResult>} {
  const result: LoadResult = {ok: 0, failed: 0, errors: {}, bodies: new Map(), maxGapMs: 0};
  let running = true;
  let sent = 0;
  let lastOk = 0;
  const client = async () => {
    while (running && sent < maxRequests) {
      sent += 1;
      const res = await once(port);
      const now = performance.now();
      if ('status' in res && res.status < 500) {
        result.ok += 1;
        result.bodies.set(res.body, (result.bodies.get(res.body) ?? 0) + 1);
        if (lastOk) result.maxGapMs = Math.max(result.maxGapMs, now - lastOk);
        lastOk = now;
      } else {
        result.failed += 1;
        const key = 'status' in res ? String(res.status) : res.error;
        result.errors[key] = (result.errors[key] ?? 0) + 1;
      }
    }
  };
  const all = Promise.all(Array.from({length: clients}, client));
  return {
    result,
    stop: async () => {
      running = false;
      await all;
      return result;
    },
  };
}
