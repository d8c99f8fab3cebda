import { type DataPointer, sha256Hex, UnavailableError } from '@meshpress/client';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { BlobStore } from '../../server/src/blob/blob-store.js';
import type { ConfigStore } from '../../server/src/store/config-store.js';
import { deleteBlobIfUnreferenced } from '../../server/src/tasks/janitor-blobs.js';

const silent = pino({ level: 'silent' });
const bytes = new TextEncoder().encode('bytes two purged versions pointed at');
const sha = sha256Hex(bytes);
const key = `blobs/${sha}`;
/** The same digest recorded under two bucket sets (versions published under different configurations). */
const east: DataPointer = { kind: 's3', locations: [{ region: 'us-east-1', bucket: 'a', key }] };
const west: DataPointer = { kind: 's3', locations: [{ region: 'eu-west-1', bucket: 'b', key }] };

/** A blob store holding copies by region; deleting `failing` removes nothing and throws. */
function fakeBlobs(failing: string | undefined) {
  const copies = new Set(['us-east-1', 'eu-west-1']);
  const puts: string[] = [];
  const regionOf = (pointer: DataPointer) => (pointer.kind === 's3' ? pointer.locations[0]!.region : '');
  const blobs = {
    async getPayload(pointer: DataPointer) {
      if (!copies.has(regionOf(pointer))) throw new Error('not expected: every copy exists');
      return bytes;
    },
    async deletePayload(pointer: DataPointer) {
      const region = regionOf(pointer);
      if (region === failing) throw new UnavailableError(`DeleteObject failed in ${region}`);
      copies.delete(region);
    },
    async putPayload(data: Uint8Array, digest: string) {
      expect(sha256Hex(data)).toBe(digest);
      puts.push(digest);
      copies.add('us-east-1');
      copies.add('eu-west-1');
      return east;
    },
  } as unknown as BlobStore;
  return { blobs, copies, puts };
}

/** A config store whose reference checks answer in turn from `answers`. */
function fakeStore(answers: boolean[]) {
  let checks = 0;
  const store = {
    async isPayloadReferenced() {
      const answer = answers[checks++];
      if (answer === undefined) throw new Error('asked more often than expected');
      return answer;
    },
  } as unknown as ConfigStore;
  return { store, checks: () => checks };
}

describe('deleteBlobIfUnreferenced when a delete fails part-way', () => {
  it('still re-checks and puts the blob back when a publish took it meanwhile', async () => {
    // The first pointer's copy is deleted, the second delete fails; a publish of the same bytes has
    // written its record in between (the second check says referenced).
    const { blobs, copies, puts } = fakeBlobs('eu-west-1');
    const { store, checks } = fakeStore([false, true]);

    const outcome = await deleteBlobIfUnreferenced({
      store,
      blobs,
      logger: silent,
      sha256: sha,
      pointers: [east, west],
    });

    expect(outcome).toBe('restored');
    expect(checks()).toBe(2);
    expect(puts).toEqual([sha]);
    expect([...copies].sort()).toEqual(['eu-west-1', 'us-east-1']);
  });

  it('puts the blob back when the re-check after a failed delete cannot answer', async () => {
    const { blobs, puts } = fakeBlobs('us-east-1');
    let checks = 0;
    const store = {
      async isPayloadReferenced() {
        if (++checks > 1) throw new UnavailableError('store down');
        return false;
      },
    } as unknown as ConfigStore;

    await expect(
      deleteBlobIfUnreferenced({ store, blobs, logger: silent, sha256: sha, pointers: [east, west] }),
    ).resolves.toBe('restored');
    expect(puts).toEqual([sha]);
  });

  it('reports the failure when the blob is still unreferenced, after deleting every copy it could', async () => {
    const { blobs, copies, puts } = fakeBlobs('us-east-1');
    const { store, checks } = fakeStore([false, false]);

    await expect(
      deleteBlobIfUnreferenced({ store, blobs, logger: silent, sha256: sha, pointers: [east, west] }),
    ).rejects.toThrow('DeleteObject failed in us-east-1');
    expect(checks()).toBe(2);
    expect(puts).toEqual([]);
    // The failing copy is left; the other pointer's was deleted after the failure.
    expect([...copies]).toEqual(['us-east-1']);
  });
});
