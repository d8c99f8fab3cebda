import { IntegrityError, InternalError } from '../core/errors.js';
import type { PinEvent, PinRecord, ResolvedTarget, TopicRecord, VersionRecord } from '../core/model.js';
import { renameIssuePaths } from '../core/rename-issue-paths.js';
import { sha256Hex } from '../core/sha256.js';
import { parseOrThrow } from '../core/validation.js';
import {
  fromPinEventView,
  fromPinView,
  fromPollUpdateView,
  fromTopicView,
  fromVersionView,
  type PollUpdate,
  pinView,
  topicView,
  versionView,
} from '../wire/rest-views.js';
import {
  type CallOptions,
  callOptionsSchema,
  identityInputSchema,
  instantSchema,
  type PinHistoryOptions,
  type PinOptions,
  type PointerPublishOptions,
  type PublishOptions,
  pinHistorySchema,
  pinOptionsSchema,
  pointerPublishOptionsSchema,
  publishOptionsSchema,
  type S3PointerInput,
  s3PointerInputSchema,
  type TopicPageOptions,
  type TopicSpec,
  topicPageSchema,
  topicSpecSchema,
  type VersionPageOptions,
  versionPageSchema,
} from './admin-inputs.js';
import { adminOptionsSchema, type MeshpressAdminOptions, type ParsedAdminOptions } from './admin-options.js';
import { NoAnswerError, PublishOutcomeUnknownError } from './no-answer-error.js';
import { type PreparedPayload, type PublishPayload, preparePayload } from './payload-input.js';
import { countingWebStream, ProgressCounter } from './progress.js';
import {
  pinHistoryView,
  pollView,
  resolveView,
  topicPageView,
  topicWithPinsView,
  unpinView,
  versionPageView,
} from './response-views.js';
import { type QueryValue, RestClient } from './rest-client.js';
import { S3Transfer } from './s3-transfer.js';
import { fetchVersionData } from './version-data.js';

export interface TopicPage {
  readonly topics: TopicRecord[];
  /** Pass as `after` for the next page; absent on the last one. */
  readonly nextAfter?: string | undefined;
}

export interface VersionPage {
  /** Newest first. Inline payloads are not included: use `download`. */
  readonly versions: VersionRecord[];
  /** Pass as `before` for the next page; absent on the last one. */
  readonly nextBefore?: number | undefined;
}

export interface TopicDetails {
  readonly topic: TopicRecord;
  readonly pins: PinRecord[];
}

/** What an identity gets: the resolved target and, when the server has it, the version's record. */
export interface ResolveAnswer extends ResolvedTarget {
  readonly record?: VersionRecord | undefined;
}

export interface Download {
  readonly record: VersionRecord;
  /** The payload, verified against the record's size and sha256. */
  readonly data: Uint8Array;
}

/** Identity of a resolve question; every key optional. */
export interface ResolveIdentity {
  readonly app?: string;
  readonly cluster?: string;
  readonly region?: string;
  readonly node?: string;
  readonly env?: string;
}

const DEFAULT_PAGE_SIZE = 100;

const topicPath = (topic: string) => `/v1/topics/${encodeURIComponent(topic)}`;

/**
 * The publisher and operator API of a meshpress server (REST): topics, publishing (inline, through S3
 * above the inline limit, or as a pointer to objects already in S3), scopes, pins, history, downloads
 * and resolution. Errors are the MeshpressError subclasses the server reported; a server that cannot
 * be reached is an UnavailableError. GET, PUT and DELETE calls are retried; publishes are not.
 */
export class MeshpressAdmin {
  readonly #options: ParsedAdminOptions;
  readonly #rest: RestClient;
  readonly #s3: S3Transfer | undefined;
  #closed = false;

  constructor(options: MeshpressAdminOptions) {
    this.#options = parseOrThrow(adminOptionsSchema, options, 'MeshpressAdmin options');
    const o = this.#options;
    this.#rest = new RestClient({
      baseUrl: o.baseUrl,
      principal: o.principal,
      app: o.app,
      timeoutMs: o.timeoutMs,
      retries: o.retries,
      retryBaseMs: o.retryBaseMs,
      retryMaxMs: o.retryMaxMs,
      clock: o.clock,
      random: o.random,
      owner: 'MeshpressAdmin',
    });
    this.#s3 = o.s3 ? new S3Transfer(o.s3, o.clock, o.random) : undefined;
  }

  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  /** Creates the topic, or replaces its retention, kind and description when it exists. */
  async createTopic(name: string, spec: TopicSpec = {}): Promise<{ topic: TopicRecord; created: boolean }> {
    const body = parseOrThrow(topicSpecSchema, spec, 'topic', 'topic');
    const { status, body: view } = await this.#rest.json(
      { method: 'PUT', path: topicPath(name), json: body, topic: name },
      topicView,
    );
    return { topic: fromTopicView(view!), created: status === 201 };
  }

  /**
   * Changes some of a topic's settings, keeping the others. Read-modify-write: two concurrent updates of
   * different fields may lose one of them. Fails with TopicNotFoundError when the topic does not exist.
   */
  async updateTopic(name: string, changes: TopicSpec): Promise<TopicRecord> {
    const patch = parseOrThrow(topicSpecSchema, changes, 'topic changes', 'topic');
    const { topic } = await this.getTopic(name);
    const merged = {
      retention: patch.retention ?? {
        ...(topic.retention.maxVersions === undefined ? {} : { maxVersions: topic.retention.maxVersions }),
        ...(topic.retention.maxAgeDays === undefined ? {} : { maxAgeDays: topic.retention.maxAgeDays }),
      },
      ...((patch.kind ?? topic.kind) === undefined ? {} : { kind: patch.kind ?? topic.kind }),
      ...((patch.description ?? topic.description) === undefined
        ? {}
        : { description: patch.description ?? topic.description }),
    };
    return (await this.createTopic(name, merged)).topic;
  }

  /** One page of topics in name order. */
  async listTopicsPage(options: TopicPageOptions = {}): Promise<TopicPage> {
    const page = parseOrThrow(topicPageSchema, options, 'topic listing');
    const body = await this.#rest.jsonBody(
      { method: 'GET', path: '/v1/topics', query: { after: page.after, limit: page.limit } },
      topicPageView,
    );
    return { topics: body.topics.map(fromTopicView), nextAfter: body.nextAfter };
  }

  /** Every topic in name order, fetching pages of `pageSize` as the iteration goes. */
  async *listTopics(options: { after?: string; pageSize?: number } = {}): AsyncGenerator<TopicRecord> {
    let after = options.after;
    for (;;) {
      const page = await this.listTopicsPage({ after, limit: options.pageSize ?? DEFAULT_PAGE_SIZE });
      yield* page.topics;
      if (!page.nextAfter) return;
      after = page.nextAfter;
    }
  }

  /** A topic with its pins. */
  async getTopic(name: string): Promise<TopicDetails> {
    const body = await this.#rest.jsonBody(
      { method: 'GET', path: topicPath(name), topic: name },
      topicWithPinsView,
    );
    return { topic: fromTopicView(body.topic), pins: body.pins.map(fromPinView) };
  }

  /**
   * Publishes a version. Strings are `text/plain`, documents and YAML are published as JSON, bytes and
   * files as they are. Up to the inline limit the payload travels in the request; above it, with S3
   * options, it is uploaded to every configured bucket and published as an `s3` pointer; without them
   * the server stores it. The returned record carries no inline data (use `download`). Never retried:
   * a publish that gets no answer fails with PublishOutcomeUnknownError (code UNAVAILABLE, details
   * `{ outcome: 'unknown' }`), since it may have been committed.
   */
  async publish(
    topic: string,
    payload: PublishPayload,
    options: PublishOptions = {},
  ): Promise<VersionRecord> {
    const opts = parseOrThrow(publishOptionsSchema, options, 'publish options');
    const prepared = await preparePayload(payload, opts.contentType);
    const sha256 = sha256Hex(prepared.data);
    if (opts.sha256 !== undefined && opts.sha256 !== sha256)
      throw new IntegrityError('the payload does not match the sha256 given with it', {
        expected: opts.sha256,
        actual: sha256,
      });
    const size = prepared.data.byteLength;
    if (size > this.#options.inlineLimitBytes && this.#s3) {
      const copies = this.#options.s3?.buckets.length ?? 1;
      const progress = new ProgressCounter(size * copies, opts.onProgress);
      progress.start();
      const locations = await this.#s3.upload(prepared.data, sha256, (n) => progress.add(n), opts.signal);
      progress.finish();
      return this.publishPointer(
        topic,
        { locations, size, sha256 },
        {
          scopes: opts.scopes,
          metadata: opts.metadata,
          contentType: prepared.contentType,
          signal: opts.signal,
        },
      );
    }
    return this.#publishInline(topic, prepared, sha256, opts);
  }

  /** Publishes a version whose payload is already in S3 (one location per region, all the same bytes). */
  async publishPointer(
    topic: string,
    pointer: S3PointerInput,
    options: PointerPublishOptions = {},
  ): Promise<VersionRecord> {
    const s3 = parseOrThrow(s3PointerInputSchema, pointer, 'S3 pointer', 'payload.s3');
    const opts = parseOrThrow(pointerPublishOptionsSchema, options, 'publish options');
    return this.#postVersion(
      topic,
      {
        payload: { s3 },
        ...(opts.contentType === undefined ? {} : { contentType: opts.contentType }),
        ...envelopeExtras(opts),
      },
      opts.signal,
    );
  }

  /** Makes an existing version visible to more scopes (scopes are never removed). */
  async addScopes(topic: string, version: number, scopes: readonly string[]): Promise<VersionRecord> {
    const view = await this.#rest.jsonBody(
      {
        method: 'POST',
        path: `${topicPath(topic)}/versions/${encodeVersion(version)}/scopes`,
        json: { scopes },
        topic,
        version,
      },
      versionView,
    );
    return fromVersionView(view);
  }

  /** Pins a scope (default `*`, the whole topic) to a version, overriding later publishes. */
  async pin(topic: string, version: number, options: PinOptions = {}): Promise<PinRecord> {
    const { scope, reason } = parseOrThrow(pinOptionsSchema, options, 'pin options');
    const view = await this.#rest.jsonBody(
      {
        method: 'PUT',
        path: `${topicPath(topic)}/pins/${encodeURIComponent(scope ?? '*')}`,
        json: { version, ...(reason === undefined ? {} : { reason }) },
        topic,
        version,
      },
      pinView,
    );
    return fromPinView(view);
  }

  /**
   * Removes the pin of a scope (default `*`). `removed`: true when this call removed it, false when there
   * was none, null when no pin stands now but an earlier attempt of this call got no answer (timed out)
   * before the retry found nothing: that attempt may have removed it, or there may have been none.
   */
  async unpin(topic: string, options: PinOptions = {}): Promise<{ removed: boolean | null }> {
    const { scope, reason } = parseOrThrow(pinOptionsSchema, options, 'unpin options');
    const { body, afterNoAnswer } = await this.#rest.json(
      {
        method: 'DELETE',
        path: `${topicPath(topic)}/pins/${encodeURIComponent(scope ?? '*')}`,
        query: { reason },
        topic,
      },
      unpinView,
    );
    if (!body) throw new InternalError(`DELETE pin of ${topic}: the server answered with no body`);
    return { removed: body.removed ? true : afterNoAnswer ? null : false };
  }

  /**
   * A topic's pins set and removed, newest first: the latest `limit` of them (default 100, at most 1000).
   * A removal has no `version`.
   */
  async pinHistory(topic: string, options: PinHistoryOptions = {}): Promise<PinEvent[]> {
    const { limit } = parseOrThrow(pinHistorySchema, options, 'pin history options');
    const body = await this.#rest.jsonBody(
      { method: 'GET', path: `${topicPath(topic)}/pin-history`, query: { limit }, topic },
      pinHistoryView,
    );
    return body.events.map(fromPinEventView);
  }

  /** One page of a topic's history, newest first. */
  async listVersionsPage(topic: string, options: VersionPageOptions = {}): Promise<VersionPage> {
    const page = parseOrThrow(versionPageSchema, options, 'version listing');
    const body = await this.#rest.jsonBody(
      {
        method: 'GET',
        path: `${topicPath(topic)}/versions`,
        query: { before: page.before, limit: page.limit },
        topic,
      },
      versionPageView,
    );
    return { versions: body.versions.map(fromVersionView), nextBefore: body.nextBefore };
  }

  /** A topic's whole history, newest first, fetching pages of `pageSize` as the iteration goes. */
  async *listVersions(
    topic: string,
    options: { before?: number; pageSize?: number } = {},
  ): AsyncGenerator<VersionRecord> {
    let before = options.before;
    for (;;) {
      const page = await this.listVersionsPage(topic, {
        before,
        limit: options.pageSize ?? DEFAULT_PAGE_SIZE,
      });
      yield* page.versions;
      if (page.nextBefore === undefined) return;
      before = page.nextBefore;
    }
  }

  /** One version's record, inline payload included. */
  async getVersion(topic: string, version: number, options: CallOptions = {}): Promise<VersionRecord> {
    const { signal } = parseOrThrow(callOptionsSchema, options, 'call options');
    const view = await this.#rest.jsonBody(
      {
        method: 'GET',
        path: `${topicPath(topic)}/versions/${encodeVersion(version)}`,
        topic,
        version,
        signal,
      },
      versionView,
    );
    return fromVersionView(view);
  }

  /** A version's record and payload, the payload verified against its size and sha256. */
  async download(topic: string, version: number, options: CallOptions = {}): Promise<Download> {
    const { signal } = parseOrThrow(callOptionsSchema, options, 'call options');
    const record = await this.getVersion(topic, version, { signal });
    return { record, data: await this.payloadOf(record, { signal }) };
  }

  /**
   * The version `identity` gets now (pins first, then the newest visible publish), or got at instant
   * `at`; undefined when nothing was ever published for it.
   */
  async resolve(
    topic: string,
    identity: ResolveIdentity,
    at?: number | Date | string,
  ): Promise<ResolveAnswer | undefined> {
    const who = parseOrThrow(identityInputSchema, identity, 'identity', 'identity');
    const instant = at === undefined ? undefined : parseOrThrow(instantSchema, at, 'instant', 'at');
    const query: Record<string, QueryValue> = { ...who };
    if (instant !== undefined) query.at = typeof instant === 'number' ? String(instant) : instant;
    const body = await this.#rest.jsonBody(
      { method: 'GET', path: `${topicPath(topic)}/resolve`, query, topic },
      resolveView,
    );
    const target = body.target;
    if (!target) return undefined;
    return {
      version: target.version,
      pinned: target.pinned,
      scope: target.scope,
      record: target.record ? fromVersionView(target.record) : undefined,
    };
  }

  /**
   * One poll as a consumer would make it: the update, if any, of each topic for `identity`. With `waitMs`
   * the server holds the request until one of the topics changes for it or the wait ends. For operators'
   * tools (the CLI's watch); proxies use the subscription library, which adds caches and fallbacks.
   */
  async poll(
    identity: ResolveIdentity,
    topics: readonly { topic: string; currentVersion?: number | undefined }[],
    options: { waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<PollUpdate[]> {
    const who = parseOrThrow(identityInputSchema, identity, 'identity', 'identity');
    const waitMs = options.waitMs ?? 0;
    const { body } = await this.#rest.json(
      {
        method: 'POST',
        path: '/v1/poll',
        json: {
          identity: who,
          topics: topics.map((t) => (t.currentVersion === undefined ? { topic: t.topic } : t)),
          ...(waitMs > 0 ? { waitMs } : {}),
        },
        timeoutMs: waitMs + this.#options.timeoutMs,
        signal: options.signal,
      },
      pollView,
    );
    return body ? body.updates.map(fromPollUpdateView) : [];
  }

  /** The payload of a record already read (poll, getVersion), verified against its size and sha256. */
  async payloadOf(record: VersionRecord, options: CallOptions = {}): Promise<Uint8Array> {
    const { signal } = parseOrThrow(callOptionsSchema, options, 'call options');
    return fetchVersionData(this.#rest, this.#s3, record, signal);
  }

  /** Aborts calls in flight (they fail with ClosedError) and releases connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#rest.close();
    this.#s3?.close();
  }

  async #publishInline(
    topic: string,
    prepared: PreparedPayload,
    sha256: string,
    opts: ReturnType<typeof publishOptionsSchema.parse>,
  ): Promise<VersionRecord> {
    const size = prepared.data.byteLength;
    const progress = new ProgressCounter(size, opts.onProgress);
    progress.start();
    let record: VersionRecord;
    if (prepared.form === 'bytes' && size > 0 && !parsedByServer(prepared.contentType)) {
      record = await this.#postRaw(topic, prepared, sha256, opts, progress);
    } else {
      const payload =
        prepared.form === 'text'
          ? { text: prepared.text }
          : prepared.form === 'document'
            ? { document: prepared.document }
            : { base64: Buffer.from(prepared.data).toString('base64') };
      record = await this.#postVersion(
        topic,
        { payload, contentType: prepared.contentType, sha256, ...envelopeExtras(opts) },
        opts.signal,
      );
    }
    progress.finish();
    return record;
  }

  /** Raw bytes as the body, scopes and metadata in the query: no base64 inflation on the wire. */
  async #postRaw(
    topic: string,
    prepared: PreparedPayload,
    sha256: string,
    opts: ReturnType<typeof publishOptionsSchema.parse>,
    progress: ProgressCounter,
  ): Promise<VersionRecord> {
    const query: Record<string, QueryValue> = { sha256, scope: opts.scopes };
    for (const [key, value] of Object.entries(opts.metadata ?? {})) query[`meta.${key}`] = value;
    const data = prepared.data;
    const request = this.#rest.jsonBody(
      {
        method: 'POST',
        path: `${topicPath(topic)}/versions`,
        query,
        body: {
          data: opts.onProgress ? countingWebStream(data, (n) => progress.add(n)) : data,
          contentType: prepared.contentType,
          length: data.byteLength,
        },
        topic,
        signal: opts.signal,
      },
      versionView,
    );
    const scopeCount = opts.scopes?.length ?? 0;
    return fromVersionView(
      await outcomeOf(
        topic,
        request.catch((error: unknown) => {
          throw renameIssuePaths(error, (path) => optionField(path, scopeCount));
        }),
      ),
    );
  }

  async #postVersion(topic: string, body: object, signal: AbortSignal | undefined): Promise<VersionRecord> {
    const view = await outcomeOf(
      topic,
      this.#rest.jsonBody(
        { method: 'POST', path: `${topicPath(topic)}/versions`, json: body, topic, signal },
        versionView,
      ),
    );
    return fromVersionView(view);
  }
}

/**
 * The server names a raw publish's bad fields by its query parameters (`scope`, `scope.1`, `meta.build`);
 * callers of this library gave them as `scopes` and `metadata`, and the JSON form reports those names.
 */
function optionField(path: string, scopeCount: number): string {
  if (path === 'scope') return scopeCount === 1 ? 'scopes.0' : 'scopes';
  if (path.startsWith('scope.')) return `scopes.${path.slice('scope.'.length)}`;
  if (path === 'meta') return 'metadata';
  if (path.startsWith('meta.')) return `metadata.${path.slice('meta.'.length)}`;
  return path;
}

/** A publish without an answer may have been committed: say so rather than "unavailable". */
async function outcomeOf<T>(topic: string, publish: Promise<T>): Promise<T> {
  try {
    return await publish;
  } catch (error) {
    if (error instanceof NoAnswerError) throw new PublishOutcomeUnknownError(error, topic);
    throw error;
  }
}

function envelopeExtras(opts: {
  scopes?: string[] | undefined;
  metadata?: Record<string, string> | undefined;
}) {
  return {
    ...(opts.scopes === undefined ? {} : { scopes: opts.scopes }),
    ...(opts.metadata === undefined ? {} : { metadata: opts.metadata }),
  };
}

/** Media types the server parses itself (JSON, text): their bytes must travel inside the JSON envelope. */
function parsedByServer(contentType: string): boolean {
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || media === 'text/plain';
}

/** Version numbers go into paths as they are; anything else is left for the server to reject by name. */
function encodeVersion(version: number): string {
  return encodeURIComponent(String(version));
}
