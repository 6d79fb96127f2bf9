// The front router alone, with a static table, for bench/router.sh.
//   node bench/router-server.mjs LISTEN_ADDR HOST=PORT [HOST=PORT…]
// Prints "listening ADDR" once bound; SIGTERM/SIGINT close it. ROUTER_MAX_SOCKETS overrides the per-upstream pool size.
import {startHttpRouter} from '../dist/router/http-router.js';
import {RouteTable} from '../dist/router/route-table.js';
import {createLogger} from '../dist/log/logger.js';

const [address, ...pairs] = process.argv.slice(2);
if (address === undefined || pairs.length === 0) {
  process.stderr.write('usage: node bench/router-server.mjs LISTEN_ADDR HOST=PORT [HOST=PORT…]\n');
  process.exit(2);
}
const table = new RouteTable(
  pairs.map((pair, i) => {
    const [host, port] = pair.split('=');
    return {vassal: `app${i + 1}`, domains: [host], upstream: {host: '127.0.0.1', port: Number(port)}};
  }),
);
const log = createLogger({format: 'human', level: process.env.ROUTER_LOG_LEVEL ?? 'warn'});
const maxSockets = process.env.ROUTER_MAX_SOCKETS ? Number(process.env.ROUTER_MAX_SOCKETS) : undefined;
const router = await startHttpRouter({address, routes: () => table, log, state: () => 'ready', ...(maxSockets ? {agents: {maxSockets}} : {})});
process.stdout.write(`listening ${router.address}\n`);
const stop = () => void router.close(1000).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
