import { randomBytes } from 'node:crypto';
import {
  ClosedError,
  type DataPointer,
  type Metadata,
  type PinRecord,
  type ScopedPublish,
  sha256Hex,
  TopicNotFoundError,
  VersionNotFoundError,
} from '@meshpress/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigStore, TopicSpec, VersionDraft } from '../../server/src/store/config-store.js';

export interface ConfigStoreHandle {
  readonly store: ConfigStore;
  /** Runs after the store is closed: drop files, keyspaces, containers. */
  readonly cleanup?: () => Promise<void>;
}

/**
 * The behaviour every ConfigStore must show, whatever the backend. The factory is called once for the
 * shared store (and again by the close tests); the store may already hold data, since every test works
 * on topics named uniquely for this run. Setup uses Promise.all where order does not matter, so a
 * networked backend pays a handful of round trips per test, not hundreds.
 */
export function configStoreConformance(name: string, factory: () => Promise<ConfigStoreHandle>): void {
  describe(`ConfigStore conformance: ${name}`, () => {
    const T0 = 1_700_000_000_000;
    const runId = randomBytes(4).toString('hex');
    let counter = 0;
    let handle: ConfigStoreHandle;
    let store: ConfigStore;

    beforeAll(async () => {
      handle = await factory();
      store = handle.store;
    });
    afterAll(async () => {
      await store?.close();
      await handle?.cleanup?.();
    });

    const topicName = (label: string) => `conf-${runId}-${++counter}-${label}`;

    async function createTopic(label: string, spec: Partial<TopicSpec> = {}): Promise<string> {
      const name = topicName(label);
      await store.putTopic({ name, retention: { maxVersions: 10 }, ...spec }, T0);
      return name;
    }

    function payload(topic: string, version: number): Uint8Array {
      return new TextEncoder().encode(`payload of ${topic} v${version}`);
    }

    function draft(
      topic: string,
      version: number,
      options: { data?: Uint8Array; pointer?: DataPointer; metadata?: Metadata; createdAt?: number } = {},
    ): VersionDraft {
      const data = options.data ?? payload(topic, version);
      return {
        topic,
        version,
        metadata: options.metadata ?? { build: `b${version}` },
        pointer: options.pointer ?? { kind: 'direct', data },
        size: data.byteLength,
        sha256: sha256Hex(data),
        contentType: 'application/octet-stream',
        publisher: 'conformance',
        createdAt: options.createdAt ?? T0 + version,
      };
    }

    /** A complete publish in the documented order: allocate, record, scopes, commit marker. */
    async function publish(topic: string, scopes: readonly string[], at: number): Promise<number> {
      const version = await store.allocateVersion(topic);
      await store.writeVersion(draft(topic, version, { createdAt: at }));
      await store.addScopes(topic, version, scopes, at);
      await store.commitVersion(topic, version, at);
      return version;
    }

    /** Byte-exact equality; compared by digest because deep-equal on large arrays is slow. */
    function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
      expect(actual).toBeInstanceOf(Uint8Array);
      expect(actual.byteLength).toBe(expected.byteLength);
      expect(sha256Hex(actual)).toBe(sha256Hex(expected));
    }

    const byVersionThenScope = (a: ScopedPublish, b: ScopedPublish) =>
      a.version - b.version || (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0);

    describe('topics', () => {
      it('creates a topic with no versions yet and says it created it', async () => {
        const name = topicName('create');
        const result = await store.putTopic(
          {
            name,
            retention: { maxVersions: 5, maxAgeDays: 7 },
            kind: 'mesh.routes.v1',
            description: 'routes of inventory',
          },
          T0,
        );
        const expected = {
          name,
          retention: { maxVersions: 5, maxAgeDays: 7 },
          kind: 'mesh.routes.v1',
          description: 'routes of inventory',
          latestVersion: 0,
          createdAt: T0,
          updatedAt: T0,
        };
        expect(result).toEqual({ created: true, topic: expected });
        expect(await store.getTopic(name)).toEqual(expected);
      });

      it('updates retention, kind and description in place, keeping createdAt and latestVersion', async () => {
        const name = await createTopic('update', { kind: 'mesh.routes.v1', description: 'first' });
        await store.allocateVersion(name);

        const updated = await store.putTopic(
          { name, retention: { maxAgeDays: 30 }, kind: 'mesh.policy.v1' },
          T0 + 1_000,
        );
        const expected = {
          name,
          retention: { maxAgeDays: 30 },
          kind: 'mesh.policy.v1',
          latestVersion: 1,
          createdAt: T0,
          updatedAt: T0 + 1_000,
        };
        expect(updated).toEqual({ created: false, topic: expected });
        expect(updated.topic.description).toBeUndefined();
        expect(await store.getTopic(name)).toEqual(expected);

        const opaque = await store.putTopic({ name, retention: { maxVersions: 3 } }, T0 + 2_000);
        expect(opaque.created).toBe(false);
        expect(opaque.topic.kind).toBeUndefined();
        expect(opaque.topic.retention).toEqual({ maxVersions: 3 });
        expect(opaque.topic.updatedAt).toBe(T0 + 2_000);
        expect(opaque.topic.createdAt).toBe(T0);
      });

      it('lists topics in name order, page by page after the last name seen', async () => {
        const prefix = topicName('list');
        const names = ['e', 'c', 'a', 'd', 'b'].map((suffix) => `${prefix}.${suffix}`);
        await Promise.all(names.map((name, i) => store.putTopic({ name, retention: {} }, T0 + i)));

        const first = await store.listTopics({ after: prefix, limit: 2 });
        expect(first.map((t) => t.name)).toEqual([`${prefix}.a`, `${prefix}.b`]);
        expect(first[0]).toEqual(await store.getTopic(`${prefix}.a`));
        const second = await store.listTopics({ after: first[1]!.name, limit: 2 });
        expect(second.map((t) => t.name)).toEqual([`${prefix}.c`, `${prefix}.d`]);
        const third = await store.listTopics({ after: second[1]!.name, limit: 2 });
        expect(third.map((t) => t.name).filter((n) => n.startsWith(prefix))).toEqual([`${prefix}.e`]);

        const fromStart = (await store.listTopics({ limit: 50 })).map((t) => t.name);
        expect(fromStart.length).toBeGreaterThan(0);
        expect(fromStart).toEqual([...fromStart].sort());
      });
    });

    describe('version allocation', () => {
      it('fails with TopicNotFoundError for an unknown topic', async () => {
        await expect(store.allocateVersion(topicName('missing'))).rejects.toBeInstanceOf(TopicNotFoundError);
      });

      it('counts up from 1 and never hands a number out twice, even when it went unused', async () => {
        const name = await createTopic('alloc');
        expect(await store.allocateVersion(name)).toBe(1);
        expect(await store.allocateVersion(name)).toBe(2);
        expect((await store.getTopic(name))?.latestVersion).toBe(2);
        expect(await publish(name, ['*'], T0 + 10)).toBe(3);
      });

      it('gives 50 concurrent allocations 50 distinct consecutive numbers', async () => {
        const name = await createTopic('concurrent');
        expect(await store.allocateVersion(name)).toBe(1);
        const numbers = await Promise.all(Array.from({ length: 50 }, () => store.allocateVersion(name)));
        expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
        expect((await store.getTopic(name))?.latestVersion).toBe(51);
      });
    });

    describe('publishing', () => {
      it('keeps a version out of history and snapshots until its commit marker is written', async () => {
        const name = await createTopic('publish');
        const version = await store.allocateVersion(name);
        const written = draft(name, version, { createdAt: T0 + 10 });
        await store.writeVersion(written);

        expect(await store.getVersion(name, version)).toEqual({ ...written, scopes: [] });
        expect((await store.getVersion(name, version))?.committedAt).toBeUndefined();
        expect(await store.listVersions(name, { limit: 10 })).toEqual({ versions: [] });
        expect((await store.loadTopicSnapshot(name))?.publishes).toEqual([]);

        await store.addScopes(name, version, ['*'], T0 + 20);
        const scoped = await store.getVersion(name, version);
        expect(scoped?.scopes).toEqual([{ scope: '*', addedAt: T0 + 20 }]);
        expect(scoped?.committedAt).toBeUndefined();
        expect((await store.listVersions(name, { limit: 10 })).versions).toEqual([]);
        expect((await store.loadTopicSnapshot(name))?.publishes).toEqual([]);

        await store.commitVersion(name, version, T0 + 30);
        const committed = { ...written, committedAt: T0 + 30, scopes: [{ scope: '*', addedAt: T0 + 20 }] };
        expect(await store.getVersion(name, version)).toEqual(committed);
        expect(await store.listVersions(name, { limit: 10 })).toEqual({ versions: [committed] });
        expect((await store.loadTopicSnapshot(name))?.publishes).toEqual([
          { version, scope: '*', visibleAt: T0 + 30 },
        ]);
      });

      it('keeps the first commit time when a commit is repeated', async () => {
        const name = await createTopic('recommit');
        const version = await publish(name, ['*'], T0 + 10);
        await store.commitVersion(name, version, T0 + 99);
        expect((await store.getVersion(name, version))?.committedAt).toBe(T0 + 10);
        expect((await store.loadTopicSnapshot(name))?.publishes).toEqual([
          { version, scope: '*', visibleAt: T0 + 10 },
        ]);
      });

      it('serves older committed versions while a newer one is incomplete', async () => {
        const name = await createTopic('incomplete');
        const v1 = await publish(name, ['*'], T0 + 10);
        const v2 = await store.allocateVersion(name);
        await store.writeVersion(draft(name, v2));
        await store.addScopes(name, v2, ['*'], T0 + 20);

        expect((await store.listVersions(name, { limit: 10 })).versions.map((v) => v.version)).toEqual([v1]);
        expect((await store.loadTopicSnapshot(name))?.publishes.map((p) => p.version)).toEqual([v1]);
        expect((await store.getVersion(name, v2))?.committedAt).toBeUndefined();
      });

      it('attaches each scope once, keeping the time it was first added', async () => {
        const name = await createTopic('scopes');
        const version = await store.allocateVersion(name);
        await store.writeVersion(draft(name, version));
        await store.addScopes(name, version, ['region=eu-west-1', 'app=payments'], T0 + 5);
        await store.addScopes(name, version, ['app=payments', '*', '*'], T0 + 9);

        // Sorted by addedAt, then scope text.
        expect((await store.getVersion(name, version))?.scopes).toEqual([
          { scope: 'app=payments', addedAt: T0 + 5 },
          { scope: 'region=eu-west-1', addedAt: T0 + 5 },
          { scope: '*', addedAt: T0 + 9 },
        ]);
      });

      it('makes each publish visible at the later of its scope being added and the commit', async () => {
        const name = await createTopic('visible-at');
        const version = await store.allocateVersion(name);
        await store.writeVersion(draft(name, version));
        await store.addScopes(name, version, ['*'], T0 + 10);
        await store.commitVersion(name, version, T0 + 20);
        await store.addScopes(name, version, ['app=payments'], T0 + 30);

        const publishes = (await store.loadTopicSnapshot(name))?.publishes ?? [];
        expect([...publishes].sort(byVersionThenScope)).toEqual([
          { version, scope: '*', visibleAt: T0 + 20 },
          { version, scope: 'app=payments', visibleAt: T0 + 30 },
        ]);
      });

      it('returns every pointer kind and the metadata exactly as written', async () => {
        const name = await createTopic('pointers');
        const allBytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7 + (i >> 8)) % 256);
        const empty = new Uint8Array(0);
        const s3: DataPointer = {
          kind: 's3',
          locations: [
            { region: 'us-east-1', bucket: 'mesh-us', key: `blobs/${sha256Hex(allBytes)}` },
            { region: 'eu-west-1', bucket: 'mesh-eu', key: `blobs/${sha256Hex(allBytes)}` },
          ],
        };
        const local: DataPointer = { kind: 'local', key: `blobs/${sha256Hex(allBytes)}` };
        const metadata = { 'git.sha': 'abc123', note: 'héllo \u2603 "quoted"\n', empty: '' };

        const versions = await Promise.all([1, 2, 3, 4].map(() => store.allocateVersion(name)));
        const [vDirect, vEmpty, vS3, vLocal] = [...versions].sort((a, b) => a - b) as [
          number,
          number,
          number,
          number,
        ];
        const drafts = [
          draft(name, vDirect, { data: allBytes, metadata }),
          draft(name, vEmpty, { data: empty }),
          draft(name, vS3, { data: allBytes, pointer: s3 }),
          draft(name, vLocal, { data: allBytes, pointer: local }),
        ];
        await Promise.all(drafts.map((d) => store.writeVersion(d)));
        await Promise.all(versions.map((v) => store.addScopes(name, v, ['*'], T0 + 50)));
        await Promise.all(versions.map((v) => store.commitVersion(name, v, T0 + 60)));

        const direct = await store.getVersion(name, vDirect);
        expect(direct?.metadata).toEqual(metadata);
        expect(direct?.size).toBe(allBytes.byteLength);
        expect(direct?.sha256).toBe(sha256Hex(allBytes));
        expect(direct?.pointer.kind).toBe('direct');
        if (direct?.pointer.kind === 'direct') expectBytes(direct.pointer.data, allBytes);

        const emptyRecord = await store.getVersion(name, vEmpty);
        expect(emptyRecord?.pointer.kind).toBe('direct');
        if (emptyRecord?.pointer.kind === 'direct') expect(emptyRecord.pointer.data.byteLength).toBe(0);

        expect((await store.getVersion(name, vS3))?.pointer).toEqual(s3);
        expect((await store.getVersion(name, vLocal))?.pointer).toEqual(local);

        // History carries the same records.
        const listed = (await store.listVersions(name, { limit: 10 })).versions;
        expect(listed.map((v) => v.version)).toEqual([vLocal, vS3, vEmpty, vDirect]);
        const listedDirect = listed[3]!;
        if (listedDirect.pointer.kind !== 'direct') throw new Error('expected a direct pointer');
        expectBytes(listedDirect.pointer.data, allBytes);
        expect(listed[1]?.pointer).toEqual(s3);
        expect(listed[0]?.pointer).toEqual(local);
      });
    });

    describe('history', () => {
      let name: string;
      // Versions 1..9 with 4 written but never committed.
      const committed = [9, 8, 7, 6, 5, 3, 2, 1];

      beforeAll(async () => {
        name = await createTopic('history');
        const versions = await Promise.all(Array.from({ length: 9 }, () => store.allocateVersion(name)));
        await Promise.all(versions.map((v) => store.writeVersion(draft(name, v))));
        await Promise.all(versions.map((v) => store.addScopes(name, v, ['*', `node=n${v}`], T0 + v)));
        await Promise.all(committed.map((v) => store.commitVersion(name, v, T0 + 100 + v)));
      });

      async function readAll(
        limit: number,
      ): Promise<{ pages: number[][]; nextBefores: (number | undefined)[] }> {
        const pages: number[][] = [];
        const nextBefores: (number | undefined)[] = [];
        let before: number | undefined;
        do {
          const page = await store.listVersions(name, { before, limit });
          pages.push(page.versions.map((v) => v.version));
          nextBefores.push(page.nextBefore);
          before = page.nextBefore;
        } while (before !== undefined && pages.length < 20);
        return { pages, nextBefores };
      }

      it('pages through committed versions newest first with no duplicates or gaps', async () => {
        const { pages, nextBefores } = await readAll(3);
        expect(pages).toEqual([
          [9, 8, 7],
          [6, 5, 3],
          [2, 1],
        ]);
        expect(nextBefores).toEqual([7, 3, undefined]);
      });

      it('ends with no nextBefore when the last page is exactly full', async () => {
        expect((await readAll(4)).pages).toEqual([
          [9, 8, 7, 6],
          [5, 3, 2, 1],
        ]);
        const whole = await store.listVersions(name, { limit: 8 });
        expect(whole.versions.map((v) => v.version)).toEqual(committed);
        expect(whole.nextBefore).toBeUndefined();
      });

      it('returns only versions older than before, with their scopes', async () => {
        const page = await store.listVersions(name, { before: 5, limit: 10 });
        expect(page.versions.map((v) => v.version)).toEqual([3, 2, 1]);
        expect(page.nextBefore).toBeUndefined();
        expect(page.versions[0]).toEqual({
          ...draft(name, 3),
          committedAt: T0 + 103,
          scopes: [
            { scope: '*', addedAt: T0 + 3 },
            { scope: 'node=n3', addedAt: T0 + 3 },
          ],
        });
        expect(await store.listVersions(name, { before: 1, limit: 10 })).toEqual({ versions: [] });
      });
    });

    describe('pins', () => {
      it('sets, replaces and removes pins, recording every change oldest first', async () => {
        const name = await createTopic('pins');
        const v1 = await publish(name, ['*'], T0 + 10);
        const v2 = await publish(name, ['*'], T0 + 20);
        const pin = (scope: string, version: number, at: number): PinRecord => ({
          scope,
          version,
          reason: `pin ${scope} to ${version}`,
          author: 'oncall',
          setAt: at,
        });

        await store.setPin(name, pin('*', v1, T0 + 100));
        await store.setPin(name, pin('app=payments', v2, T0 + 200));
        await store.setPin(name, pin('*', v2, T0 + 300));
        const bothPins = [pin('*', v2, T0 + 300), pin('app=payments', v2, T0 + 200)];
        expect([...(await store.listPins(name))].sort((a, b) => (a.scope < b.scope ? -1 : 1))).toEqual(
          bothPins,
        );

        const removal = { author: 'oncall', reason: 'fixed', at: T0 + 400 };
        expect(await store.removePin(name, 'app=payments', removal)).toBe(true);
        expect(await store.removePin(name, 'app=payments', { ...removal, at: T0 + 500 })).toBe(false);
        expect(await store.listPins(name)).toEqual([pin('*', v2, T0 + 300)]);
        expect((await store.loadTopicSnapshot(name))?.pins).toEqual([pin('*', v2, T0 + 300)]);

        const history = await store.pinHistory(name);
        expect(history).toEqual([
          { scope: '*', version: v1, reason: `pin * to ${v1}`, author: 'oncall', at: T0 + 100 },
          {
            scope: 'app=payments',
            version: v2,
            reason: `pin app=payments to ${v2}`,
            author: 'oncall',
            at: T0 + 200,
          },
          { scope: '*', version: v2, reason: `pin * to ${v2}`, author: 'oncall', at: T0 + 300 },
          { scope: 'app=payments', reason: 'fixed', author: 'oncall', at: T0 + 400 },
        ]);
        expect(history[3]?.version).toBeUndefined();
        // The latest few, newest first, without reading the rest.
        expect(await store.latestPinEvents(name, 2)).toEqual([history[3], history[2]]);
        expect(await store.latestPinEvents(name, 10)).toEqual([...history].reverse());
        expect(await store.latestPinEvents(await createTopic('no-pins'), 5)).toEqual([]);
      });

      it('records a pin the same as the one in place once: a retried request changes nothing', async () => {
        const name = await createTopic('pin-retry');
        const v1 = await publish(name, ['*'], T0 + 10);
        const pin: PinRecord = { scope: '*', version: v1, reason: 'hold', author: 'oncall', setAt: T0 + 100 };

        expect(await store.setPin(name, pin)).toEqual(pin);
        // The same request again (its first answer lost), later: the pin in place, as it was.
        expect(await store.setPin(name, { ...pin, setAt: T0 + 200 })).toEqual(pin);
        // A different reason or author is a change of its own.
        expect(await store.setPin(name, { ...pin, reason: 'hold longer', setAt: T0 + 300 })).toEqual({
          ...pin,
          reason: 'hold longer',
          setAt: T0 + 300,
        });
        expect((await store.pinHistory(name)).map((e) => [e.reason, e.at])).toEqual([
          ['hold', T0 + 100],
          ['hold longer', T0 + 300],
        ]);
      });

      it("times a topic's pin changes in the order they happen, even when the clock asking runs behind", async () => {
        const name = await createTopic('pin-clock');
        const other = await createTopic('pin-clock-other');
        const v1 = await publish(name, ['*'], T0 + 10);
        await publish(other, ['*'], T0 + 10);
        const pin = (scope: string, setAt: number): PinRecord => ({
          scope,
          version: v1,
          reason: 'rollback',
          author: 'oncall',
          setAt,
        });

        expect(await store.setPin(name, pin('region=eu', T0 + 100))).toEqual(pin('region=eu', T0 + 100));
        // Asked for by a clock behind the one that set the first pin: timed just after it, not before, so
        // this later pin wins the tie-break between equally specific pins ("most recently set").
        expect(await store.setPin(name, pin('app=payments', T0 + 50))).toEqual(pin('app=payments', T0 + 101));
        // At the same instant as the previous change: still after it.
        const again = (setAt: number) => ({ ...pin('region=eu', setAt), reason: 'still broken' });
        expect(await store.setPin(name, again(T0 + 101))).toEqual(again(T0 + 102));
        expect(
          await store.removePin(name, 'app=payments', { author: 'oncall', reason: 'ok', at: T0 + 1 }),
        ).toBe(true);
        // A removal finding no pin changes nothing, so it does not move the topic's pin time either.
        expect(
          await store.removePin(name, 'app=checkout', { author: 'oncall', reason: 'ok', at: T0 + 1 }),
        ).toBe(false);
        // A clock ahead is taken as it is.
        expect(await store.setPin(name, pin('app=payments', T0 + 500))).toEqual(
          pin('app=payments', T0 + 500),
        );

        expect((await store.pinHistory(name)).map((e) => [e.scope, e.version, e.at])).toEqual([
          ['region=eu', v1, T0 + 100],
          ['app=payments', v1, T0 + 101],
          ['region=eu', v1, T0 + 102],
          ['app=payments', undefined, T0 + 103],
          ['app=payments', v1, T0 + 500],
        ]);
        expect([...(await store.listPins(name))].sort((a, b) => (a.scope < b.scope ? -1 : 1))).toEqual([
          pin('app=payments', T0 + 500),
          again(T0 + 102),
        ]);
        // Each topic has its own order.
        expect(await store.setPin(other, pin('*', T0 + 20))).toEqual(pin('*', T0 + 20));
      });
    });

    describe('topic snapshot', () => {
      it('holds the topic, its pins and the scopes of committed versions only', async () => {
        const name = await createTopic('snapshot', { kind: 'mesh.policy.v1' });
        const v1 = await publish(name, ['*'], T0 + 10);
        const v2 = await publish(name, ['region=eu-west-1', 'app=payments'], T0 + 20);
        const v3 = await store.allocateVersion(name);
        await store.writeVersion(draft(name, v3));
        await store.addScopes(name, v3, ['*'], T0 + 30);
        const pin: PinRecord = {
          scope: 'app=payments',
          version: v1,
          reason: 'rollback',
          author: 'a',
          setAt: T0 + 40,
        };
        await store.setPin(name, pin);

        const snapshot = await store.loadTopicSnapshot(name);
        expect(snapshot?.topic).toEqual(await store.getTopic(name));
        expect(snapshot?.topic.latestVersion).toBe(v3);
        expect(snapshot?.pins).toEqual([pin]);
        expect([...(snapshot?.publishes ?? [])].sort(byVersionThenScope)).toEqual([
          { version: v1, scope: '*', visibleAt: T0 + 10 },
          { version: v2, scope: 'app=payments', visibleAt: T0 + 20 },
          { version: v2, scope: 'region=eu-west-1', visibleAt: T0 + 20 },
        ]);
      });
    });

    describe('change markers', () => {
      /** The listed marker of one topic: a listing that starts just before its name. */
      async function listedMarker(name: string): Promise<string> {
        const page = await store.listTopicChanges({ after: name.slice(0, -1), limit: 20 });
        const entry = page.find((change) => change.name === name);
        if (!entry) throw new Error(`topic ${name} is not listed`);
        return entry.changeMarker;
      }

      it('lists every topic with its marker, in name order, page by page, as listTopics does', async () => {
        const prefix = topicName('changes');
        const names = ['e', 'c', 'a', 'd', 'b'].map((suffix) => `${prefix}.${suffix}`);
        await Promise.all(names.map((name, i) => store.putTopic({ name, retention: {} }, T0 + i)));

        const first = await store.listTopicChanges({ after: prefix, limit: 2 });
        expect(first.map((c) => c.name)).toEqual([`${prefix}.a`, `${prefix}.b`]);
        const second = await store.listTopicChanges({ after: first[1]!.name, limit: 2 });
        expect(second.map((c) => c.name)).toEqual([`${prefix}.c`, `${prefix}.d`]);
        const third = await store.listTopicChanges({ after: second[1]!.name, limit: 2 });
        expect(third.map((c) => c.name).filter((n) => n.startsWith(prefix))).toEqual([`${prefix}.e`]);
        for (const change of [...first, ...second, ...third]) {
          expect(typeof change.changeMarker).toBe('string');
          expect(change.changeMarker).toBe((await store.loadTopicSnapshot(change.name))?.changeMarker);
        }

        const fromStart = await store.listTopicChanges({ limit: 50 });
        expect(fromStart.map((c) => c.name)).toEqual(
          (await store.listTopics({ limit: 50 })).map((t) => t.name),
        );
        const afterLast = await store.listTopicChanges({ after: `${prefix}.e`, limit: 3 });
        expect(afterLast.map((c) => c.name)).toEqual(
          (await store.listTopics({ after: `${prefix}.e`, limit: 3 })).map((t) => t.name),
        );
      });

      it('moves after every change to what the topic serves, never back to an earlier value', async () => {
        const name = await createTopic('marker');
        const seen = [await listedMarker(name)];
        const expectMoved = async (what: string) => {
          const marker = await listedMarker(name);
          expect(seen, `marker after ${what}`).not.toContain(marker);
          expect((await store.loadTopicSnapshot(name))?.changeMarker, `snapshot after ${what}`).toBe(marker);
          seen.push(marker);
        };

        await store.putTopic({ name, retention: { maxVersions: 3 } }, T0 + 1);
        await expectMoved('putTopic');
        const version = await store.allocateVersion(name);
        await store.writeVersion(draft(name, version));
        // allocateVersion and writeVersion change nothing a consumer is served: no assertion either way.
        seen.push(await listedMarker(name));
        await store.addScopes(name, version, ['*'], T0 + 10);
        await expectMoved('addScopes');
        await store.commitVersion(name, version, T0 + 10);
        await expectMoved('commitVersion');
        await store.addScopes(name, version, ['app=payments'], T0 + 20);
        await expectMoved('addScopes on a committed version');
        const pin: PinRecord = { scope: '*', version, reason: 'hold', author: 'oncall', setAt: T0 + 30 };
        await store.setPin(name, pin);
        await expectMoved('setPin');
        await store.setPin(name, { ...pin, reason: 'hold longer', setAt: T0 + 40 });
        await expectMoved('setPin replacing a pin');
        expect(await store.removePin(name, '*', { author: 'oncall', reason: 'done', at: T0 + 50 })).toBe(
          true,
        );
        await expectMoved('removePin');
        expect(await store.deleteVersion(name, version)).toBe(true);
        await expectMoved('deleteVersion');
      });

      it('stays put on reads and on changes to other topics', async () => {
        const name = await createTopic('marker-still');
        const other = await createTopic('marker-other');
        const version = await publish(name, ['*'], T0 + 10);
        const before = await listedMarker(name);

        await Promise.all([
          store.getTopic(name),
          store.listTopics({ after: name.slice(0, -1), limit: 5 }),
          store.getVersion(name, version),
          store.listVersions(name, { limit: 5 }),
          store.listPins(name),
          store.pinHistory(name),
          store.loadTopicSnapshot(name),
          store.isPayloadReferenced(sha256Hex(payload(name, version))),
          store.listTopicChanges({ limit: 5 }),
        ]);
        expect(await listedMarker(name)).toBe(before);

        const otherVersion = await publish(other, ['*'], T0 + 20);
        await store.setPin(other, {
          scope: '*',
          version: otherVersion,
          reason: 'r',
          author: 'a',
          setAt: T0 + 30,
        });
        await store.deleteVersion(other, otherVersion);
        expect(await listedMarker(name)).toBe(before);
        expect((await store.loadTopicSnapshot(name))?.changeMarker).toBe(before);
      });
    });

    describe('purging (janitor)', () => {
      /** Bytes no other test or run uses, so their digest is referenced only by what this test writes. */
      const uniqueBytes = () => randomBytes(48);
      const s3Pointer = (sha: string): DataPointer => ({
        kind: 's3',
        locations: [{ region: 'us-east-1', bucket: 'mesh-us', key: `blobs/${sha}` }],
      });

      it('removes a committed version from reads, history and snapshots, leaving the others', async () => {
        const name = await createTopic('purge');
        const v1 = await publish(name, ['*'], T0 + 10);
        const v2 = await publish(name, ['app=payments', '*'], T0 + 20);
        const v3 = await publish(name, ['*'], T0 + 30);
        const kept3 = await store.getVersion(name, v3);

        expect(await store.deleteVersion(name, v2)).toBe(true);

        expect(await store.getVersion(name, v2)).toBeUndefined();
        expect((await store.listVersions(name, { limit: 10 })).versions.map((v) => v.version)).toEqual([
          v3,
          v1,
        ]);
        const paged = await store.listVersions(name, { limit: 1 });
        expect(paged.versions.map((v) => v.version)).toEqual([v3]);
        expect(
          (await store.listVersions(name, { before: paged.nextBefore, limit: 1 })).versions.map(
            (v) => v.version,
          ),
        ).toEqual([v1]);
        expect(
          [...((await store.loadTopicSnapshot(name))?.publishes ?? [])].sort(byVersionThenScope),
        ).toEqual([
          { version: v1, scope: '*', visibleAt: T0 + 10 },
          { version: v3, scope: '*', visibleAt: T0 + 30 },
        ]);
        expect(await store.getVersion(name, v3)).toEqual(kept3);
        expect((await store.getVersion(name, v1))?.committedAt).toBe(T0 + 10);
      });

      it('is idempotent, and finds nothing to delete for unknown topics and unwritten versions', async () => {
        const name = await createTopic('purge-twice');
        const version = await publish(name, ['*'], T0 + 10);
        const allocated = await store.allocateVersion(name);

        expect(await store.deleteVersion(name, version)).toBe(true);
        expect(await store.deleteVersion(name, version)).toBe(false);
        expect(await store.deleteVersion(name, allocated)).toBe(false);
        expect(await store.deleteVersion(name, 999)).toBe(false);
        expect(await store.deleteVersion(topicName('nowhere'), 1)).toBe(false);
        expect(await store.listVersions(name, { limit: 10 })).toEqual({ versions: [] });
        expect((await store.loadTopicSnapshot(name))?.publishes).toEqual([]);
      });

      it('purges an uncommitted version too, and never hands a purged number out again', async () => {
        const name = await createTopic('purge-uncommitted');
        const v1 = await publish(name, ['*'], T0 + 10);
        const v2 = await store.allocateVersion(name);
        await store.writeVersion(draft(name, v2));
        await store.addScopes(name, v2, ['*'], T0 + 20);

        expect(await store.deleteVersion(name, v2)).toBe(true);
        expect(await store.getVersion(name, v2)).toBeUndefined();
        expect(await store.deleteVersion(name, v1)).toBe(true);
        expect((await store.getTopic(name))?.latestVersion).toBe(v2);
        expect(await publish(name, ['*'], T0 + 30)).toBe(v2 + 1);
      });

      it('leaves pins and pin history alone', async () => {
        const name = await createTopic('purge-pins');
        const v1 = await publish(name, ['*'], T0 + 10);
        const v2 = await publish(name, ['*'], T0 + 20);
        const pin: PinRecord = { scope: '*', version: v2, reason: 'hold', author: 'oncall', setAt: T0 + 30 };
        await store.setPin(name, pin);

        await store.deleteVersion(name, v1);
        expect(await store.listPins(name)).toEqual([pin]);
        expect(await store.pinHistory(name)).toEqual([
          { scope: '*', version: v2, reason: 'hold', author: 'oncall', at: T0 + 30 },
        ]);
        expect((await store.loadTopicSnapshot(name))?.pins).toEqual([pin]);
      });

      it('counts blob references of committed and uncommitted records in every topic until purged', async () => {
        const bytes = uniqueBytes();
        const sha = sha256Hex(bytes);
        expect(await store.isPayloadReferenced(sha)).toBe(false);

        const a = await createTopic('refs-a');
        const b = await createTopic('refs-b');
        // Uncommitted: a publish in flight already holds its blob.
        const va = await store.allocateVersion(a);
        await store.writeVersion(draft(a, va, { data: bytes, pointer: s3Pointer(sha) }));
        expect(await store.isPayloadReferenced(sha)).toBe(true);

        const vb = await store.allocateVersion(b);
        await store.writeVersion(
          draft(b, vb, { data: bytes, pointer: { kind: 'local', key: `blobs/${sha}` } }),
        );
        await store.addScopes(b, vb, ['*'], T0 + 10);
        await store.commitVersion(b, vb, T0 + 10);

        expect(await store.deleteVersion(a, va)).toBe(true);
        expect(await store.isPayloadReferenced(sha)).toBe(true);
        expect(await store.deleteVersion(b, vb)).toBe(true);
        expect(await store.isPayloadReferenced(sha)).toBe(false);
      });

      it('does not count inline payloads as blob references', async () => {
        const bytes = uniqueBytes();
        const name = await createTopic('refs-direct');
        const version = await store.allocateVersion(name);
        await store.writeVersion(draft(name, version, { data: bytes }));
        await store.addScopes(name, version, ['*'], T0 + 10);
        await store.commitVersion(name, version, T0 + 10);

        expect(await store.isPayloadReferenced(sha256Hex(bytes))).toBe(false);
      });
    });

    describe('unknown topics and versions', () => {
      it('reads of an unknown topic find nothing', async () => {
        const name = topicName('nowhere');
        expect(await store.getTopic(name)).toBeUndefined();
        expect(await store.getVersion(name, 1)).toBeUndefined();
        expect(await store.listVersions(name, { limit: 10 })).toEqual({ versions: [] });
        expect(await store.listPins(name)).toEqual([]);
        expect(await store.pinHistory(name)).toEqual([]);
        expect(await store.loadTopicSnapshot(name)).toBeUndefined();
      });

      it('writes to an unknown topic fail with TopicNotFoundError', async () => {
        const name = topicName('nowhere');
        const pin: PinRecord = { scope: '*', version: 1, reason: 'r', author: 'a', setAt: T0 };
        const writes: Promise<unknown>[] = [
          store.allocateVersion(name),
          store.writeVersion(draft(name, 1)),
          store.addScopes(name, 1, ['*'], T0),
          store.commitVersion(name, 1, T0),
          store.setPin(name, pin),
          store.removePin(name, '*', { author: 'a', reason: 'r', at: T0 }),
        ];
        for (const write of writes) await expect(write).rejects.toBeInstanceOf(TopicNotFoundError);
        expect(await store.getTopic(name)).toBeUndefined();
      });

      it('scoping or committing a version that has no record fails with VersionNotFoundError', async () => {
        const name = await createTopic('no-record');
        const allocated = await store.allocateVersion(name);
        await expect(store.addScopes(name, allocated, ['*'], T0)).rejects.toBeInstanceOf(
          VersionNotFoundError,
        );
        await expect(store.commitVersion(name, allocated, T0)).rejects.toBeInstanceOf(VersionNotFoundError);
        await expect(store.addScopes(name, 99, ['*'], T0)).rejects.toBeInstanceOf(VersionNotFoundError);
        await expect(store.commitVersion(name, 99, T0)).rejects.toBeInstanceOf(VersionNotFoundError);

        expect(await store.getVersion(name, allocated)).toBeUndefined();
        expect(await store.getVersion(name, 99)).toBeUndefined();
        expect((await store.loadTopicSnapshot(name))?.publishes).toEqual([]);
      });
    });

    describe('close', () => {
      it('is idempotent, and every later call rejects with ClosedError', async () => {
        const own = await factory();
        try {
          const s = own.store;
          const name = topicName('closed');
          await s.putTopic({ name, retention: {} }, T0);
          await Promise.all([s.close(), s.close()]);
          await s.close();

          const pin: PinRecord = { scope: '*', version: 1, reason: 'r', author: 'a', setAt: T0 };
          const calls: Promise<unknown>[] = [
            s.putTopic({ name, retention: {} }, T0),
            s.getTopic(name),
            s.listTopics({ limit: 1 }),
            s.listTopicChanges({ limit: 1 }),
            s.allocateVersion(name),
            s.writeVersion(draft(name, 1)),
            s.addScopes(name, 1, ['*'], T0),
            s.commitVersion(name, 1, T0),
            s.getVersion(name, 1),
            s.listVersions(name, { limit: 1 }),
            s.setPin(name, pin),
            s.removePin(name, '*', { author: 'a', reason: 'r', at: T0 }),
            s.listPins(name),
            s.pinHistory(name),
            s.loadTopicSnapshot(name),
            s.deleteVersion(name, 1),
            s.isPayloadReferenced(sha256Hex(payload(name, 1))),
          ];
          for (const call of calls) await expect(call).rejects.toBeInstanceOf(ClosedError);
        } finally {
          await own.store.close();
          await own.cleanup?.();
        }
      });

      it('settles a call in flight during close, failing it with nothing but ClosedError', async () => {
        const own = await factory();
        try {
          const inFlight = own.store.putTopic({ name: topicName('in-flight'), retention: {} }, T0);
          await own.store.close();
          const outcome = await inFlight.then(
            (result) => result.created,
            (error: unknown) => error,
          );
          if (outcome !== true) expect(outcome).toBeInstanceOf(ClosedError);
        } finally {
          await own.store.close();
          await own.cleanup?.();
        }
      });
    });
  });
}
