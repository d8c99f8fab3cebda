import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClosedError,
  encodeFallbackCache,
  FALLBACK_FORMAT_VERSION,
  FallbackCacheMissingError,
  type FallbackDocument,
  FileFallbackCacheReader,
  MalformedRequestError,
  ManualClock,
  sha256Hex,
  ValidationError,
} from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import { FallbackIndex } from '../../client/src/fallback/fallback-index.js';
import { MAX_STALE_SERVE_TTLS, RefreshingIndex } from '../../client/src/fallback/refreshing-index.js';

const T0 = 1_700_000_000_000;
const TTL = 30_000;
const TOPIC = 'mesh.prod.routes';

/** A one-topic document whose only version is `version`, published to every identity. */
function documentWith(version: number): FallbackDocument {
  const data = new TextEncoder().encode(`payload ${version}`);
  return {
    formatVersion: FALLBACK_FORMAT_VERSION,
    generatedAt: T0 + version,
    writer: 'test',
    topics: [
      {
        topic: { name: TOPIC, retention: {}, latestVersion: version, createdAt: T0, updatedAt: T0 },
        pins: [],
        publishes: [{ scope: '*', version, visibleAt: T0 + version }],
        newestServable: [{ scope: '*', version }],
        versions: [
          {
            topic: TOPIC,
            version,
            metadata: {},
            pointer: { kind: 'direct', data },
            size: data.byteLength,
            sha256: sha256Hex(data),
            contentType: 'text/plain',
            publisher: 'test',
            createdAt: T0 + version,
            committedAt: T0 + version,
            scopes: [{ scope: '*', addedAt: T0 + version }],
          },
        ],
      },
    ],
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'meshpress-fallback-reader-'));
  const path = join(dir, 'cache.json.gz');
  const clock = new ManualClock(T0);
  const errors: unknown[] = [];
  const reader = new FileFallbackCacheReader({
    path,
    clock,
    cacheTtlMs: TTL,
    onError: (e) => errors.push(e),
  });
  cleanups.push(async () => {
    await reader.close();
    await rm(dir, { recursive: true, force: true });
  });
  // Replaced by rename, as the server's blob directory does.
  const write = async (bytes: Uint8Array) => {
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
  };
  const versionFor = async () => (await reader.lookup(TOPIC, { app: 'x' }))?.version;
  return { path, clock, reader, errors, write, versionFor };
}

describe('FileFallbackCacheReader', () => {
  it('re-reads the file at most once per TTL, in the background of the lookup that finds it stale', async () => {
    const { clock, reader, write, versionFor } = await setup();
    await write(await encodeFallbackCache(documentWith(1)));
    expect(await versionFor()).toBe(1);
    await write(await encodeFallbackCache(documentWith(2)));
    clock.advance(TTL - 1);
    expect(await versionFor()).toBe(1);
    await reader.idle();
    expect(await versionFor()).toBe(1);
    clock.advance(1);
    // Answered from the document at hand; the re-read it started serves the next lookups.
    expect(await versionFor()).toBe(1);
    await reader.idle();
    expect(await versionFor()).toBe(2);
  });

  it('returns the record with its payload bytes decoded', async () => {
    const { write, reader } = await setup();
    await write(await encodeFallbackCache(documentWith(3)));
    const hit = await reader.lookup(TOPIC, { app: 'x', region: 'eu-west-1' });
    expect(hit).toMatchObject({ version: 3, pinned: false, record: { topic: TOPIC, version: 3 } });
    const pointer = hit!.record.pointer;
    expect(pointer.kind === 'direct' && Buffer.from(pointer.data).toString()).toBe('payload 3');
    expect(sha256Hex((pointer as { data: Uint8Array }).data)).toBe(hit!.record.sha256);
  });

  it('keeps serving the last good document when a re-read fails, and reports the failure', async () => {
    const { clock, reader, write, versionFor, errors } = await setup();
    await write(await encodeFallbackCache(documentWith(1)));
    expect(await versionFor()).toBe(1);
    await write(new TextEncoder().encode('garbage'));
    clock.advance(TTL);
    expect(await versionFor()).toBe(1);
    await reader.idle();
    expect(await versionFor()).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(MalformedRequestError);
    // The failed attempt counts as a read: the next one waits a full TTL.
    await write(await encodeFallbackCache(documentWith(2)));
    expect(await versionFor()).toBe(1);
    await reader.idle();
    expect(await versionFor()).toBe(1);
    clock.advance(TTL);
    expect(await versionFor()).toBe(1);
    await reader.idle();
    expect(await versionFor()).toBe(2);
  });

  it('throws a typed error when there is no cache, and retries only after a short pause', async () => {
    const { clock, write, versionFor } = await setup();
    await expect(versionFor()).rejects.toBeInstanceOf(FallbackCacheMissingError);
    await write(await encodeFallbackCache(documentWith(1)));
    await expect(versionFor()).rejects.toBeInstanceOf(FallbackCacheMissingError);
    clock.advance(5_000);
    expect(await versionFor()).toBe(1);
  });

  it('validates the identity and its options', async () => {
    const { write, reader } = await setup();
    await write(await encodeFallbackCache(documentWith(1)));
    await expect(reader.lookup(TOPIC, { colour: 'blue' } as object)).rejects.toBeInstanceOf(ValidationError);
    expect(() => new FileFallbackCacheReader({ path: '', cacheTtlMs: -1 })).toThrow(ValidationError);
  });

  it('fails lookups once closed; close is idempotent', async () => {
    const { write, reader, versionFor } = await setup();
    await write(await encodeFallbackCache(documentWith(1)));
    expect(await versionFor()).toBe(1);
    await reader.close();
    await reader.close();
    await expect(versionFor()).rejects.toBeInstanceOf(ClosedError);
  });
});

describe('RefreshingIndex', () => {
  /** A loader whose reads finish only when the test says so. */
  function slowSource() {
    const reads: { resolve: (index: FallbackIndex) => void; reject: (error: unknown) => void }[] = [];
    const load = () =>
      new Promise<FallbackIndex>((resolve, reject) => {
        reads.push({ resolve, reject });
      });
    return { reads, load };
  }
  const indexOf = (version: number) => new FallbackIndex(documentWith(version));
  const versionIn = async (index: Promise<FallbackIndex>) => (await index).lookup(TOPIC, {})?.version;

  it('waits for the first read, then answers at once while a slow re-read runs in the background', async () => {
    const clock = new ManualClock(T0);
    const { reads, load } = slowSource();
    const index = new RefreshingIndex({ clock, ttlMs: TTL, load, what: 'test' });
    const first = index.get();
    expect(reads).toHaveLength(1);
    reads[0]!.resolve(indexOf(1));
    expect(await versionIn(first)).toBe(1);

    clock.advance(TTL);
    // The re-read hangs (a slow S3): lookups do not wait for it, and share it.
    expect(await versionIn(index.get())).toBe(1);
    expect(await versionIn(index.get())).toBe(1);
    expect(reads).toHaveLength(2);
    reads[1]!.resolve(indexOf(2));
    await index.idle();
    expect(await versionIn(index.get())).toBe(2);
    expect(reads).toHaveLength(2);
  });

  it('a background re-read that fails keeps the index and reports the failure', async () => {
    const clock = new ManualClock(T0);
    const { reads, load } = slowSource();
    const errors: unknown[] = [];
    const index = new RefreshingIndex({
      clock,
      ttlMs: TTL,
      load,
      what: 'test',
      onError: (e) => errors.push(e),
    });
    const first = index.get();
    reads[0]!.resolve(indexOf(1));
    await first;
    clock.advance(TTL);
    expect(await versionIn(index.get())).toBe(1);
    reads[1]!.reject(new Error('S3 down'));
    await index.idle();
    expect(errors).toEqual([new Error('S3 down')]);
    expect(await versionIn(index.get())).toBe(1);
    expect(reads).toHaveLength(2);
  });

  it('an index many TTLs old is re-read before answering (its answer may be far behind)', async () => {
    const clock = new ManualClock(T0);
    const { reads, load } = slowSource();
    const index = new RefreshingIndex({ clock, ttlMs: TTL, load, what: 'test' });
    const first = index.get();
    reads[0]!.resolve(indexOf(1));
    await first;
    clock.advance(TTL * MAX_STALE_SERVE_TTLS);
    let answered = false;
    const fresh = index.get().finally(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    reads[1]!.resolve(indexOf(3));
    expect(await versionIn(fresh)).toBe(3);
  });
});
