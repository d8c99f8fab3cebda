import {
  ClosedError,
  type DataPointer,
  IntegrityError,
  PayloadTooLargeError,
  sha256Hex,
  ValidationError,
} from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../server/src/blob/blob-store.js';
import { BlobNotFoundError } from '../../server/src/blob/errors.js';

/** What a backend's test file hands the suite: a fresh, empty store plus a way to damage it. */
export interface BlobStoreHarness {
  readonly store: BlobStore;
  /** Overwrites every stored copy of the payload behind `pointer` with `bytes`, bypassing the store. */
  corrupt(pointer: DataPointer, bytes: Uint8Array): Promise<void>;
  /** Releases whatever the factory created besides the store (the suite closes the store itself). */
  dispose?(): Promise<void>;
}

export type BlobStoreFactory = () => Promise<BlobStoreHarness>;

/** Deterministic bytes (xorshift32), so a failure reproduces exactly. */
export function pseudoRandomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function expectSameBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual!.byteLength).toBe(expected.byteLength);
  // Compare whole buffers without asking vitest to diff megabytes element by element.
  expect(Buffer.compare(Buffer.from(actual!), Buffer.from(expected))).toBe(0);
}

const text = (value: string) => new TextEncoder().encode(value);

/** The same pointer naming another key (every location of an S3 pointer). */
function withKey(pointer: DataPointer, key: string): DataPointer {
  switch (pointer.kind) {
    case 'local':
      return { kind: 'local', key };
    case 's3':
      return { kind: 's3', locations: pointer.locations.map((location) => ({ ...location, key })) };
    default:
      return pointer;
  }
}

/** Registers the behaviour every BlobStore must have; run it once per backend. */
export function blobStoreConformance(name: string, factory: BlobStoreFactory): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let harness: BlobStoreHarness;
    let store: BlobStore;

    beforeEach(async () => {
      harness = await factory();
      store = harness.store;
    });

    afterEach(async () => {
      await store.close();
      await harness.dispose?.();
    });

    async function roundTrip(data: Uint8Array): Promise<void> {
      const sha = sha256Hex(data);
      const pointer = await store.putPayload(data, sha);
      // Pointers are persisted in version records, so they must survive JSON.
      const persisted = JSON.parse(JSON.stringify(pointer)) as DataPointer;
      expectSameBytes(await store.getPayload(persisted, sha), data);
    }

    it('round-trips a small payload byte for byte', async () => {
      await roundTrip(text('{"routes":[{"prefix":"/","target":"inventory-v2"}]}'));
    });

    it('round-trips a 5 MiB payload byte for byte', async () => {
      await roundTrip(pseudoRandomBytes(5 * 1024 * 1024, 42));
    });

    it('round-trips an empty payload', async () => {
      await roundTrip(new Uint8Array(0));
    });

    it('storing the same bytes twice returns the same pointer', async () => {
      const data = pseudoRandomBytes(4096, 7);
      const sha = sha256Hex(data);
      const first = await store.putPayload(data, sha);
      const second = await store.putPayload(data, sha);
      expect(second).toEqual(first);
      expectSameBytes(await store.getPayload(second, sha), data);
    });

    it('concurrent puts of the same bytes all succeed with one pointer', async () => {
      const data = pseudoRandomBytes(256 * 1024, 11);
      const sha = sha256Hex(data);
      const pointers = await Promise.all([1, 2, 3, 4].map(() => store.putPayload(data, sha)));
      for (const pointer of pointers) expect(pointer).toEqual(pointers[0]);
      expectSameBytes(await store.getPayload(pointers[0]!, sha), data);
    });

    it('different bytes get different pointers', async () => {
      const a = text('version one');
      const b = text('version two');
      const pa = await store.putPayload(a, sha256Hex(a));
      const pb = await store.putPayload(b, sha256Hex(b));
      expect(pb).not.toEqual(pa);
      expectSameBytes(await store.getPayload(pa, sha256Hex(a)), a);
      expectSameBytes(await store.getPayload(pb, sha256Hex(b)), b);
    });

    it('rejects a payload that does not hash to the given sha256 and stores nothing', async () => {
      const claimed = sha256Hex(text('what the publisher meant'));
      await expect(store.putPayload(text('what actually arrived'), claimed)).rejects.toBeInstanceOf(
        IntegrityError,
      );
      expect(await store.getObject(`blobs/${claimed}`)).toBeUndefined();
    });

    it('rejects a malformed sha256 with a ValidationError', async () => {
      const data = text('x');
      await expect(store.putPayload(data, 'not-a-digest')).rejects.toBeInstanceOf(ValidationError);
      await expect(store.putPayload(data, sha256Hex(data).toUpperCase())).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it('detects stored bytes that were tampered with', async () => {
      const data = pseudoRandomBytes(1000, 3);
      const sha = sha256Hex(data);
      const pointer = await store.putPayload(data, sha);
      const tampered = Uint8Array.from(data);
      tampered[500] = tampered[500]! ^ 0xff;
      await harness.corrupt(pointer, tampered);
      await expect(store.getPayload(pointer, sha)).rejects.toBeInstanceOf(IntegrityError);
    });

    it('fails with IntegrityError when the bytes do not match the expected sha256', async () => {
      const data = text('payload');
      const pointer = await store.putPayload(data, sha256Hex(data));
      await expect(store.getPayload(pointer, sha256Hex(text('other')))).rejects.toBeInstanceOf(
        IntegrityError,
      );
    });

    it('getPayload with maxBytes reads a payload of that size, and refuses a larger one with PayloadTooLargeError', async () => {
      const data = pseudoRandomBytes(70_000, 9);
      const sha = sha256Hex(data);
      const pointer = await store.putPayload(data, sha);
      expectSameBytes(await store.getPayload(pointer, sha, { maxBytes: data.byteLength }), data);
      const failure = await store
        .getPayload(pointer, sha, { maxBytes: data.byteLength - 1 })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PayloadTooLargeError);
      expect(failure).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: data.byteLength - 1 });
      // The store is still usable after a refused read (S3: its connection was not left half read).
      expectSameBytes(await store.getPayload(pointer, sha), data);
    });

    it('a deleted payload reads as BlobNotFoundError, and deleting it again is fine', async () => {
      const data = text('short-lived');
      const sha = sha256Hex(data);
      const pointer = await store.putPayload(data, sha);
      await store.deletePayload(pointer);
      const failure = await store.getPayload(pointer, sha).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(BlobNotFoundError);
      expect((failure as BlobNotFoundError).code).toBe('UNAVAILABLE');
      await expect(store.deletePayload(pointer)).resolves.toBeUndefined();
    });

    it('a payload stored again after deletion is readable again', async () => {
      const data = text('comes back');
      const sha = sha256Hex(data);
      await store.deletePayload(await store.putPayload(data, sha));
      const pointer = await store.putPayload(data, sha);
      expectSameBytes(await store.getPayload(pointer, sha), data);
    });

    it('owns exactly the payloads it wrote, for their own digest', async () => {
      const data = text('owned');
      const sha = sha256Hex(data);
      const pointer = await store.putPayload(data, sha);
      expect(store.ownedPayload(pointer, sha)).toEqual(pointer);
      expect(store.ownedPayload(pointer, sha256Hex(text('another digest')))).toBeUndefined();
      expect(store.ownedPayload({ kind: 'direct', data }, sha)).toBeUndefined();
      expect(store.ownedPayload(withKey(pointer, 'exports/routes.json'), sha)).toBeUndefined();
    });

    it('refuses to delete an object that is not a payload (the fallback cache), leaving it in place', async () => {
      const data = text('owned');
      const pointer = await store.putPayload(data, sha256Hex(data));
      await store.putObject('fallback/cache.json', text('cache'));
      await expect(store.deletePayload(withKey(pointer, 'fallback/cache.json'))).rejects.toBeInstanceOf(
        ValidationError,
      );
      expectSameBytes(await store.getObject('fallback/cache.json'), text('cache'));
    });

    it('rejects a pointer of another kind with a ValidationError', async () => {
      const direct: DataPointer = { kind: 'direct', data: text('inline') };
      await expect(store.getPayload(direct, sha256Hex(text('inline')))).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(store.deletePayload(direct)).rejects.toBeInstanceOf(ValidationError);
    });

    it('putObject then getObject round-trips, including nested keys and empty objects', async () => {
      const cache = pseudoRandomBytes(70_000, 5);
      await store.putObject('fallback/cache.json', cache);
      await store.putObject('fallback/empty', new Uint8Array(0));
      expectSameBytes(await store.getObject('fallback/cache.json'), cache);
      expectSameBytes(await store.getObject('fallback/empty'), new Uint8Array(0));
    });

    it('putObject replaces an existing object', async () => {
      await store.putObject('fallback/cache.json', text('old'));
      await store.putObject('fallback/cache.json', text('new and longer'));
      expectSameBytes(await store.getObject('fallback/cache.json'), text('new and longer'));
    });

    it('getObject of a missing key is undefined', async () => {
      expect(await store.getObject('fallback/never-written.json')).toBeUndefined();
    });

    it('rejects object keys that are absolute or escape with ..', async () => {
      for (const key of ['../outside', '/etc/passwd', 'a/../../b', 'a//b', './a', '']) {
        await expect(store.putObject(key, text('x')), key).rejects.toBeInstanceOf(ValidationError);
        await expect(store.getObject(key), key).rejects.toBeInstanceOf(ValidationError);
      }
    });

    it('close is idempotent and later calls fail with ClosedError', async () => {
      const data = text('x');
      const pointer = await store.putPayload(data, sha256Hex(data));
      await store.close();
      await store.close();
      await expect(store.getPayload(pointer, sha256Hex(data))).rejects.toBeInstanceOf(ClosedError);
      await expect(store.putObject('k', data)).rejects.toBeInstanceOf(ClosedError);
      await expect(store.getObject('k')).rejects.toBeInstanceOf(ClosedError);
    });
  });
}
