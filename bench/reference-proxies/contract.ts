/**
 * What a reference proxy shares with `meshpress-sidecar` for bench/sidecar-latency.ts: the upstream
 * comes from MESHPRESS_BENCH_UPSTREAM (`host:port`, set by the benchmark; the sidecar's own arguments
 * are ignored), and readiness is the sidecar's listening line.
 */
export function benchUpstream(): { host: string; port: number } {
  const value = process.env.MESHPRESS_BENCH_UPSTREAM ?? '';
  const match = /^([\w.-]+):(\d{1,5})$/.exec(value);
  if (!match) throw new Error(`MESHPRESS_BENCH_UPSTREAM must be host:port, got ${JSON.stringify(value)}`);
  return { host: match[1]!, port: Number(match[2]) };
}

export function announceListening(port: number): void {
  process.stdout.write(
    `meshpress-sidecar listening: outbound http://127.0.0.1:${port}  inbound none  admin none\n`,
  );
}
