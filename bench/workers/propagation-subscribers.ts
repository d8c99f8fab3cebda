import {
  type AtomicSubscription,
  type ClientLogger,
  type ClientMetrics,
  MeshpressClient,
  RestTransport,
} from '@meshpress/client';
import { z } from 'zod';
import { eachLimited } from '../harness/rest.js';
import { ApplyLog, type Fleet, serveFleet, wallNow } from './propagation-fleet.js';

/**
 * A fleet of meshpress client-library subscribers in one process: one MeshpressClient per simulated
 * node (its own identity.node), long-poll mode, REST transport, each with an atomic subscription to the
 * same topic that decodes the JSON document. The moment a node has applied a revision is its
 * subscription's onChange callback (the value is decoded, verified and swapped in).
 *
 * Each client uses the library's own REST transport (an undici pool per client), as a proxy would: one
 * held long-poll is one socket, so the fleet costs one socket per node (the open-file limit is per
 * process). `localAddress` is accepted for symmetry with the etcd and raw fleets but not used.
 */
export const subscribersConfigSchema = z.object({
  httpUrl: z.url(),
  topic: z.string().min(1),
  worker: z.number().int().min(0),
  /** Loopback address this process connects from (spreads ephemeral ports). */
  localAddress: z.string().min(1),
  apps: z.array(z.string().min(1)).min(1),
  regions: z.array(z.string().min(1)).min(1),
  /** Upper bound on this worker's members. */
  capacity: z.number().int().min(1).max(20_000),
  /** Clients started concurrently while growing (each start is one poll that does not wait). */
  startConcurrency: z.number().int().min(1).max(1_000),
  longPollWaitMs: z.number().int().min(1_000).max(120_000),
});
export type SubscribersConfig = z.infer<typeof subscribersConfigSchema>;

/** Decodes without copying the bytes first, as the etcd watchers decode their values. */
const UTF8 = new TextDecoder();

interface BenchDocument {
  readonly revision: number;
}

class SubscriberFleet implements Fleet {
  readonly #clients: MeshpressClient[] = [];
  readonly #subs: AtomicSubscription<BenchDocument | null>[] = [];
  readonly #transports: RestTransport[] = [];
  readonly #counts: Record<string, number> = {};
  readonly problems: string[] = [];
  #closing: Promise<void> | undefined;

  constructor(
    private readonly config: SubscribersConfig,
    private readonly log: ApplyLog,
  ) {}

  get size(): number {
    return this.#clients.length;
  }

  counters(): Record<string, number> {
    return { ...this.#counts };
  }

  #count(key: string): void {
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
  }

  onRevision(revision: number): number {
    let n = 0;
    for (const sub of this.#subs) if (sub.current()?.revision === revision) n++;
    return n;
  }

  async grow(total: number, _revision: number, deadline: number): Promise<{ problems: string[] }> {
    const problems: string[] = [];
    const first = this.#clients.length;
    const target = Math.min(total, this.config.capacity);
    const indexes = Array.from({ length: Math.max(0, target - first) }, (_, i) => first + i);
    let notReady = 0;
    await eachLimited(indexes, this.config.startConcurrency, async (index) => {
      if (wallNow() > deadline) return;
      const client = this.#createClient(index);
      const sub = client.subscribeAtomic<BenchDocument | null>(this.config.topic, {
        decode: (bytes) => JSON.parse(UTF8.decode(bytes)) as BenchDocument,
        defaultValue: null,
      });
      sub.onChange((state) => {
        // Read the clock first: this is the moment the node runs the new value.
        const at = wallNow();
        if (state.value) this.log.record(state.value.revision, index, at);
      });
      this.#clients[index] = client;
      this.#subs[index] = sub;
      const report = await client.start();
      if (!report.ready) notReady++;
    });
    if (this.#clients.length < target)
      problems.push(`only ${this.#clients.length} of ${target} clients started before the deadline`);
    if (notReady > 0) problems.push(`${notReady} clients were not ready when start() returned`);
    return { problems };
  }

  #createClient(index: number): MeshpressClient {
    const c = this.config;
    // Spread nodes evenly over apps (the server's limiter partitions), clusters and regions.
    const spread = index + c.worker;
    const app = c.apps[spread % c.apps.length]!;
    // What `servers: httpUrl` builds: the library's own transport (undici pool), as a proxy would run it.
    const transport = new RestTransport({ urls: [c.httpUrl], caller: { app } });
    this.#transports[index] = transport;
    return new MeshpressClient({
      identity: {
        app,
        cluster: `c${spread % 7}`,
        region: c.regions[spread % c.regions.length]!,
        node: `w${c.worker}-node-${index}`,
      },
      transport,
      pollMode: 'long-poll',
      longPollWaitMs: c.longPollWaitMs,
      // Generous: a fleet of thousands starts on two shared cores.
      startupTimeoutMs: 60_000,
      requestTimeoutMs: 30_000,
      metrics: this.#metrics,
      logger: this.#logger,
    });
  }

  readonly #metrics: ClientMetrics = {
    poll: (outcome) => this.#count(`poll.${outcome}`),
    updateApplied: () => this.#count('applied'),
    versionRejected: (_topic, reason) => this.#count(`rejected.${reason}`),
    fallbackUsed: (_topic, source) => this.#count(`fallback.${source}`),
    trackSecondsSinceLastSuccessfulPoll: () => undefined,
  };

  readonly #logger: ClientLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (obj, msg) => this.#note(obj, msg),
    error: (obj, msg) => this.#note(obj, msg),
  };

  #note(obj: object, msg?: string): void {
    this.#count('logged');
    if (this.problems.length >= 5) return;
    // Error causes are not enumerable: name them, or "fetch failed" hides why.
    const causes: string[] = [];
    let cause: unknown = (obj as { err?: unknown }).err;
    for (let depth = 0; cause instanceof Error && depth < 4; depth++) {
      const code = (cause as { code?: unknown }).code;
      causes.push(`${cause.name}${code ? ` ${String(code)}` : ''}: ${cause.message}`);
      cause = cause.cause;
    }
    this.problems.push(`${msg ?? ''} ${causes.join(' <- ') || JSON.stringify(obj).slice(0, 300)}`);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await eachLimited(this.#clients, 200, (client) => client.close());
      await Promise.all(this.#transports.map((t) => t.close()));
    })();
    return this.#closing;
  }
}

serveFleet(subscribersConfigSchema, (config) => {
  const log = new ApplyLog(config.capacity);
  return { fleet: new SubscriberFleet(config, log), log };
});
