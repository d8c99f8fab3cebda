import {
  type Clock,
  ClosedError,
  type DataPointer,
  GLOBAL_SCOPE,
  type Identity,
  IntegrityError,
  MisdirectedError,
  PayloadTooLargeError,
  type PinEvent,
  type PinRecord,
  parseOrThrow,
  type ResolvedTarget,
  resolve,
  sha256Hex,
  stateAt,
  TopicNotFoundError,
  type TopicRecord,
  VersionNotFoundError,
  type VersionRecord,
} from '@meshpress/client';
import type { Logger } from 'pino';
import type { BlobStore } from '../blob/blob-store.js';
import type { ChangeBus } from '../bus/change-bus.js';
import {
  type ConsumerStatus,
  type ConsumerStatusStore,
  DEFAULT_CONSUMER_LAG_GRACE_MS,
  type PollReport,
} from '../consumers/consumer-status-store.js';
import type { ServerMetrics } from '../metrics.js';
import type { ConfigStore, VersionPage } from '../store/config-store.js';
import { type Action, type Authorizer, allowAll, type Caller } from './caller.js';
import { closestFirstUpdate } from './closest-first.js';
import { ConsumerCache } from './consumer-cache.js';
import { type DocumentValidator, validateMeshDocument } from './document-validator.js';
import type { AbortLike } from './hang-up.js';
import {
  addScopesInputSchema,
  listTopicsInputSchema,
  listVersionsInputSchema,
  type PollInput,
  type PublishInput,
  pinHistoryInputSchema,
  pinInputSchema,
  publishInputSchema,
  resolveInputSchema,
  type TopicSpecInput,
  topicSpecSchema,
  unpinInputSchema,
  versionRefSchema,
} from './inputs.js';
import { type ParsedPollInput, parsePollInput } from './poll-input.js';
import { evaluatePoll, type PollUpdate } from './poll-rule.js';
import { ReadCache } from './read-cache.js';
import type { TopicView } from './topic-view.js';
import { TopicWatch } from './topic-watch.js';
import { WaiterRegistry } from './waiters.js';

/** Which role an action needs; reads are served by every instance. */
const ROLE_OF_ACTION: Partial<Record<Action, 'publish' | 'consume'>> = {
  'topic.write': 'publish',
  'version.publish': 'publish',
  'scope.add': 'publish',
  'pin.write': 'publish',
  consume: 'consume',
};

/** Non-poll reads (version records, payload bytes) are pooled and reused this long. */
const READ_CACHE_TTL_MS = 2_000;

const ignoreFailure = (): void => undefined;

export const DEFAULT_INLINE_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export interface MeshpressServiceOptions {
  readonly store: ConfigStore;
  readonly blobs: BlobStore;
  readonly bus: ChangeBus;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** Names this instance in change events. */
  readonly instanceId: string;
  readonly authorizer?: Authorizer;
  readonly documentValidator?: DocumentValidator;
  readonly inlineLimitBytes?: number;
  readonly maxPayloadBytes?: number;
  readonly refreshIntervalMs?: number;
  /** Every cached topic is re-read at least this often whatever its change marker says (0 = never). */
  readonly cacheReverifyAfterMs?: number;
  /** Roles this instance serves (default all): writes need `publish`, polls need `consume`. */
  readonly roles?: readonly ('publish' | 'consume' | 'tasks')[];
  /** Where polls report which version each node runs; none = not tracked. */
  readonly consumerStatus?: ConsumerStatusStore;
  /** How long a node may differ from its target before it counts as lagging. */
  readonly consumerLagGraceMs?: number;
}

export interface ResolveResult {
  readonly topic: string;
  readonly target?: (ResolvedTarget & { readonly record: VersionRecord | undefined }) | undefined;
}

/**
 * The operations of meshpress, independent of transport. REST and gRPC handlers only decode, call one
 * method with the caller, and encode. Every input is validated here, so both transports reject the
 * same things with the same codes.
 */
export class MeshpressService {
  readonly #store: ConfigStore;
  readonly #blobs: BlobStore;
  readonly #bus: ChangeBus;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: ServerMetrics;
  readonly #authorizer: Authorizer;
  readonly #validateDocument: DocumentValidator;
  readonly #instanceId: string;
  readonly #inlineLimit: number;
  readonly #maxPayload: number;
  readonly #cache: ConsumerCache;
  /** The last evaluation of each repeating poll input, valid while the cache generation is unchanged. */
  readonly #evaluations = new WeakMap<ParsedPollInput, Evaluation & { readonly generation: number }>();
  readonly #waiters = new WaiterRegistry();
  readonly #unsubscribe: () => void;
  readonly #shutdown = new AbortController();
  readonly #consumerStatus: ConsumerStatusStore | undefined;
  readonly #consumerLagGraceMs: number;
  readonly #roles: ReadonlySet<string>;
  readonly #records: ReadCache<VersionRecord>;
  readonly #payloads: ReadCache<Uint8Array>;

  constructor(options: MeshpressServiceOptions) {
    this.#store = options.store;
    this.#blobs = options.blobs;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#metrics.countHeldPollsWith(() => this.#waiters.size);
    this.#authorizer = options.authorizer ?? allowAll;
    this.#validateDocument = options.documentValidator ?? validateMeshDocument;
    this.#instanceId = options.instanceId;
    this.#inlineLimit = options.inlineLimitBytes ?? DEFAULT_INLINE_LIMIT_BYTES;
    this.#maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.#consumerStatus = options.consumerStatus;
    this.#roles = new Set(options.roles ?? ['publish', 'consume', 'tasks']);
    const readCache = { clock: this.#clock, ttlMs: READ_CACHE_TTL_MS };
    this.#records = new ReadCache({ ...readCache, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 }, (r) =>
      r.pointer.kind === 'direct' ? r.pointer.data.byteLength : 0,
    );
    this.#payloads = new ReadCache(
      { ...readCache, maxEntries: 1_000, maxBytes: 256 * 1024 * 1024 },
      (d) => d.byteLength,
    );
    this.#consumerLagGraceMs = options.consumerLagGraceMs ?? DEFAULT_CONSUMER_LAG_GRACE_MS;
    this.#cache = new ConsumerCache({
      store: this.#store,
      clock: this.#clock,
      logger: this.#logger,
      refreshIntervalMs: options.refreshIntervalMs,
      reverifyAfterMs: options.cacheReverifyAfterMs,
    });
    this.#cache.onChange((topic) => {
      this.#metrics.cachedTopics.set(this.#cache.size);
      // Woken on the next turn of the event loop, not now: the write that caused the change is answered
      // first. Waking thousands of held polls synchronously queued the publisher's acknowledgement behind
      // every one of their answers (about a second at 10,000 held polls).
      setImmediate(() => this.#waiters.wake(topic));
    });
    this.#unsubscribe = this.#bus.subscribe((event) => {
      if (event.origin === this.#instanceId) return;
      this.#cache.refresh(event.topic).catch(() => undefined);
    });
    this.#cache.start();
  }

  get maxPayloadBytes(): number {
    return this.#maxPayload;
  }

  get heldPolls(): number {
    return this.#waiters.size;
  }

  async putTopic(caller: Caller, input: TopicSpecInput): Promise<{ topic: TopicRecord; created: boolean }> {
    const spec = parseOrThrow(topicSpecSchema, input, 'topic');
    await this.#authorize(caller, 'topic.write', spec.name);
    const result = await this.#store.putTopic(spec, this.#clock.now());
    this.#logger.info(
      { requestId: caller.requestId, topic: spec.name, created: result.created },
      'topic saved',
    );
    await this.#changed(spec.name);
    return result;
  }

  async listTopics(
    caller: Caller,
    input: { after?: string | undefined; limit?: number | undefined },
  ): Promise<{ topics: TopicRecord[]; nextAfter?: string | undefined }> {
    const { after, limit } = parseOrThrow(listTopicsInputSchema, input, 'topic listing');
    await this.#authorize(caller, 'topic.read');
    const topics = await this.#store.listTopics({ after, limit });
    return { topics, nextAfter: topics.length === limit ? topics.at(-1)?.name : undefined };
  }

  async getTopic(caller: Caller, name: string): Promise<{ topic: TopicRecord; pins: PinRecord[] }> {
    const { topic } = parseOrThrow(versionRefSchema.pick({ topic: true }), { topic: name }, 'topic');
    await this.#authorize(caller, 'topic.read', topic);
    const record = await this.#requireTopic(topic);
    return { topic: record, pins: await this.#store.listPins(topic) };
  }

  /**
   * Publishes a version: payload stored first (blob store above the inline limit), then version number,
   * record, scopes and commit marker, in that order. A failure before the commit leaves nothing a
   * consumer or the history can see.
   */
  async publish(caller: Caller, raw: PublishInput): Promise<VersionRecord> {
    const input = parseOrThrow(publishInputSchema, raw, 'publish request');
    await this.#authorize(caller, 'version.publish', input.topic);
    const topic = await this.#requireTopic(input.topic);

    let pointer: DataPointer;
    let size: number;
    let sha256: string;
    /** Bytes this publish stored in the blob store, if any (stored again before the commit, see below). */
    let blobData: Uint8Array | undefined;
    if (input.payload.kind === 'bytes') {
      const data = input.payload.data;
      size = data.byteLength;
      if (size > this.#maxPayload) throw new PayloadTooLargeError(size, this.#maxPayload);
      sha256 = sha256Hex(data);
      if (input.sha256 && input.sha256 !== sha256)
        throw new IntegrityError('payload does not match the sha256 given with it', {
          expected: input.sha256,
          actual: sha256,
        });
      if (topic.kind) this.#validateDocument(topic.kind, data);
      if (size <= this.#inlineLimit) pointer = { kind: 'direct', data: Uint8Array.from(data) };
      else {
        blobData = data;
        pointer = await this.#blobs.putPayload(data, sha256);
      }
    } else {
      // Consumers check their download against the declared size before its sha256, so a wrong size
      // would make the version unusable everywhere; on typed topics the object is read anyway, and its
      // length decides. Untyped pointers are not read: their size is the publisher's word.
      size = input.payload.size;
      sha256 = input.payload.sha256;
      if (size > this.#maxPayload) throw new PayloadTooLargeError(size, this.#maxPayload);
      if (topic.kind) {
        const data = await this.#blobs.getPayload(input.payload, sha256, { maxBytes: this.#maxPayload });
        if (data.byteLength !== size)
          throw new IntegrityError('the object the pointer names does not have the size given with it', {
            expected: size,
            actual: data.byteLength,
          });
        this.#validateDocument(topic.kind, data);
      }
      pointer = { kind: 's3', locations: input.payload.locations };
    }

    const now = this.#clock.now();
    const version = await this.#store.allocateVersion(topic.name);
    await this.#store.writeVersion({
      topic: topic.name,
      version,
      metadata: input.metadata,
      pointer,
      size,
      sha256,
      contentType: input.contentType,
      publisher: caller.principal,
      createdAt: now,
    });
    await this.#store.addScopes(topic.name, version, input.scopes, now);
    // The blob may be an existing content-addressed one that the janitor deleted after our first store
    // (it was unreferenced until our record was written). Storing it again now, with the record in place,
    // closes that race together with the janitor's own re-check (docs/retention.md "The publish race");
    // S3 skips the upload when the object is there.
    if (blobData) await this.#blobs.putPayload(blobData, sha256);
    await this.#store.commitVersion(topic.name, version, now);

    this.#metrics.publishes.inc({ pointer: pointer.kind });
    this.#metrics.publishBytes.inc(size);
    this.#logger.info(
      {
        requestId: caller.requestId,
        topic: topic.name,
        version,
        size,
        scopes: input.scopes,
        pointer: pointer.kind,
      },
      'version published',
    );
    await this.#changed(topic.name);
    return this.#requireVersion(topic.name, version);
  }

  async listVersions(
    caller: Caller,
    input: { topic: string; before?: number | undefined; limit?: number | undefined },
  ): Promise<VersionPage> {
    const { topic, before, limit } = parseOrThrow(listVersionsInputSchema, input, 'version listing');
    await this.#authorize(caller, 'version.read', topic);
    await this.#requireTopic(topic);
    return this.#store.listVersions(topic, { before, limit });
  }

  async getVersion(caller: Caller, input: { topic: string; version: number }): Promise<VersionRecord> {
    const ref = parseOrThrow(versionRefSchema, input, 'version reference');
    await this.#authorize(caller, 'version.read', ref.topic);
    return this.#records.get(`${ref.topic}@${ref.version}`, () =>
      this.#requireVersion(ref.topic, ref.version),
    );
  }

  /** The payload bytes of a version, verified against its sha256. */
  async getVersionData(
    caller: Caller,
    input: { topic: string; version: number },
  ): Promise<{ record: VersionRecord; data: Uint8Array }> {
    const record = await this.getVersion(caller, input);
    const pointer = record.pointer;
    const data =
      pointer.kind === 'direct'
        ? pointer.data
        : await this.#payloads.get(`${record.topic}@${record.version}`, () =>
            this.#blobs.getPayload(pointer, record.sha256),
          );
    if (pointer.kind === 'direct' && sha256Hex(data) !== record.sha256)
      throw new IntegrityError(
        `stored payload of ${record.topic}@${record.version} does not match its sha256`,
      );
    return { record, data };
  }

  async addScopes(
    caller: Caller,
    input: { topic: string; version: number; scopes: string[] },
  ): Promise<VersionRecord> {
    const { topic, version, scopes } = parseOrThrow(addScopesInputSchema, input, 'scope request');
    await this.#authorize(caller, 'scope.add', topic);
    await this.#requireVersion(topic, version);
    await this.#store.addScopes(topic, version, scopes, this.#clock.now());
    this.#logger.info({ requestId: caller.requestId, topic, version, scopes }, 'scopes added');
    await this.#changed(topic);
    return this.#requireVersion(topic, version);
  }

  async pin(
    caller: Caller,
    input: { topic: string; scope?: string; version: number; reason?: string | undefined },
  ): Promise<PinRecord> {
    const { topic, scope, version, reason } = parseOrThrow(
      pinInputSchema,
      { ...input, scope: input.scope ?? GLOBAL_SCOPE },
      'pin request',
    );
    await this.#authorize(caller, 'pin.write', topic);
    await this.#requireVersion(topic, version);
    const asked: PinRecord = { scope, version, reason, author: caller.principal, setAt: this.#clock.now() };
    const pin = await this.#store.setPin(topic, asked);
    this.#metrics.pinChanges.inc({ action: 'set' });
    this.#logger.warn({ requestId: caller.requestId, topic, scope, version, reason }, 'topic pinned');
    await this.#changed(topic);
    return pin;
  }

  async unpin(
    caller: Caller,
    input: { topic: string; scope?: string; reason?: string | undefined },
  ): Promise<{ removed: boolean }> {
    const { topic, scope, reason } = parseOrThrow(
      unpinInputSchema,
      { ...input, scope: input.scope ?? GLOBAL_SCOPE },
      'unpin request',
    );
    await this.#authorize(caller, 'pin.write', topic);
    await this.#requireTopic(topic);
    const removed = await this.#store.removePin(topic, scope, {
      author: caller.principal,
      reason,
      at: this.#clock.now(),
    });
    if (removed) {
      this.#metrics.pinChanges.inc({ action: 'remove' });
      this.#logger.warn({ requestId: caller.requestId, topic, scope, reason }, 'topic unpinned');
      await this.#changed(topic);
    }
    return { removed };
  }

  /**
   * The audit trail of a topic's pins: each pin set (with its version) and removed, who did it and why,
   * newest first, the latest `limit` of them.
   */
  async pinHistory(
    caller: Caller,
    input: { topic: string; limit?: number | undefined },
  ): Promise<PinEvent[]> {
    const { topic, limit } = parseOrThrow(pinHistoryInputSchema, input, 'pin history request');
    await this.#authorize(caller, 'topic.read', topic);
    await this.#requireTopic(topic);
    return this.#store.latestPinEvents(topic, limit);
  }

  /** What an identity gets now (from the consumer cache) or got at instant `at` (from the store's history). */
  async resolve(
    caller: Caller,
    input: { topic: string; identity: unknown; at?: number | undefined },
  ): Promise<ResolveResult> {
    const { topic, identity, at } = parseOrThrow(resolveInputSchema, input, 'resolve request');
    await this.#authorize(caller, 'topic.read', topic);
    if (at === undefined) {
      const view = await this.#cache.get(topic);
      if (!view) throw new TopicNotFoundError(topic);
      const target = view.resolution.resolve(identity);
      if (!target) return { topic };
      return { topic, target: { ...target, record: view.servable.get(target.version) } };
    }
    const snapshot = await this.#store.loadTopicSnapshot(topic);
    if (!snapshot) throw new TopicNotFoundError(topic);
    const target = resolve(stateAt(snapshot.publishes, await this.#store.pinHistory(topic), at), identity);
    if (!target) return { topic };
    return { topic, target: { ...target, record: await this.#store.getVersion(topic, target.version) } };
  }

  /**
   * The poll contract. Answers from the consumer cache; with `waitMs`, holds the request until one of
   * its topics changes in a way that gives this identity an update, the wait ends, `signal` aborts, or
   * the service shuts down (then it answers with what it has: usually nothing).
   */
  async poll(caller: Caller, raw: PollInput, signal?: AbortLike): Promise<PollUpdate[]> {
    return this.pollNow(caller, raw, signal);
  }

  /**
   * `poll`, answered without a promise when nothing has to wait: no `waitMs`, every topic in the cache
   * and an authorizer that decides synchronously, which is nearly every poll. Adapters on the hot path
   * call this and await only a promise; a promise per step cost a poll more than resolving its topics.
   */
  pollNow(caller: Caller, raw: PollInput, signal?: AbortLike): PollUpdate[] | Promise<PollUpdate[]> {
    const input = parsePollInput(raw);
    const authorized = this.#authorize(caller, 'consume');
    if (authorized !== undefined || input.waitMs > 0) return this.#pollLater(input, authorized, signal);
    if (this.#shutdown.signal.aborted) throw new ClosedError('meshpress service');
    const tracker = this.#reportTracker(input);
    const updates = this.#evaluateNow(input, tracker);
    return updates === undefined
      ? this.#evaluate(input, tracker).then((u) => this.#served(u))
      : this.#served(updates);
  }

  async #pollLater(
    input: ParsedPollInput,
    authorized: Promise<void> | undefined,
    signal: AbortLike | undefined,
  ): Promise<PollUpdate[]> {
    await authorized;
    if (this.#shutdown.signal.aborted) throw new ClosedError('meshpress service');
    const tracker = this.#reportTracker(input);
    if (input.waitMs === 0)
      return this.#served(this.#evaluateNow(input, tracker) ?? (await this.#evaluate(input, tracker)));

    const deadline = this.#clock.now() + input.waitMs;
    const topics = input.topics.map((t) => t.topic);
    let updates: PollUpdate[];
    // The current round's watch, cancelled however the loop ends: a topic load that fails rejects the
    // poll, and its watch would otherwise stay registered (one more held poll per retry in an outage).
    // Cancelling a watch that a wake or its wait already released does nothing.
    let watch: TopicWatch | undefined;
    try {
      for (;;) {
        // The watch starts before anything is awaited, so no change landing meanwhile is lost: right
        // after a synchronous evaluation, or before one that awaits a topic load.
        watch = undefined;
        let answer = this.#evaluateNow(input, tracker);
        if (answer === undefined) {
          watch = this.#watch(topics);
          answer = await this.#evaluate(input, tracker);
        }
        updates = answer;
        const remaining = deadline - this.#clock.now();
        if (updates.length > 0 || remaining <= 0 || signal?.aborted || this.#shutdown.signal.aborted) break;
        watch ??= this.#watch(topics);
        await watch.wait(remaining, signal);
      }
    } finally {
      watch?.cancel();
    }
    return this.#served(updates);
  }

  /** Which node to report, once: the first evaluation of a poll notes what each topic runs and should run. */
  #reportTracker(input: ParsedPollInput): { pending: boolean } {
    return { pending: this.#consumerStatus !== undefined && input.identity.node !== undefined };
  }

  /**
   * The poll's updates when every topic is in the cache, else undefined (nothing reported then). A
   * repeating input (the same object comes back with the node's next poll) keeps its evaluation while
   * the consumer cache's generation holds: its answer and its consumer report cannot have changed, so
   * only the report is sent again.
   */
  #evaluateNow(input: ParsedPollInput, tracker: { pending: boolean }): PollUpdate[] | undefined {
    const generation = this.#cache.generation;
    if (input.repeats) {
      const kept = this.#evaluations.get(input);
      if (kept !== undefined && kept.generation === generation) {
        if (tracker.pending) {
          tracker.pending = false;
          this.#reportConsumer(input.identity, kept.reports, true);
        }
        return kept.updates;
      }
    }
    const views: (TopicView | undefined)[] = new Array(input.topics.length);
    for (let i = 0; i < input.topics.length; i++) {
      const cached = this.#cache.get(input.topics[i]!.topic);
      if (cached instanceof Promise) {
        // The load goes on, and the evaluation that follows awaits it and reports a failure; this copy
        // of it, left unawaited, must not surface as an unhandled rejection (the process would exit).
        cached.catch(ignoreFailure);
        return undefined;
      }
      views[i] = cached;
    }
    const evaluation = this.#updatesFrom(input, views, tracker);
    if (input.repeats) this.#evaluations.set(input, { generation, ...evaluation });
    return evaluation.updates;
  }

  async #evaluate(input: ParsedPollInput, tracker: { pending: boolean }): Promise<PollUpdate[]> {
    const views = await Promise.all(input.topics.map(({ topic }) => this.#cache.get(topic)));
    return this.#updatesFrom(input, views, tracker).updates;
  }

  /** Shared by every poll that reuses it (#evaluateNow), so neither array is ever changed. */
  #updatesFrom(
    input: ParsedPollInput,
    views: readonly (TopicView | undefined)[],
    tracker: { pending: boolean },
  ): Evaluation {
    const { identity } = input;
    const updates: PollUpdate[] = [];
    const reports: PollReport['topics'][number][] = [];
    for (let i = 0; i < views.length; i++) {
      const view = views[i];
      if (!view) continue;
      const { topic, currentVersion } = input.topics[i]!;
      const target = view.resolution.resolve(identity);
      reports.push({ topic, currentVersion, targetVersion: target?.version });
      const update = evaluatePoll(view, identity, currentVersion, target);
      if (update) updates.push(closestFirstUpdate(update, identity.region));
    }
    if (tracker.pending) {
      tracker.pending = false;
      this.#reportConsumer(identity, reports, input.repeats === true);
    }
    return { updates, reports };
  }

  /** Which versions the nodes consuming a topic run, and which of them lag behind their target. */
  async consumers(caller: Caller, input: { topic: string }): Promise<ConsumerStatus> {
    const { topic } = parseOrThrow(versionRefSchema.pick({ topic: true }), input, 'consumer status request');
    await this.#authorize(caller, 'topic.read', topic);
    await this.#requireTopic(topic);
    if (!this.#consumerStatus) return { topic, distribution: [], lagging: [], total: 0 };
    return this.#consumerStatus.status(topic, { now: this.#clock.now(), graceMs: this.#consumerLagGraceMs });
  }

  /** Stops accepting polls, releases held long-polls, stops the cache. Stores are closed by their owner. */
  close(): void {
    if (this.#shutdown.signal.aborted) return;
    this.#shutdown.abort();
    this.#unsubscribe();
    this.#waiters.wakeAll();
    this.#cache.close();
  }

  /** Buffers what a poll says about its node (never awaited: polls do not wait for status storage). */
  /** `repeats`: the identity and `topics` come back, the same objects, with the node's next polls. */
  #reportConsumer(identity: Identity, topics: PollReport['topics'], repeats: boolean): void {
    const { node, app, region, cluster } = identity;
    if (!node || topics.length === 0) return;
    try {
      this.#consumerStatus?.recordPoll({
        node,
        app,
        region,
        cluster,
        at: this.#clock.now(),
        topics,
        repeats,
      });
    } catch (err) {
      this.#logger.debug({ err }, 'consumer report dropped');
    }
  }

  #served(updates: PollUpdate[]): PollUpdate[] {
    const now = this.#clock.now();
    for (const update of updates) {
      (update.pinned ? this.#metrics.pollUpdateCounts.pinned : this.#metrics.pollUpdateCounts.unpinned).inc();
      if (update.record.committedAt !== undefined)
        this.#metrics.propagationLag.observe(Math.max(0, now - update.record.committedAt) / 1000);
    }
    return updates;
  }

  /** Registers interest in changes to `topics` now (TopicWatch). */
  #watch(topics: readonly string[]): TopicWatch {
    return new TopicWatch(topics, this.#waiters, this.#clock);
  }

  /** Refreshes this instance's cache before returning (read-your-writes), then tells the others. */
  async #changed(topic: string): Promise<void> {
    this.#records.invalidatePrefix(`${topic}@`);
    this.#payloads.invalidatePrefix(`${topic}@`);
    await this.#cache.refresh(topic).catch((err: unknown) => {
      this.#logger.warn({ err, topic }, 'cache refresh after a write failed');
    });
    await this.#bus
      .publish({ topic, origin: this.#instanceId, at: this.#clock.now() })
      .catch((err: unknown) =>
        this.#logger.warn({ err, topic }, 'change notification failed; peers refresh periodically'),
      );
  }

  /**
   * Throws MisdirectedError for an action of a role this instance does not serve, or the authorizer's
   * refusal; a promise only when the authorizer decides asynchronously (polls skip the await otherwise).
   */
  #authorize(caller: Caller, action: Action, topic?: string): Promise<void> | undefined {
    const role = ROLE_OF_ACTION[action];
    if (role && !this.#roles.has(role))
      throw new MisdirectedError(
        `this instance does not serve the ${role} role; send ${action} to one that does`,
        {
          role,
          roles: [...this.#roles],
        },
      );
    const verdict = this.#authorizer.authorize(caller, action, topic);
    return typeof (verdict as PromiseLike<void> | undefined)?.then === 'function'
      ? Promise.resolve(verdict)
      : undefined;
  }

  async #requireTopic(name: string): Promise<TopicRecord> {
    const topic = await this.#store.getTopic(name);
    if (!topic) throw new TopicNotFoundError(name);
    return topic;
  }

  async #requireVersion(topic: string, version: number): Promise<VersionRecord> {
    const record = await this.#store.getVersion(topic, version);
    if (!record || record.committedAt === undefined) {
      await this.#requireTopic(topic);
      throw new VersionNotFoundError(topic, version);
    }
    return record;
  }
}

/** What one evaluation of a poll found: its answer, and the consumer report it makes. */
interface Evaluation {
  readonly updates: PollUpdate[];
  readonly reports: PollReport['topics'];
}
