import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type Clock, systemClock } from '../core/clock.js';
import type { VersionRecord } from '../core/model.js';
import { type Identity, identitySchema, TOPIC_NAME_PATTERN } from '../core/names.js';
import { SHA256_PATTERN } from '../core/sha256.js';
import { fromVersionView, toVersionView, versionView } from '../wire/rest-views.js';
import { verifyPayload } from './integrity.js';

/** Version of the on-disk layout; an entry of another format is ignored (a miss), never misread. */
export const DISK_CACHE_FORMAT = 1;

/**
 * A temporary file older than this is left by a crash in the middle of a write, not a write under way (one
 * takes milliseconds), and is removed when the cache is first written to.
 */
export const STALE_TEMP_FILE_MS = 10 * 60_000;

/** `.<name>.<12 hex>.tmp`, as #atomicWrite names them; the name is checked further by isCacheFileName. */
const TEMP_NAME = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

const entrySchema = z.object({
  format: z.literal(DISK_CACHE_FORMAT),
  topic: z.string(),
  identity: identitySchema,
  pinned: z.boolean(),
  savedAt: z.number(),
  record: versionView,
});

export interface DiskCacheEntry {
  readonly record: VersionRecord;
  readonly pinned: boolean;
  readonly data: Uint8Array;
  readonly savedAt: number;
}

/**
 * The last applied version of each topic, kept on local disk so a proxy restarting while both the
 * service and S3 are unreachable still starts with real configuration.
 *
 * Layout, per topic: `<topic>.json` (metadata: the version record, pinned flag, identity) and
 * `<topic>.<sha256>.data` (the payload). Both are written atomically (temp file, fsync, rename, fsync of
 * the directory), payload first, metadata last, so a crash at any point leaves the old entry or the new
 * one, never a mix. Reads verify size and sha256; anything that does not verify is a miss. An entry
 * saved under another identity is a miss too: it may be a version this node must not run.
 */
export class DiskCache {
  readonly #dir: string;
  readonly #identity: Identity;
  readonly #clock: Clock;
  #ready: Promise<void> | undefined;

  constructor(dir: string, identity: Identity, clock: Clock = systemClock) {
    this.#dir = dir;
    this.#identity = identity;
    this.#clock = clock;
  }

  get directory(): string {
    return this.#dir;
  }

  async write(entry: DiskCacheEntry): Promise<void> {
    const { record } = entry;
    assertSafe(record.topic, record.sha256);
    await this.#ensureDir();
    const dataName = `${record.topic}.${record.sha256}.data`;
    await this.#atomicWrite(dataName, entry.data);
    const meta = {
      format: DISK_CACHE_FORMAT,
      topic: record.topic,
      identity: this.#identity,
      pinned: entry.pinned,
      savedAt: entry.savedAt,
      record: toVersionView(record, { inlineData: false }),
    };
    await this.#atomicWrite(`${record.topic}.json`, Buffer.from(JSON.stringify(meta), 'utf8'));
    await this.#removeStaleData(record.topic, dataName);
  }

  /** The verified entry for `topic`, or undefined (absent, unreadable, corrupt, other identity or format). */
  async read(topic: string): Promise<DiskCacheEntry | undefined> {
    if (!TOPIC_NAME_PATTERN.test(topic)) return undefined;
    let meta: z.output<typeof entrySchema>;
    try {
      const parsed = entrySchema.safeParse(
        JSON.parse(await readFile(join(this.#dir, `${topic}.json`), 'utf8')),
      );
      if (!parsed.success) return undefined;
      meta = parsed.data;
    } catch {
      return undefined;
    }
    if (meta.topic !== topic || !sameIdentity(meta.identity, this.#identity)) return undefined;
    if (!SHA256_PATTERN.test(meta.record.sha256)) return undefined;
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(join(this.#dir, `${topic}.${meta.record.sha256}.data`)));
    } catch {
      return undefined;
    }
    const stored = fromVersionView(meta.record);
    // The metadata keeps no inline bytes; the record handed out looks as it did when it was applied.
    const record: VersionRecord =
      stored.pointer.kind === 'direct' ? { ...stored, pointer: { kind: 'direct', data } } : stored;
    try {
      verifyPayload(record, data, 'disk cache');
    } catch {
      return undefined;
    }
    return { record, pinned: meta.pinned, data, savedAt: meta.savedAt };
  }

  #ensureDir(): Promise<void> {
    this.#ready ??= mkdir(this.#dir, { recursive: true }).then(() => this.#removeStaleTemps());
    return this.#ready;
  }

  /**
   * Temporary files a crash left in the middle of a write are never read, but would pile up (a payload
   * copy each). Best effort: whatever cannot be listed, inspected or removed stays.
   */
  async #removeStaleTemps(): Promise<void> {
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    const before = this.#clock.now() - STALE_TEMP_FILE_MS;
    await Promise.all(
      names
        .filter((n) => isCacheFileName(TEMP_NAME.exec(n)?.[1]))
        .map(async (n) => {
          const path = join(this.#dir, n);
          try {
            const stats = await lstat(path);
            if (stats.isFile() && stats.mtimeMs < before) await rm(path, { force: true });
          } catch {
            // Gone meanwhile, or not ours to remove.
          }
        }),
    );
  }

  async #atomicWrite(name: string, data: Uint8Array): Promise<void> {
    const target = join(this.#dir, name);
    const temp = join(this.#dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'w', 0o644);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await this.#syncDir();
  }

  /** Makes the rename itself durable; some platforms cannot open a directory, which is then best effort. */
  async #syncDir(): Promise<void> {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(this.#dir, 'r');
      await handle.sync();
    } catch {
      // Not supported here (e.g. Windows); the file itself was fsynced.
    } finally {
      await handle?.close();
    }
  }

  async #removeStaleData(topic: string, keep: string): Promise<void> {
    const prefix = `${topic}.`;
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => n !== keep && n.startsWith(prefix) && n.endsWith('.data') && isDataFileOf(topic, n))
        .map((n) => rm(join(this.#dir, n), { force: true })),
    );
  }
}

/** `<topic>.json` or `<topic>.<64 hex>.data`: the only names this cache writes. */
function isCacheFileName(name: string | undefined): boolean {
  if (name === undefined) return false;
  if (name.endsWith('.json')) return TOPIC_NAME_PATTERN.test(name.slice(0, -'.json'.length));
  if (!name.endsWith('.data')) return false;
  const topic = name.slice(0, -'.data'.length - 65);
  return TOPIC_NAME_PATTERN.test(topic) && isDataFileOf(topic, name);
}

/** `<topic>.<64 hex>.data` exactly: another topic's name may start with this one's plus a dot. */
function isDataFileOf(topic: string, name: string): boolean {
  const middle = name.slice(topic.length + 1, -'.data'.length);
  return SHA256_PATTERN.test(middle);
}

function assertSafe(topic: string, sha256: string): void {
  if (!TOPIC_NAME_PATTERN.test(topic) || !SHA256_PATTERN.test(sha256))
    throw new RangeError(`cannot cache topic '${topic}' with sha256 '${sha256}'`);
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return (
    a.app === b.app &&
    a.cluster === b.cluster &&
    a.region === b.region &&
    a.node === b.node &&
    a.env === b.env
  );
}
