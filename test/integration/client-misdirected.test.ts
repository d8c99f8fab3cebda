import { MisdirectedError } from '@meshpress/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, type PollTransport, RestTransport } from '../../client/src/consumer/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/*
 * A consumer given the addresses of a deployment split by role: a publish-only instance answers polls
 * with MISDIRECTED (REST 421, gRPC UNIMPLEMENTED + meshpress-error-code). The transport must move on to
 * the next address, as it does for an unreachable one, instead of asking the same instance forever.
 */

let publisher: TestServer;
let consumer: TestServer;
let version: number;

beforeAll(async () => {
  publisher = await startTestServer({ roles: ['publish', 'tasks'] });
  consumer = await startTestServer({ roles: ['consume'] }, {}, publisher.dataDir);
  expect((await http(publisher.httpUrl, 'PUT', '/v1/topics/misdirected.routes', {})).status).toBe(201);
  const published = await http(publisher.httpUrl, 'POST', '/v1/topics/misdirected.routes/versions', {
    payload: { text: 'served' },
  });
  expect(published.status).toBe(201);
  version = published.body.version;
});

afterAll(async () => {
  await consumer?.close();
  await publisher?.dispose();
});

describe.each(['rest', 'grpc'] as const)('%s transport and a MISDIRECTED answer', (kind) => {
  it('moves to the next server, which serves the poll', async () => {
    const transport: PollTransport =
      kind === 'rest'
        ? new RestTransport({ urls: [publisher.httpUrl, consumer.httpUrl] })
        : new GrpcTransport({ addresses: [publisher.grpcAddress, consumer.grpcAddress] });
    try {
      const request = {
        identity: { app: 'checkout' },
        topics: [{ topic: 'misdirected.routes' }],
        signal: new AbortController().signal,
      };
      await expect(transport.poll(request)).rejects.toBeInstanceOf(MisdirectedError);
      const updates = await transport.poll(request);
      expect(updates.map((u) => u.version)).toEqual([version]);
      // And it stays there.
      expect((await transport.poll(request)).map((u) => u.version)).toEqual([version]);
    } finally {
      await transport.close();
    }
  });
});
