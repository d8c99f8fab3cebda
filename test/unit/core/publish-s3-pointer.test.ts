import { type DataPointer, PayloadTooLargeError, sha256Hex } from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../../server/src/blob/blob-store.js';
import { caller, serviceHarness } from '../../support/service-harness.js';
import { routesDoc } from '../mesh/fixtures.js';

/**
 * Publishing an existing S3 pointer: the declared size is what every consumer checks its download
 * against, so the service refuses a size over the payload limit and, on a typed topic (where it reads
 * the object to validate it), a size that differs from the bytes it read; the read itself is bounded.
 */

const doc = new TextEncoder().encode(JSON.stringify(routesDoc()));
const MAX = 64 * 1024;

/** A blob store holding one object (`object`); records the bound each read was given. */
function stubBlobs(object: Uint8Array) {
  const reads: (number | undefined)[] = [];
  const blobs: BlobStore = {
    putPayload: async () => {
      throw new Error('not expected');
    },
    getPayload: async (_pointer, _sha256, options) => {
      reads.push(options?.maxBytes);
      if (options?.maxBytes !== undefined && object.byteLength > options.maxBytes)
        throw new PayloadTooLargeError(object.byteLength, options.maxBytes);
      return object;
    },
    ownedPayload: () => undefined,
    deletePayload: async () => undefined,
    putObject: async () => undefined,
    getObject: async () => undefined,
    close: async () => undefined,
  };
  return { blobs, reads };
}

const s3 = (size: number, sha256 = sha256Hex(doc)) => ({
  kind: 's3' as const,
  locations: [{ region: 'eu-west-1', bucket: 'bkt', key: 'k' }],
  size,
  sha256,
});

let h: Awaited<ReturnType<typeof serviceHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('publish of an S3 pointer', () => {
  it('refuses a declared size over maxPayloadBytes with PAYLOAD_TOO_LARGE, typed or not, reading nothing', async () => {
    const stub = stubBlobs(doc);
    h = await serviceHarness({ blobs: stub.blobs, maxPayloadBytes: MAX });
    await h.service.putTopic(caller, { name: 'typed', kind: 'mesh.routes.v1' });
    await h.service.putTopic(caller, { name: 'opaque' });
    for (const topic of ['typed', 'opaque']) {
      await expect(h.service.publish(caller, { topic, payload: s3(MAX + 1) })).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
        details: { size: MAX + 1, limit: MAX },
      });
      await expect(h.service.publish(caller, { topic, payload: s3(10 * 2 ** 30) })).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
    }
    expect(stub.reads).toEqual([]);
    expect((await h.service.listVersions(caller, { topic: 'opaque' })).versions).toEqual([]);
  });

  it('on a typed topic, refuses a declared size that differs from the bytes read with INTEGRITY_MISMATCH', async () => {
    h = await serviceHarness({ blobs: stubBlobs(doc).blobs, maxPayloadBytes: MAX });
    await h.service.putTopic(caller, { name: 't', kind: 'mesh.routes.v1' });
    for (const size of [1, doc.byteLength - 1, doc.byteLength + 1]) {
      await expect(h.service.publish(caller, { topic: 't', payload: s3(size) })).rejects.toMatchObject({
        code: 'INTEGRITY_MISMATCH',
        details: { expected: size, actual: doc.byteLength },
      });
    }
    expect((await h.service.listVersions(caller, { topic: 't' })).versions).toEqual([]);
    const published = await h.service.publish(caller, { topic: 't', payload: s3(doc.byteLength) });
    expect(published.size).toBe(doc.byteLength);
  });

  it('bounds the validation read by maxPayloadBytes: a larger object is refused, not read whole', async () => {
    const big = new Uint8Array(MAX + 1);
    const stub = stubBlobs(big);
    h = await serviceHarness({ blobs: stub.blobs, maxPayloadBytes: MAX });
    await h.service.putTopic(caller, { name: 't', kind: 'mesh.routes.v1' });
    await expect(
      h.service.publish(caller, { topic: 't', payload: s3(100, sha256Hex(big)) }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(stub.reads).toEqual([MAX]);
  });

  it('keeps the pointer as published', async () => {
    h = await serviceHarness({ blobs: stubBlobs(doc).blobs, maxPayloadBytes: MAX });
    await h.service.putTopic(caller, { name: 't', kind: 'mesh.routes.v1' });
    const record = await h.service.publish(caller, { topic: 't', payload: s3(doc.byteLength) });
    expect(record.pointer).toEqual({ kind: 's3', locations: s3(0).locations } satisfies DataPointer);
  });
});
