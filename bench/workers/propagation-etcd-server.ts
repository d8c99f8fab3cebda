import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/support/services/free-port.js';

/**
 * A single-member etcd (Debian's etcd-server, 3.4) started as a child process of the benchmark on free
 * 127.0.0.1 ports with a temporary data directory; not a system service. Used by bench/propagation.ts
 * (it lives next to the workers because the propagation benchmark owns only these files).
 */
export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdProcess {
  readonly pid: number;
  readonly clientUrl: string;
  readonly host: string;
  readonly port: number;
  readonly version: string;
  /** SIGTERM, SIGKILL after 5 s; removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

export async function startEtcd(timeoutMs = 30_000): Promise<EtcdProcess> {
  if (!existsSync(ETCD_BINARY))
    throw new Error(`${ETCD_BINARY} not found: install Debian's etcd-server (apt-get install etcd-server)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'meshpress-bench-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    ETCD_BINARY,
    [
      '--name=bench',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=bench=${peerUrl}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  // Ready when the gateway answers: /version is served on the client URL.
  const deadline = performance.now() + timeoutMs;
  let version: string | undefined;
  while (version === undefined) {
    if (child.exitCode !== null) throw new Error(`etcd exited before it was ready:\n${output}`);
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`etcd did not start within ${timeoutMs} ms:\n${output}`);
    }
    try {
      const response = await fetch(`${clientUrl}/version`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) version = ((await response.json()) as { etcdserver?: string }).etcdserver ?? '?';
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { pid: child.pid!, clientUrl, host: '127.0.0.1', port: clientPort, version, stop };
}

/** `POST /v3/kv/put` through the JSON gateway; resolves with etcd's revision once the put is committed. */
export async function etcdPut(clientUrl: string, key: string, value: string): Promise<number> {
  const response = await fetch(`${clientUrl}/v3/kv/put`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      key: Buffer.from(key).toString('base64'),
      value: Buffer.from(value).toString('base64'),
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`etcd put answered ${response.status}: ${text.slice(0, 300)}`);
  return Number((JSON.parse(text) as { header?: { revision?: string } }).header?.revision ?? Number.NaN);
}
