/**
 * HAProxy (Debian's package: `apt-get install haproxy`) as a reference proxy: one thread, HTTP mode,
 * keep-alive on both sides and upstream connections reused, the way a production proxy written in C
 * runs a hello-world route. It shows what this machine lets any proxy add, next to the sidecar.
 *
 *   BENCH_BASELINE_SIDECAR=bench/reference-proxies/haproxy.ts node --import tsx bench/sidecar-latency.ts
 *
 * The benchmark measures this launcher's CPU with HAProxy's (it counts a process's children).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/support/services/free-port.js';
import { announceListening, benchUpstream } from './contract.js';

const upstream = benchUpstream();
const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'meshpress-bench-haproxy-'));
const config = join(dir, 'haproxy.cfg');
writeFileSync(
  config,
  [
    'global',
    '  nbthread 1',
    '  maxconn 1000',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 60s',
    'frontend outbound',
    `  bind 127.0.0.1:${port}`,
    '  default_backend upstream',
    'backend upstream',
    '  http-reuse always',
    `  server hello ${upstream.host}:${upstream.port}`,
    '',
  ].join('\n'),
);
// -db: stay in the foreground, so this launcher owns HAProxy's lifetime.
const haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => {
  haproxy.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
};
haproxy.once('error', (error) => {
  process.stderr.write(`haproxy did not start (is Debian's haproxy package installed?): ${error.message}\n`);
  process.exit(1);
});
haproxy.once('exit', (code) => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code ?? 1);
});
process.on('SIGTERM', stop);
await untilAccepting(port);
announceListening(port);

async function untilAccepting(target: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: target });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`haproxy did not listen on 127.0.0.1:${target} within 5 s`);
}
