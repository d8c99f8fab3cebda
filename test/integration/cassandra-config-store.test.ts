import { randomBytes } from 'node:crypto';
import {
  ConflictError,
  InternalError,
  ManualClock,
  sha256Hex,
  systemClock,
  UnavailableError,
  ValidationError,
} from '@meshpress/client';
import { Client, types } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CassandraConfigStore } from '../../server/src/store/cassandra/cassandra-config-store.js';
import { migrate } from '../../server/src/store/cassandra/migrate.js';
import { CASSANDRA_MIGRATIONS } from '../../server/src/store/cassandra/migrations.js';
import {
  type CassandraConfigStoreOptions,
  parseReplication,
} from '../../server/src/store/cassandra/options.js';
import { CqlSession } from '../../server/src/store/cassandra/session.js';
import type { VersionDraft } from '../../server/src/store/config-store.js';
import { configStoreConformance } from '../conformance/config-store.js';
import { type CassandraService, freePort, startCassandra } from '../support/services/index.js';

const T0 = 1_700_000_000_000;

let cassandra: CassandraService;
/** A plain driver client for looking behind the store's back and for dropping keyspaces. */
let admin: Client;
const keyspaces = new Set<string>();

beforeAll(async () => {
  cassandra = await startCassandra();
  admin = new Client({
    contactPoints: cassandra.contactPoints,
    localDataCenter: cassandra.localDataCenter,
    protocolOptions: { port: cassandra.port },
  });
  await admin.connect();
});

afterAll(async () => {
  // Matters on a shared Cassandra (MESHPRESS_TEST_CASSANDRA_URL); a local daemon goes away whole.
  for (const keyspace of keyspaces) await admin?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await admin?.shutdown();
  await cassandra?.stop();
});

/** A keyspace no other run uses, dropped after the file. */
function freshKeyspace(label: string): string {
  const keyspace = `mp_${label}_${randomBytes(4).toString('hex')}`;
  keyspaces.add(keyspace);
  return keyspace;
}

function options(
  keyspace: string,
  extra: Partial<CassandraConfigStoreOptions> = {},
): CassandraConfigStoreOptions {
  return {
    contactPoints: cassandra.contactPoints,
    localDataCenter: cassandra.localDataCenter,
    port: cassandra.port,
    keyspace,
    replication: { class: 'SimpleStrategy', replicationFactor: 1 },
    ...extra,
  };
}

// Every factory call (shared store, close tests) opens the same fresh keyspace: later opens find the
// schema in place, as every server instance after the first does.
let conformanceKeyspace: string | undefined;
configStoreConformance('Cassandra', async () => {
  conformanceKeyspace ??= freshKeyspace('conformance');
  return { store: await CassandraConfigStore.open(options(conformanceKeyspace)) };
});

function draft(topic: string, version: number): VersionDraft {
  const data = new TextEncoder().encode(`${topic} v${version}`);
  return {
    topic,
    version,
    metadata: { build: `b${version}` },
    pointer: { kind: 'direct', data },
    size: data.byteLength,
    sha256: sha256Hex(data),
    contentType: 'text/plain',
    publisher: 'ci',
    createdAt: T0 + version,
  };
}

async function publish(store: CassandraConfigStore, topic: string, at: number): Promise<number> {
  const version = await store.allocateVersion(topic);
  await store.writeVersion(draft(topic, version));
  await store.addScopes(topic, version, ['*'], at);
  await store.commitVersion(topic, version, at);
  return version;
}

describe('CassandraConfigStore', () => {
  describe('schema', () => {
    it('creates the keyspace with the configured replication and records each migration once', async () => {
      const keyspace = freshKeyspace('schema');
      const first = await CassandraConfigStore.open(options(keyspace, { clock: new ManualClock(T0) }));
      await first.putTopic({ name: 'mesh.prod.routes', retention: {} }, T0);
      await first.close();
      // A reopen, as after a restart or by a second instance, applies nothing and keeps the data.
      const second = await CassandraConfigStore.open(options(keyspace, { clock: new ManualClock(T0 + 5) }));
      try {
        expect((await second.getTopic('mesh.prod.routes'))?.createdAt).toBe(T0);
      } finally {
        await second.close();
      }

      const applied = await admin.execute(
        `SELECT version, name, applied_at FROM ${keyspace}.schema_migrations`,
      );
      expect(
        applied.rows
          .map((r) => [r.get('version'), r.get('name'), (r.get('applied_at') as Date).getTime()])
          .sort((x, y) => (x[0] as number) - (y[0] as number)),
      ).toEqual([
        [1, 'initial', T0],
        [2, 'payload references', T0],
        [3, 'topic change markers', T0],
        [4, 'pin clock', T0],
      ]);
      const replication = await admin.execute(
        'SELECT strategy_class, strategy_options FROM system.schema_keyspaces WHERE keyspace_name = ?',
        [keyspace],
        { prepare: true },
      );
      const row = replication.first();
      // Cassandra 2.1 keeps keyspaces in system.schema_keyspaces; newer versions have system_schema.
      if (row) {
        expect(row.get('strategy_class')).toMatch(/SimpleStrategy$/);
        expect(JSON.parse(row.get('strategy_options') as string)).toEqual({ replication_factor: '1' });
      }
    });

    it('applies later migrations in order, exactly once, even after one was cut short', async () => {
      const keyspace = freshKeyspace('history');
      const session = new CqlSession(admin, types.consistencies.localQuorum, types.consistencies.serial);
      // The system clock: an instance waiting for the migration lock polls on it.
      const base = { keyspace, replication: parseReplication('SimpleStrategy:1'), clock: systemClock };
      expect(await migrate(session, base)).toEqual([1, 2, 3, 4]);

      const history = [
        ...CASSANDRA_MIGRATIONS,
        {
          version: 5,
          name: 'topic owner',
          statements: (ks: string) => [`ALTER TABLE ${ks}.topics ADD owner text`],
        },
        {
          version: 6,
          name: 'topic labels',
          statements: (ks: string) => [
            `CREATE TABLE IF NOT EXISTS ${ks}.topic_labels (topic text PRIMARY KEY, label text)`,
          ],
        },
      ];
      // Instances upgraded together: the lock lets exactly one of them apply each migration.
      const together = await Promise.all([
        migrate(session, { ...base, migrations: history }),
        migrate(session, { ...base, migrations: history }),
      ]);
      expect(together.flat().sort()).toEqual([5, 6]);
      expect(await migrate(session, { ...base, migrations: history })).toEqual([]);

      // A crash after migration 5's ALTER but before its record: the re-run finds the column and moves on.
      await admin.execute(`DELETE FROM ${keyspace}.schema_migrations WHERE version = 5`);
      expect(await migrate(session, { ...base, migrations: history })).toEqual([5]);
      await admin.execute(`INSERT INTO ${keyspace}.topics (name, owner) VALUES ('t', 'team-a')`);
      const versions = await admin.execute(`SELECT version FROM ${keyspace}.schema_migrations`);
      expect(versions.rows.map((r) => r.get('version') as number).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('lets an instance that does not migrate open only once the schema is current', async () => {
      const keyspace = freshKeyspace('deploy');
      const follower = options(keyspace, { migrate: false });
      await expect(CassandraConfigStore.open(follower)).rejects.toBeInstanceOf(UnavailableError);

      expect(await CassandraConfigStore.migrate(options(keyspace))).toEqual([1, 2, 3, 4]);
      expect(await CassandraConfigStore.migrate(options(keyspace))).toEqual([]);
      const store = await CassandraConfigStore.open(follower);
      try {
        expect((await store.putTopic({ name: 'mesh.prod.routes', retention: {} }, T0)).created).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('fills payload_refs from the versions an older schema holds, when migrating to it', async () => {
      const keyspace = freshKeyspace('backfill');
      const session = new CqlSession(admin, types.consistencies.localQuorum, types.consistencies.serial);
      const base = { keyspace, replication: parseReplication('SimpleStrategy:1'), clock: systemClock };
      expect(await migrate(session, { ...base, migrations: CASSANDRA_MIGRATIONS.slice(0, 1) })).toEqual([1]);
      // Written by a server that knew only migration 1: a blob-stored version and an inline one.
      const blob = sha256Hex(randomBytes(32));
      const inline = sha256Hex(randomBytes(32));
      const insert = `INSERT INTO ${keyspace}.versions (topic, version, pointer_kind, pointer_json, sha256)
        VALUES (?, ?, ?, ?, ?)`;
      await admin.execute(
        insert,
        ['t', 1, 's3', JSON.stringify([{ region: 'r', bucket: 'b', key: `blobs/${blob}` }]), blob],
        {
          prepare: true,
        },
      );
      await admin.execute(insert, ['t', 2, 'direct', null, inline], { prepare: true });

      const store = await CassandraConfigStore.open(options(keyspace));
      try {
        expect(await store.isPayloadReferenced(blob)).toBe(true);
        expect(await store.isPayloadReferenced(inline)).toBe(false);
      } finally {
        await store.close();
      }
      const refs = await admin.execute(`SELECT sha256, topic, version FROM ${keyspace}.payload_refs`);
      expect(refs.rows.map((r) => [r.get('sha256'), r.get('topic'), r.get('version')])).toEqual([
        [blob, 't', 1],
      ]);
    });

    it('lists topics created before change markers existed, and moves their marker on the next change', async () => {
      const keyspace = freshKeyspace('markers');
      const session = new CqlSession(admin, types.consistencies.localQuorum, types.consistencies.serial);
      const base = { keyspace, replication: parseReplication('SimpleStrategy:1'), clock: systemClock };
      expect(await migrate(session, { ...base, migrations: CASSANDRA_MIGRATIONS.slice(0, 2) })).toEqual([
        1, 2,
      ]);
      // A topic as a server that knew only migrations 1 and 2 created it: no topic_changes row.
      const at = new Date(T0);
      await admin.execute(
        `INSERT INTO ${keyspace}.topics (name, created_at, updated_at) VALUES (?, ?, ?)`,
        ['mesh.old', at, at],
        { prepare: true },
      );
      await admin.execute(`INSERT INTO ${keyspace}.topic_index (bucket, name) VALUES (0, 'mesh.old')`);
      await admin.execute(`INSERT INTO ${keyspace}.version_counters (topic, latest) VALUES ('mesh.old', 0)`);

      const store = await CassandraConfigStore.open(options(keyspace));
      try {
        const [before] = await store.listTopicChanges({ limit: 10 });
        expect(before?.name).toBe('mesh.old');
        expect((await store.loadTopicSnapshot('mesh.old'))?.changeMarker).toBe(before?.changeMarker);
        await store.putTopic({ name: 'mesh.old', retention: { maxVersions: 2 } }, T0 + 1);
        const [after] = await store.listTopicChanges({ limit: 10 });
        expect(after?.name).toBe('mesh.old');
        expect(after?.changeMarker).not.toBe(before?.changeMarker);
      } finally {
        await store.close();
      }
    });

    it('purges a version behind a lightweight-transaction commit marker, on protocol v3', async () => {
      const keyspace = freshKeyspace('purge');
      const store = await CassandraConfigStore.open(options(keyspace, { protocolVersion: 3 }));
      try {
        const topic = 'mesh.prod.purged';
        await store.putTopic({ name: topic, retention: { maxVersions: 1 } }, T0);
        const v1 = await publish(store, topic, T0 + 1);
        const v2 = await publish(store, topic, T0 + 2);
        expect(await store.deleteVersion(topic, v1)).toBe(true);
        for (const table of ['version_commits', 'version_scopes', 'versions']) {
          const left = await admin.execute(
            `SELECT version FROM ${keyspace}.${table} WHERE topic = ?`,
            [topic],
            {
              prepare: true,
            },
          );
          expect(left.rows.map((r) => r.get('version'))).toEqual([v2]);
        }
      } finally {
        await store.close();
      }
    });

    it('refuses a keyspace whose schema is newer than this server knows', async () => {
      const keyspace = freshKeyspace('newer');
      const store = await CassandraConfigStore.open(options(keyspace));
      await store.close();
      await admin.execute(`INSERT INTO ${keyspace}.schema_migrations (version, name) VALUES (99, 'future')`);
      await expect(CassandraConfigStore.open(options(keyspace))).rejects.toBeInstanceOf(InternalError);
    });
  });

  describe('several server instances on one keyspace', () => {
    let keyspace: string;
    let a: CassandraConfigStore;
    let b: CassandraConfigStore;

    beforeAll(async () => {
      keyspace = freshKeyspace('instances');
      // As deployed: the first instance creates the schema, the next ones find it.
      a = await CassandraConfigStore.open(options(keyspace));
      // Pinned to protocol v3 (what Cassandra 2.1 speaks) rather than negotiated, as a 2.1 deployment would.
      b = await CassandraConfigStore.open(options(keyspace, { migrate: false, protocolVersion: 3 }));
    });
    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
    });

    it("sees the other instance's topics, committed versions and pins", async () => {
      const topic = 'mesh.prod.inventory.routes';
      await a.putTopic({ name: topic, retention: { maxVersions: 5 }, kind: 'mesh.routes.v1' }, T0);
      const v1 = await publish(a, topic, T0 + 10);
      await a.setPin(topic, {
        scope: 'app=payments',
        version: v1,
        reason: 'hold',
        author: 'oncall',
        setAt: T0 + 20,
      });
      const v2 = await a.allocateVersion(topic);
      await a.writeVersion(draft(topic, v2));

      expect(await b.getTopic(topic)).toEqual(await a.getTopic(topic));
      expect((await b.listTopics({ limit: 10 })).map((t) => t.name)).toEqual([topic]);
      expect(await b.getVersion(topic, v1)).toEqual(await a.getVersion(topic, v1));
      // v2 has no commit marker yet: neither instance serves it.
      expect((await b.listVersions(topic, { limit: 10 })).versions.map((v) => v.version)).toEqual([v1]);
      const [listed] = await a.listTopicChanges({ limit: 10 });
      expect(await b.loadTopicSnapshot(topic)).toEqual({
        changeMarker: listed?.changeMarker,
        topic: await a.getTopic(topic),
        pins: [{ scope: 'app=payments', version: v1, reason: 'hold', author: 'oncall', setAt: T0 + 20 }],
        publishes: [{ version: v1, scope: '*', visibleAt: T0 + 10 }],
      });

      // B finishes the publish A started; A sees it.
      await b.addScopes(topic, v2, ['*'], T0 + 30);
      await b.commitVersion(topic, v2, T0 + 30);
      expect((await a.listVersions(topic, { limit: 10 })).versions.map((v) => v.version)).toEqual([v2, v1]);
      const [moved] = await a.listTopicChanges({ limit: 10 });
      expect(moved?.changeMarker).not.toBe(listed?.changeMarker);
      expect(
        await b.removePin(topic, 'app=payments', { author: 'oncall', reason: 'done', at: T0 + 40 }),
      ).toBe(true);
      expect(await a.listPins(topic)).toEqual([]);
      expect((await a.pinHistory(topic)).map((e) => [e.at, e.version])).toEqual([
        [T0 + 20, v1],
        [T0 + 40, undefined],
      ]);
    });

    it('never hands out a version number twice across instances allocating at once', async () => {
      const topic = 'mesh.prod.contended';
      await a.putTopic({ name: topic, retention: {} }, T0);
      const perInstance = 40;
      // Bursts from both instances interleave, so their compare-and-set rounds collide.
      const bursts = await Promise.all(
        [a, b, a, b].map((store) =>
          Promise.all(Array.from({ length: perInstance / 2 }, () => store.allocateVersion(topic))),
        ),
      );
      const numbers = bursts.flat().sort((x, y) => x - y);
      expect(numbers).toEqual(Array.from({ length: 2 * perInstance }, (_, i) => i + 1));
      expect((await b.getTopic(topic))?.latestVersion).toBe(2 * perInstance);
    });

    it('accepts a retried version write from another instance, and refuses a different or unallocated one', async () => {
      const topic = 'mesh.prod.immutable';
      await a.putTopic({ name: topic, retention: {} }, T0);
      const version = await a.allocateVersion(topic);
      await a.writeVersion(draft(topic, version));
      await b.writeVersion(draft(topic, version));

      await expect(
        b.writeVersion({ ...draft(topic, version), publisher: 'someone-else' }),
      ).rejects.toBeInstanceOf(ConflictError);
      await expect(b.writeVersion(draft(topic, version + 1))).rejects.toBeInstanceOf(ConflictError);
      expect((await a.getVersion(topic, version))?.publisher).toBe('ci');
      expect(await a.getVersion(topic, version + 1)).toBeUndefined();
    });

    it("orders pins by Paxos, not by the instances' clocks: a pin from an instance running behind wins over an earlier unpin, and is timed after it", async () => {
      const topic = 'mesh.prod.skewed';
      await a.putTopic({ name: topic, retention: {} }, T0);
      const v1 = await publish(a, topic, T0 + 1);
      const v2 = await publish(a, topic, T0 + 2);
      const pin = (scope: string, version: number, setAt: number) => ({
        scope,
        version,
        reason: 'rollback',
        author: 'oncall',
        setAt,
      });
      const unpin = (at: number) => ({ author: 'oncall', reason: 'done', at });

      // C: an instance whose clock runs 5 s behind A's, from its first request on. Its driver stamps plain
      // writes with Date.now (the default monotonic timestamp generator), so it is mocked before C opens.
      const realNow = Date.now.bind(Date);
      const behind = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 5_000);
      let c: CassandraConfigStore | undefined;
      try {
        c = await CassandraConfigStore.open(options(keyspace, { migrate: false }));
        await a.setPin(topic, pin('*', v1, T0 + 10));
        expect(await a.removePin(topic, '*', unpin(T0 + 11))).toBe(true);
        // Acknowledged after the unpin: it must stand.
        await c.setPin(topic, pin('*', v2, T0 + 12));
        expect((await a.listPins(topic)).map((p) => [p.scope, p.version])).toEqual([['*', v2]]);

        // The mirror case: an unpin from the slow instance after a re-pin from the fast one removes it.
        await a.setPin(topic, pin('*', v1, T0 + 13));
        expect(await c.removePin(topic, '*', unpin(T0 + 14))).toBe(true);
        expect(await b.listPins(topic)).toEqual([]);

        // Successive re-pins of one scope from the two instances: the later one stands.
        await a.setPin(topic, pin('app=payments', v1, T0 + 15));
        await c.setPin(topic, pin('app=payments', v2, T0 + 16));
        expect((await b.listPins(topic)).map((p) => [p.scope, p.version, p.setAt])).toEqual([
          ['app=payments', v2, T0 + 16],
        ]);
        // A removal finding no pin records nothing.
        expect(await c.removePin(topic, 'app=checkout', unpin(T0 + 17))).toBe(false);

        // Equally specific pins of two scopes, the later one asked for by the instance running behind
        // (its service's clock reads 5 ms earlier): the pin clock lives in the topic's partition, so C
        // times it after A's, and resolution's "most recently set wins" picks it.
        await a.setPin(topic, pin('region=eu', v1, T0 + 30));
        expect(await c.setPin(topic, pin('app=checkout', v2, T0 + 25))).toEqual(
          pin('app=checkout', v2, T0 + 31),
        );
        expect(
          (await b.listPins(topic)).filter((p) => p.scope !== 'app=payments').map((p) => [p.scope, p.setAt]),
        ).toEqual([
          ['app=checkout', T0 + 31],
          ['region=eu', T0 + 30],
        ]);
      } finally {
        behind.mockRestore();
        await c?.close();
      }
      expect((await a.pinHistory(topic)).map((e) => [e.scope, e.version, e.at])).toEqual([
        ['*', v1, T0 + 10],
        ['*', undefined, T0 + 11],
        ['*', v2, T0 + 12],
        ['*', v1, T0 + 13],
        ['*', undefined, T0 + 14],
        ['app=payments', v1, T0 + 15],
        ['app=payments', v2, T0 + 16],
        ['region=eu', v1, T0 + 30],
        ['app=checkout', v2, T0 + 31],
      ]);
    });

    it('applies concurrent pin changes of one topic from both instances, each at its own time, in one order', async () => {
      const topic = 'mesh.prod.pin-storm';
      await a.putTopic({ name: topic, retention: {} }, T0);
      const v1 = await publish(a, topic, T0 + 1);
      // Eight scopes pinned at once, all asking for the same instant: their transactions collide on the
      // topic's pin clock and retry until each has its turn.
      const stored = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? a : b).setPin(topic, {
            scope: `app=a${i}`,
            version: v1,
            reason: 'hold',
            author: 'oncall',
            setAt: T0 + 10,
          }),
        ),
      );
      const times = stored.map((p) => p.setAt).sort((x, y) => x - y);
      expect(times).toEqual(Array.from({ length: 8 }, (_, i) => T0 + 10 + i));
      expect((await b.listPins(topic)).map((p) => [p.scope, p.setAt]).sort()).toEqual(
        stored.map((p) => [p.scope, p.setAt]).sort(),
      );
      const history = await a.pinHistory(topic);
      expect(history.map((e) => e.at)).toEqual(times);
      expect(history.map((e) => e.scope).sort()).toEqual(stored.map((p) => p.scope).sort());
    });

    it('leaves no row once the last pin is gone, and times the next pin after the removal', async () => {
      const topic = 'mesh.prod.pin-clear';
      await a.putTopic({ name: topic, retention: {} }, T0);
      const v1 = await publish(a, topic, T0 + 1);
      const hold = { version: v1, reason: 'hold', author: 'oncall' };
      const rowsLeft = async () =>
        (await admin.execute(`SELECT * FROM ${keyspace}.pins WHERE topic = ?`, [topic], { prepare: true }))
          .rowLength;

      await a.setPin(topic, { scope: 'app=a', ...hold, setAt: T0 + 10 });
      await b.setPin(topic, { scope: 'app=b', ...hold, setAt: T0 + 20 });
      expect(await b.removePin(topic, 'app=a', { author: 'oncall', reason: 'ok', at: T0 + 30 })).toBe(true);
      expect(await a.removePin(topic, 'app=b', { author: 'oncall', reason: 'ok', at: T0 + 40 })).toBe(true);
      // Not even the pin clock: a server of the version before it, still running during an upgrade, reads
      // every row of the partition as a pin.
      expect(await rowsLeft()).toBe(0);
      expect(await a.listPins(topic)).toEqual([]);

      // The clock starts again from the history: a pin asked for by a clock behind is timed after the
      // removal it follows.
      expect((await b.setPin(topic, { scope: 'app=c', ...hold, setAt: T0 + 35 })).setAt).toBe(T0 + 41);
      expect((await a.pinHistory(topic)).map((e) => [e.scope, e.at])).toEqual([
        ['app=a', T0 + 10],
        ['app=b', T0 + 20],
        ['app=a', T0 + 30],
        ['app=b', T0 + 40],
        ['app=c', T0 + 41],
      ]);
    });

    it('replaces pins written before every pin write was a lightweight transaction', async () => {
      const topic = 'mesh.prod.legacy-pins';
      await a.putTopic({ name: topic, retention: {} }, T0);
      const v1 = await publish(a, topic, T0 + 1);
      // Rows as an older server wrote them: a plain insert, and one without set_at.
      await admin.execute(
        `INSERT INTO ${keyspace}.pins (topic, scope, version, reason, author, set_at) VALUES (?, ?, ?, ?, ?, ?)`,
        [topic, '*', v1, 'old', 'ops', new Date(T0 + 50)],
        { prepare: true },
      );
      await admin.execute(
        `INSERT INTO ${keyspace}.pins (topic, scope, version) VALUES (?, ?, ?)`,
        [topic, 'app=a', v1],
        {
          prepare: true,
        },
      );
      const repin = { version: v1, reason: 'new', author: 'ops', setAt: T0 + 3 };
      // The first change since the pin clock existed starts it after the pins already there.
      expect((await b.setPin(topic, { scope: '*', ...repin })).setAt).toBe(T0 + 51);
      expect((await b.setPin(topic, { scope: 'app=a', ...repin })).setAt).toBe(T0 + 52);
      expect((await a.listPins(topic)).map((p) => [p.scope, p.reason])).toEqual([
        ['*', 'new'],
        ['app=a', 'new'],
      ]);
      expect(await a.removePin(topic, '*', { author: 'ops', reason: 'done', at: T0 + 4 })).toBe(true);
      expect((await b.listPins(topic)).map((p) => p.scope)).toEqual(['app=a']);
    });

    it('creates a topic exactly once when both instances create it at the same moment', async () => {
      const topic = 'mesh.prod.raced';
      const results = await Promise.all([
        a.putTopic({ name: topic, retention: {} }, T0),
        b.putTopic({ name: topic, retention: {} }, T0 + 1),
      ]);
      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
      expect((await a.getTopic(topic))?.createdAt).toBe(results.find((r) => r.created)?.topic.createdAt);
    });
  });

  describe('options and failures', () => {
    it('rejects invalid options with ValidationError naming the field', async () => {
      const bad = CassandraConfigStore.open({ ...options('Not-Valid'), consistency: 'SOMETIMES' } as never);
      const error = await bad.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual([
        'consistency',
        'keyspace',
      ]);
    });

    it('reads replication from its compact text form', () => {
      expect(parseReplication('SimpleStrategy:3')).toEqual({ class: 'SimpleStrategy', replicationFactor: 3 });
      expect(parseReplication('NetworkTopologyStrategy:us-east=3, eu-west=2')).toEqual({
        class: 'NetworkTopologyStrategy',
        dataCenters: { 'us-east': 3, 'eu-west': 2 },
      });
      expect(() => parseReplication('NetworkTopologyStrategy:')).toThrow(ValidationError);
      expect(() => parseReplication('SimpleStrategy:zero')).toThrow(ValidationError);
    });

    it('reports a cluster it cannot reach as UnavailableError', async () => {
      const port = await freePort();
      const error = await CassandraConfigStore.open({
        ...options(freshKeyspace('unreachable')),
        contactPoints: [`127.0.0.1:${port}`],
        port,
        connectTimeoutMs: 1_000,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as UnavailableError).cause).toBeDefined();
    });
  });
});
