/**
 * Readiness of command vassals: `tcp://HOST:PORT` (a connect succeeds), `http(s)://HOST:PORT/path` (first 2xx/3xx),
 * `notify` (the program prints READY=1, handled by the vassal from its output) or `running` (still alive after a
 * delay). Probes poll every 10 ms, so readiness is seen within ~10 ms of the program listening.
 */
import {connect} from 'node:net';
import {request} from 'node:http';
import type {ReadyProbe} from '../config/vassal-spec.js';

type HttpsRequest = typeof import('node:https').request;

const POLL_MS = 10;

/**
 * Starts probing; calls `onReady` once. Returns a cancel function. `notify` probes never fire here. A throw in an
 * attempt (a kaiser bug) ends the probe and goes to `onError`, never to the event loop.
 */
export function startReadyProbe(probe: ReadyProbe, onReady: () => void, onError: (error: unknown) => void): () => void {
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;
  const guarded = (attempt: () => void) => () => {
    try {
      attempt();
    } catch (error) {
      cancelled = true;
      onError(error);
    }
  };
  const again = (attempt: () => void) => {
    if (!cancelled) timer = setTimeout(guarded(attempt), POLL_MS);
  };
  const fire = () => {
    if (cancelled) return;
    cancelled = true;
    onReady();
  };
  switch (probe.kind) {
    case 'running':
      timer = setTimeout(fire, probe.forMs);
      break;
    case 'notify':
      break;
    case 'tcp': {
      const attempt = () => {
        const socket = connect({host: probe.host, port: probe.port});
        socket.once('connect', () => {
          socket.destroy();
          fire();
        });
        socket.once('error', () => {
          socket.destroy();
          again(attempt);
        });
      };
      attempt();
      break;
    }
    case 'http': {
      // https:// as Kubernetes probes it: the certificate is not checked (readiness, not trust; a vassal's
      // certificate is often self-signed or for another name than the probed address).
      // node:https (with tls) costs the emperor ~2 MB of RSS: loaded by the first https:// probe only.
      let send: typeof request | HttpsRequest = request;
      const attempt = () => {
        const req = send(probe.url, {method: 'GET', timeout: 2000, agent: false, rejectUnauthorized: false}, (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 400) fire();
          else again(attempt);
        });
        req.once('error', () => again(attempt));
        req.once('timeout', () => req.destroy());
        req.end();
      };
      if (probe.url.startsWith('https:')) {
        import('node:https').then(({request: requestTls}) => {
          send = requestTls;
          if (!cancelled) guarded(attempt)();
        }, onError);
      } else {
        attempt();
      }
      break;
    }
    default: {
      const never: never = probe;
      throw new Error(`Internal error: unknown ready probe ${JSON.stringify(never)}`);
    }
  }
  return () => {
    cancelled = true;
    if (timer) clearTimeout(timer);
  };
}
