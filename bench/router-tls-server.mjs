// The HTTPS front door alone, with a static table, for bench/router-tls.sh.
//   node bench/router-tls-server.mjs LISTEN_ADDR SNI_DIR HOST=PORT [HOST=PORT…]
// Prints "listening ADDR" once bound; SIGTERM/SIGINT close it. ROUTER_H2=0 offers HTTP/1.1 only (node:https
// instead of node:http2 with allowHTTP1).
import {startHttpRouter} from '../dist/router/http-router.js';
import {RouteTable} from '../dist/router/hosts-and-upstreams.js';
import {startHttpsListener, TLS_DEFAULTS} from '../dist/router/tls/https-listener.js';
import {SniStore} from '../dist/router/tls/sni-store.js';
import {createLogger} from '../dist/log/logger.js';

const [address, sniDir, ...pairs] = process.argv.slice(2);
if (address === undefined || sniDir === undefined || pairs.length === 0) {
  process.stderr.write('usage: node bench/router-tls-server.mjs LISTEN_ADDR SNI_DIR HOST=PORT [HOST=PORT…]\n');
  process.exit(2);
}
const table = new RouteTable(
  pairs.map((pair, i) => {
    const [host, port] = pair.split('=');
    return {vassal: `app${i + 1}`, domains: [host], upstream: {host: '127.0.0.1', port: Number(port)}};
  }),
);
const log = createLogger({format: 'human', level: process.env.ROUTER_LOG_LEVEL ?? 'warn'});
const router = await startHttpRouter({address: undefined, routes: () => table, log, state: () => 'ready'});
const store = new SniStore({dir: sniDir, settings: TLS_DEFAULTS, log});
const https = await startHttpsListener({address, store, handlers: router.handlers, log, h2: process.env.ROUTER_H2 !== '0'});
process.stdout.write(`listening ${https.address}\n`);
const stop = () => void Promise.all([https.close(1000), router.close(1000)]).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
