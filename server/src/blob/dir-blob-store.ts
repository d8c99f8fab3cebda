import { open, readFile, unlink } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import {
  ClosedError,
  type DataPointer,
  MeshpressError,
  PayloadTooLargeError,
  parseOrThrow,
  UnavailableError,
  ValidationError,
} from '@meshpress/client';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';
import { isPayloadKey, ownedPayloadKey, parseObjectKey, parseSha256 } from './blob-key.js';
import { type BlobStore, type PayloadReadOptions, payloadKey } from './blob-store.js';
import { BlobNotFoundError } from './errors.js';
import { assertDigest } from './integrity.js';

export const dirBlobStoreOptionsSchema = z.object({
  /** Directory holding `blobs/<sha256>` and any other objects; created on first write. */
  root: z.string().min(1),
});

export type DirBlobStoreOptions = z.input<typeof dirBlobStoreOptionsSchema>;

/**
 * Embedded-mode blob store: one file per object under `root`. Pointers are `{ kind: 'local' }` because
 * only this server can read the directory; clients fetch such payloads through the server.
 *
 * Error messages and details name keys, never `root`: they reach clients, and the directory is the
 * server's business. The file system error, which names the file, is kept as the cause for server logs.
 */
export class DirBlobStore implements BlobStore {
  readonly root: string;
  #closed = false;

  constructor(options: DirBlobStoreOptions) {
    const parsed = parseOrThrow(dirBlobStoreOptionsSchema, options, 'DirBlobStore options');
    this.root = resolve(parsed.root);
  }

  async putPayload(data: Uint8Array, sha256: string): Promise<DataPointer> {
    this.#assertOpen();
    const digest = parseSha256(sha256);
    assertDigest(data, digest, 'payload to store');
    const key = payloadKey(digest);
    // Always rewrite rather than skip an existing file: same bytes by construction, and it repairs a
    // file damaged on disk.
    await this.#write(key, data);
    return { kind: 'local', key };
  }

  async getPayload(pointer: DataPointer, sha256: string, options?: PayloadReadOptions): Promise<Uint8Array> {
    this.#assertOpen();
    const digest = parseSha256(sha256);
    const key = localKey(pointer);
    let data: Uint8Array;
    try {
      data = await readFileAtMost(this.#pathOf(key), options?.maxBytes);
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(key, { cause: error });
      throw this.#unavailable(`cannot read ${key}`, error);
    }
    assertDigest(data, digest, `blob ${key}`);
    return data;
  }

  /** Local pointers are only ever written by this store, at `blobs/<sha256>`. */
  ownedPayload(pointer: DataPointer, sha256: string): DataPointer | undefined {
    const key = ownedPayloadKey(sha256);
    return pointer.kind === 'local' && key !== undefined && pointer.key === key ? pointer : undefined;
  }

  async deletePayload(pointer: DataPointer): Promise<void> {
    this.#assertOpen();
    const key = localKey(pointer);
    // Other objects share the directory (the fallback cache): a payload delete never reaches them.
    if (!isPayloadKey(key)) {
      throw new ValidationError(`not a payload key: ${key}`, [
        { path: 'pointer.key', message: 'expected blobs/<sha256>' },
      ]);
    }
    try {
      await unlink(this.#pathOf(key));
    } catch (error) {
      if (isMissing(error)) return;
      throw this.#unavailable(`cannot delete ${key}`, error);
    }
  }

  async putObject(key: string, data: Uint8Array): Promise<void> {
    this.#assertOpen();
    await this.#write(key, data);
  }

  async getObject(key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    return this.#read(key);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async #write(key: string, data: Uint8Array): Promise<void> {
    const path = this.#pathOf(key);
    try {
      await writeFileAtomic(path, data);
    } catch (error) {
      throw this.#unavailable(`cannot write ${key}`, error);
    }
  }

  async #read(key: string): Promise<Uint8Array | undefined> {
    const path = this.#pathOf(key);
    try {
      return await readFileAtMost(path, undefined);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.#unavailable(`cannot read ${key}`, error);
    }
  }

  /** Maps a key to its file, refusing anything that would land outside the root. */
  #pathOf(key: string): string {
    const path = resolve(this.root, parseObjectKey(key));
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new ValidationError(`object key escapes the blob directory: ${key}`, [
        { path: 'key', message: 'must stay inside the blob directory' },
      ]);
    }
    return path;
  }

  #unavailable(message: string, error: unknown): MeshpressError {
    if (error instanceof MeshpressError) return error;
    return new UnavailableError(`blob directory: ${message}`, { cause: error });
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('DirBlobStore');
  }
}

/**
 * The file's bytes; with `maxBytes`, a larger file is refused on its size before it is read. Files are
 * replaced by rename (writeFileAtomic), so the open handle's file cannot grow between the two.
 */
async function readFileAtMost(path: string, maxBytes: number | undefined): Promise<Uint8Array> {
  let buffer: Buffer;
  if (maxBytes === undefined) buffer = await readFile(path);
  else {
    const handle = await open(path, 'r');
    try {
      const stats = await handle.stat();
      // A directory is left to readFile, whose EISDIR reads as missing.
      if (stats.isFile() && stats.size > maxBytes) throw new PayloadTooLargeError(stats.size, maxBytes);
      buffer = await handle.readFile();
    } finally {
      await handle.close();
    }
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function localKey(pointer: DataPointer): string {
  if (pointer.kind !== 'local') {
    throw new ValidationError(`DirBlobStore cannot read a '${pointer.kind}' pointer`, [
      { path: 'pointer.kind', message: "expected 'local'" },
    ]);
  }
  return pointer.key;
}

/** A key that names nothing readable: absent, or a directory, or below a plain file. */
function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR';
}
