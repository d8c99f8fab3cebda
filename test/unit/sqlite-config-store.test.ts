import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConflictError,
  InternalError,
  ManualClock,
  sha256Hex,
  ValidationError,
  type VersionRecord,
} from '@meshpress/client';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { VersionDraft } from '../../server/src/store/config-store.js';
import { MIGRATIONS, migrate } from '../../server/src/store/sqlite/migrations.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { configStoreConformance } from '../conformance/config-store.js';

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'meshpress-sqlite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

configStoreConformance('SQLite in memory', async () => ({
  store: await SqliteConfigStore.open({ path: ':memory:' }),
}));

configStoreConformance('SQLite file', async () => {
  const { dir, remove } = await tempDir();
  // A missing parent directory is created on open.
  return { store: await SqliteConfigStore.open({ path: join(dir, 'data', 'store.db') }), cleanup: remove };
});

describe('SqliteConfigStore', () => {
  const T0 = 1_700_000_000_000;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function dbPath(): Promise<string> {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    return join(dir, 'store.db');
  }

  async function open(path: string, clock = new ManualClock(T0)): Promise<SqliteConfigStore> {
    const store = await SqliteConfigStore.open({ path, clock });
    cleanups.push(() => store.close());
    return store;
  }

  function draft(topic: string, version: number, text = `v${version}`): VersionDraft {
    const data = new TextEncoder().encode(text);
    return {
      topic,
      version,
      metadata: { build: text },
      pointer: { kind: 'direct', data },
      size: data.byteLength,
      sha256: sha256Hex(data),
      contentType: 'text/plain',
      publisher: 'ci',
      createdAt: T0,
    };
  }

  it('keeps topics, versions, payloads and pins across a reopen of the file', async () => {
    const path = await dbPath();
    const first = await open(path);
    await first.putTopic(
      { name: 'mesh.prod.routes', retention: { maxVersions: 3 }, kind: 'mesh.routes.v1' },
      T0,
    );
    const version = await first.allocateVersion('mesh.prod.routes');
    await first.writeVersion(draft('mesh.prod.routes', version, 'payload bytes'));
    await first.addScopes('mesh.prod.routes', version, ['*'], T0 + 1);
    await first.commitVersion('mesh.prod.routes', version, T0 + 2);
    await first.setPin('mesh.prod.routes', { scope: '*', version, reason: 'r', author: 'a', setAt: T0 + 3 });
    const before = {
      topic: await first.getTopic('mesh.prod.routes'),
      version: await first.getVersion('mesh.prod.routes', version),
      snapshot: await first.loadTopicSnapshot('mesh.prod.routes'),
      history: await first.pinHistory('mesh.prod.routes'),
    };
    await first.close();

    const second = await open(path);
    expect({
      topic: await second.getTopic('mesh.prod.routes'),
      version: await second.getVersion('mesh.prod.routes', version),
      snapshot: await second.loadTopicSnapshot('mesh.prod.routes'),
      history: await second.pinHistory('mesh.prod.routes'),
    }).toEqual(before);
    const reread = (await second.getVersion('mesh.prod.routes', version)) as VersionRecord;
    if (reread.pointer.kind !== 'direct') throw new Error('expected a direct pointer');
    expect(new TextDecoder().decode(reread.pointer.data)).toBe('payload bytes');
    expect(await second.allocateVersion('mesh.prod.routes')).toBe(version + 1);
  });

  it('never hands the same number to two connections sharing the file', async () => {
    const path = await dbPath();
    const a = await open(path);
    await a.putTopic({ name: 'shared', retention: {} }, T0);
    const b = await open(path);
    const numbers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).allocateVersion('shared')),
    );
    expect([...numbers].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('applies each migration once, however often the file is opened or migrated', async () => {
    const path = await dbPath();
    await (await open(path, new ManualClock(T0))).close();
    await (await open(path, new ManualClock(T0 + 1_000))).close();

    const db = new Database(path);
    cleanups.push(async () => void db.close());
    expect(migrate(db, T0 + 2_000)).toEqual([]);
    expect(
      db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all(),
    ).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: T0 })));
  });

  it('refuses to open a file whose schema is newer than this server knows', async () => {
    const path = await dbPath();
    await (await open(path)).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();

    await expect(SqliteConfigStore.open({ path })).rejects.toBeInstanceOf(InternalError);
  });

  it('rejects bad options with a ValidationError naming the field', async () => {
    await expect(SqliteConfigStore.open({ path: '' })).rejects.toMatchObject({
      constructor: ValidationError,
      issues: [expect.objectContaining({ path: 'path' })],
    });
    await expect(SqliteConfigStore.open({ path: ':memory:', busyTimeoutMs: -1 })).rejects.toMatchObject({
      issues: [expect.objectContaining({ path: 'busyTimeoutMs' })],
    });
  });

  it('accepts a repeated identical write of a version but refuses to change it', async () => {
    const store = await open(':memory:');
    await store.putTopic({ name: 'immutable', retention: {} }, T0);
    const version = await store.allocateVersion('immutable');
    await store.writeVersion(draft('immutable', version, 'original'));
    await store.writeVersion(draft('immutable', version, 'original'));
    await store.commitVersion('immutable', version, T0);

    await expect(store.writeVersion(draft('immutable', version, 'changed'))).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await store.getVersion('immutable', version))?.metadata).toEqual({ build: 'original' });
  });

  it('refuses to write a version number that was never allocated', async () => {
    const store = await open(':memory:');
    await store.putTopic({ name: 'unallocated', retention: {} }, T0);
    await expect(store.writeVersion(draft('unallocated', 1))).rejects.toBeInstanceOf(ConflictError);
    expect(await store.allocateVersion('unallocated')).toBe(1);
    await store.writeVersion(draft('unallocated', 1));
    expect((await store.getVersion('unallocated', 1))?.version).toBe(1);
  });
});
