import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeshpressService } from '../../../server/src/core/service.js';
import { ServerMetrics } from '../../../server/src/metrics.js';
import { PollFastPath } from '../../../server/src/rest/poll-fast-path.js';

/**
 * Faults a real service does not produce on cue: an answer that cannot be serialized, synchronously or
 * after a wait. The fast path has no framework above it, so it must answer them itself (500 INTERNAL)
 * rather than let the exception escape and take the process down.
 */
let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(pollNow: MeshpressService['pollNow']): Promise<string> {
  const fastPath = new PollFastPath({
    service: { pollNow } as unknown as MeshpressService,
    metrics: new ServerMetrics(),
    logger: pino({ level: 'silent' }),
    limiter: undefined,
    isReady: () => true,
  });
  server = createServer((request, response) => {
    if (!fastPath.handle(request, response)) response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v1/poll`;
}

type ErrorBody = { error: { code: string; message: string } };

const unserializable = [{ topic: 't', version: 1, pinned: false, record: { size: 10n } }] as never;
const poll = (url: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identity: {}, topics: [{ topic: 't' }] }),
  });

describe('PollFastPath faults', () => {
  for (const [name, pollNow] of [
    ['answered at once', () => unserializable],
    ['answered after a wait', async () => unserializable],
  ] as const)
    it(`answers 500 INTERNAL when an update ${name} cannot be written, and keeps serving`, async () => {
      const url = await serve(pollNow as MeshpressService['pollNow']);
      const failed = await poll(url);
      expect(failed.status).toBe(500);
      expect(((await failed.json()) as ErrorBody).error.code).toBe('INTERNAL');
      expect((await poll(url)).status).toBe(500);
    });

  it('answers a synchronous throw from the service with its own code', async () => {
    const url = await serve(() => {
      throw new (class extends Error {})('boom');
    });
    const failed = await poll(url);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as ErrorBody).error).toEqual({
      code: 'INTERNAL',
      message: 'internal error',
    });
  });
});
