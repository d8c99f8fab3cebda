import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import type { Clock } from '../../../client/src/core/clock.js';
import { type CliIo, Interrupt, type OutputStream } from '../../../client/src/cli/io.js';
import { runCli } from '../../../client/src/cli/run.js';

/** An output stream that keeps what is written; `fail` makes every write call back with that error. */
export class MemoryOutput implements OutputStream {
  text = '';
  fail: Error | undefined;

  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean {
    if (this.fail) {
      const error = this.fail;
      queueMicrotask(() => callback?.(error));
      return false;
    }
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    queueMicrotask(() => callback?.(null));
    return true;
  }
}

export interface TestIo extends CliIo {
  readonly stdout: MemoryOutput;
  readonly stderr: MemoryOutput;
}

export function testIo(
  options: {
    env?: Record<string, string>;
    stdin?: string | Uint8Array;
    clock?: Clock;
    random?: () => number;
  } = {},
): TestIo {
  return {
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    stdout: new MemoryOutput(),
    stderr: new MemoryOutput(),
    env: options.env ?? {},
    interrupt: new Interrupt(),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.random ? { random: options.random } : {}),
  };
}

/** `meshpress …` in-process. */
export async function cli(
  args: readonly string[],
  io: TestIo = testIo(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  const code = await runCli(args, io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

export interface StubRequest {
  readonly method: string;
  readonly url: URL;
  readonly body: Buffer;
  readonly headers: IncomingMessage['headers'];
}

export type StubHandler = (request: StubRequest, res: ServerResponse) => void | Promise<void>;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** An HTTP server that records every request and answers with `handler` (closed after each test). */
export async function stubServer(handler: StubHandler): Promise<{ url: string; requests: StubRequest[] }> {
  const requests: StubRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', 'http://stub'),
        body: Buffer.concat(chunks),
        headers: req.headers,
      };
      requests.push(request);
      Promise.resolve(handler(request, res)).catch((error) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message, details: {} } });
}

const T0 = '2026-01-01T00:00:00.000Z';

export function topicBody(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    retention: { maxVersions: 100 },
    latestVersion: 1,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

export function versionBody(
  topic: string,
  version: number,
  payload: string,
  extra: Record<string, unknown> = {},
) {
  return {
    topic,
    version,
    metadata: {},
    pointer: { kind: 'local', key: `blobs/${version}` },
    size: Buffer.byteLength(payload),
    sha256: createHash('sha256').update(payload).digest('hex'),
    contentType: 'text/plain; charset=utf-8',
    publisher: 'test',
    createdAt: T0,
    scopes: [{ scope: '*', addedAt: T0 }],
    ...extra,
  };
}
