import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex, UnavailableError, ValidationError } from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirBlobStore } from '../../server/src/blob/dir-blob-store.js';
import { BlobNotFoundError } from '../../server/src/blob/errors.js';
import { blobStoreConformance } from '../conformance/blob-store.js';

const tempRoot = () => mkdtemp(join(tmpdir(), 'meshpress-dir-blob-'));
const text = (value: string) => new TextEncoder().encode(value);

blobStoreConformance('DirBlobStore', async () => {
  const root = await tempRoot();
  return {
    store: new DirBlobStore({ root }),
    async corrupt(pointer, bytes) {
      if (pointer.kind !== 'local') throw new Error(`unexpected pointer ${pointer.kind}`);
      await writeFile(join(root, pointer.key), bytes);
    },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

describe('DirBlobStore', () => {
  // The store's root sits one level below a temp dir, so tests can place files just outside it.
  let base: string;
  let root: string;
  let store: DirBlobStore;

  beforeEach(async () => {
    base = await tempRoot();
    root = join(base, 'root');
    store = new DirBlobStore({ root });
  });

  afterEach(async () => {
    await store.close();
    await rm(base, { recursive: true, force: true });
  });

  it('keeps a payload at <root>/blobs/<sha256> behind a local pointer', async () => {
    const data = text('routes for inventory');
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    expect(pointer).toEqual({ kind: 'local', key: `blobs/${sha}` });
    expect(await readFile(join(root, 'blobs', sha), 'utf8')).toBe('routes for inventory');
  });

  it('leaves no temporary files behind after writes', async () => {
    const data = text('payload');
    await store.putPayload(data, sha256Hex(data));
    await store.putPayload(data, sha256Hex(data));
    await store.putObject('fallback/cache.json', text('{}'));
    await store.putObject('fallback/cache.json', text('{"topics":[]}'));
    expect(await readdir(join(root, 'blobs'))).toEqual([sha256Hex(data)]);
    expect(await readdir(join(root, 'fallback'))).toEqual(['cache.json']);
  });

  it('creates a missing root directory on first write', async () => {
    const nested = new DirBlobStore({ root: join(base, 'not', 'yet', 'there') });
    await nested.putObject('k', text('v'));
    expect(await readFile(join(base, 'not', 'yet', 'there', 'k'), 'utf8')).toBe('v');
    await nested.close();
  });

  it('rejects a local pointer whose key escapes the root', async () => {
    await writeFile(join(base, 'outside'), text('secret'));
    const escaping = { kind: 'local', key: '../outside' } as const;
    await expect(store.getPayload(escaping, sha256Hex(text('secret')))).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(store.deletePayload(escaping)).rejects.toBeInstanceOf(ValidationError);
    expect(await readFile(join(base, 'outside'), 'utf8')).toBe('secret');
  });

  it('rejects invalid options with a ValidationError naming the field', () => {
    let failure: unknown;
    try {
      new DirBlobStore({ root: '' });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as ValidationError).issues.map((issue) => issue.path)).toEqual(['root']);
  });

  it('reports a root that cannot be written as UnavailableError with the cause', async () => {
    await writeFile(join(base, 'a-file'), 'x');
    const broken = new DirBlobStore({ root: join(base, 'a-file', 'below') });
    const data = text('x');
    const failure = await broken.putPayload(data, sha256Hex(data)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).cause).toMatchObject({ code: 'ENOTDIR' });
    await broken.close();
  });

  it('names keys, not the blob directory, in what a client is sent; the cause (server logs) names the file', async () => {
    const data = text('gone');
    const sha = sha256Hex(data);
    const missing = await store
      .getPayload({ kind: 'local', key: `blobs/${sha}` }, sha)
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(BlobNotFoundError);
    expect(JSON.stringify(missing)).toContain(`blobs/${sha}`);
    expect(JSON.stringify(missing)).not.toContain(base);
    expect(String((missing as BlobNotFoundError).cause)).toContain(join(root, 'blobs', sha));

    await writeFile(join(base, 'a-file'), 'x');
    const brokenRoot = join(base, 'a-file', 'below');
    const broken = new DirBlobStore({ root: brokenRoot });
    const unwritable = await broken.putPayload(data, sha).catch((error: unknown) => error);
    await broken.close();
    expect(unwritable).toBeInstanceOf(UnavailableError);
    expect(JSON.stringify(unwritable)).not.toContain(base);
    expect(String((unwritable as UnavailableError).cause)).toContain(brokenRoot);
  });
});
