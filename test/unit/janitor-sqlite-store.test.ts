import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@meshpress/client';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../../server/src/store/sqlite/migrations.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';

/** The SQLite side of the janitor's store calls: the reference check is an index lookup, on old files too. */

const T0 = 1_700_000_000_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('SQLite payload references', () => {
  it('answers isPayloadReferenced from the partial sha256 index, not a table scan', () => {
    const db = new Database(':memory:');
    try {
      migrate(db, T0);
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT 1 FROM versions WHERE sha256 = ? AND pointer_kind <> 'direct' LIMIT 1",
        )
        .all('0'.repeat(64)) as { detail: string }[];
      expect(plan.map((row) => row.detail).join('\n')).toMatch(
        /USING (COVERING )?INDEX versions_payload_sha256/,
      );
    } finally {
      db.close();
    }
  });

  it('upgrades a file written before the index existed, and counts its blob references', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshpress-janitor-sqlite-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'store.db');
    const bytes = new TextEncoder().encode('a blob written by an older server');
    const sha = sha256Hex(bytes);

    // An older server: schema 1 only, one version stored in the blob directory.
    const old = new Database(path);
    old.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT',
    );
    old.exec(MIGRATIONS[0]!.sql);
    old.prepare('INSERT INTO schema_migrations VALUES (1, ?, ?)').run(MIGRATIONS[0]!.name, T0);
    old
      .prepare("INSERT INTO topics (name, latest_version, created_at, updated_at) VALUES ('t', 1, ?, ?)")
      .run(T0, T0);
    old
      .prepare(
        `INSERT INTO versions (topic, version, metadata, pointer_kind, pointer_json, size, sha256, content_type,
                               publisher, created_at, committed_at)
         VALUES ('t', 1, '{}', 'local', ?, ?, ?, 'text/plain', 'old', ?, ?)`,
      )
      .run(JSON.stringify({ key: `blobs/${sha}` }), bytes.byteLength, sha, T0, T0);
    old.close();

    const store = await SqliteConfigStore.open({ path });
    cleanups.push(() => store.close());
    expect(await store.isPayloadReferenced(sha)).toBe(true);
    expect(await store.deleteVersion('t', 1)).toBe(true);
    expect(await store.isPayloadReferenced(sha)).toBe(false);
  });
});
