/**
 * The cheapest proxy Node can be: each accepted connection piped byte for byte to its own upstream
 * connection, no HTTP parsing at all. What it adds over calling the upstream directly is the floor of
 * any proxy on Node on the machine measured: two more socket reads, two writes and two wake-ups.
 *
 *   BENCH_BASELINE_SIDECAR=bench/reference-proxies/tcp-pipe.ts node --import tsx bench/sidecar-latency.ts
 */
import { connect, createServer } from 'node:net';
import { announceListening, benchUpstream } from './contract.js';

const upstream = benchUpstream();
const server = createServer((caller) => {
  caller.setNoDelay(true);
  const target = connect({ ...upstream, noDelay: true });
  caller.pipe(target).pipe(caller);
  caller.on('error', () => target.destroy());
  target.on('error', () => caller.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  announceListening(typeof address === 'object' && address ? address.port : 0);
});
process.on('SIGTERM', () => process.exit(0));
