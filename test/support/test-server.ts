import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig } from '../../server/src/config.js';
import { type RunningServer, type ServerParts, startServer } from '../../server/src/server.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  /** Stops the server and deletes its data directory. */
  dispose(): Promise<void>;
}

/** A real embedded server on loopback ports chosen by the OS, with its data in a fresh temp directory. */
export async function startTestServer(
  config: Partial<ServerConfig> = {},
  parts: ServerParts = {},
  dataDir?: string,
): Promise<TestServer> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'meshpress-test-')));
  const server = await startServer(
    {
      host: '127.0.0.1',
      httpPort: 0,
      grpcPort: 0,
      logLevel: 'silent',
      dataDir: dir,
      shutdownGraceMs: 2_000,
      ...config,
    },
    parts,
  );
  return {
    ...server,
    close: server.close,
    dataDir: dir,
    async dispose() {
      await server.close();
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Minimal JSON-over-HTTP helper for tests: returns status, parsed body (if any) and headers. */
export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (body instanceof Uint8Array || typeof body === 'string') {
      init.body = body as any;
    } else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}
