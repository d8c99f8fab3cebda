import { Agent, request } from 'node:http';
import { z } from 'zod';
import { eachLimited } from '../harness/rest.js';
import { ApplyLog, type Fleet, serveFleet, wallNow } from './propagation-fleet.js';

/**
 * A diagnostic fleet: meshpress long-polls without the client library, each as light as an etcd
 * watcher of the benchmark (node:http, parse the JSON answer, decode the inline payload, send the next
 * long-poll with the new currentVersion). Same server, same wire, same topic: the difference from the
 * client-library fleet is what the library costs the subscribers' processes, which all share two cores
 * here (on real nodes each has its own CPU).
 */
export const rawPollersConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  topic: z.string().min(1),
  worker: z.number().int().min(0),
  localAddress: z.string().min(1),
  apps: z.array(z.string().min(1)).min(1),
  regions: z.array(z.string().min(1)).min(1),
  capacity: z.number().int().min(1).max(20_000),
  startConcurrency: z.number().int().min(1).max(1_000),
  longPollWaitMs: z.number().int().min(1_000).max(120_000),
});
export type RawPollersConfig = z.infer<typeof rawPollersConfigSchema>;

interface PollAnswer {
  readonly updates: readonly {
    readonly version: number;
    readonly record: { readonly pointer: { readonly kind: string; readonly data?: string } };
  }[];
}

interface Member {
  readonly identity: Record<string, string>;
  readonly app: string;
  version: number | undefined;
  revision: number | undefined;
}

class RawPollerFleet implements Fleet {
  readonly #members: Member[] = [];
  // Keep-alive: a member's next long-poll reuses the socket its answer came on; no cap on sockets.
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  readonly #counts: Record<string, number> = {};
  readonly problems: string[] = [];
  #closed = false;

  constructor(
    private readonly config: RawPollersConfig,
    private readonly log: ApplyLog,
  ) {}

  get size(): number {
    return this.#members.length;
  }

  counters(): Record<string, number> {
    return { ...this.#counts };
  }

  #count(key: string, problem?: string): void {
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
    if (problem && this.problems.length < 5) this.problems.push(problem);
  }

  onRevision(revision: number): number {
    let n = 0;
    for (const m of this.#members) if (m.revision === revision) n++;
    return n;
  }

  async grow(total: number, _revision: number, deadline: number): Promise<{ problems: string[] }> {
    const c = this.config;
    const first = this.#members.length;
    const target = Math.min(total, c.capacity);
    const indexes = Array.from({ length: Math.max(0, target - first) }, (_, i) => first + i);
    await eachLimited(indexes, c.startConcurrency, async (index) => {
      if (wallNow() > deadline) return;
      const spread = index + c.worker;
      const app = c.apps[spread % c.apps.length]!;
      const member: Member = {
        identity: {
          app,
          cluster: `c${spread % 7}`,
          region: c.regions[spread % c.regions.length]!,
          node: `w${c.worker}-raw-${index}`,
        },
        app,
        version: undefined,
        revision: undefined,
      };
      this.#members[index] = member;
      // The first poll (no currentVersion) is answered at once; resolve when it has been applied.
      await new Promise<void>((resolve) => this.#poll(index, member, resolve));
    });
    return {
      problems:
        this.#members.length < target
          ? [`only ${this.#members.length} of ${target} pollers started before the deadline`]
          : [],
    };
  }

  #poll(index: number, member: Member, onAnswer?: () => void): void {
    if (this.#closed) return;
    const c = this.config;
    const body = JSON.stringify({
      identity: member.identity,
      topics: [
        member.version === undefined
          ? { topic: c.topic }
          : { topic: c.topic, currentVersion: member.version },
      ],
      ...(member.version === undefined ? {} : { waitMs: c.longPollWaitMs }),
    });
    const req = request({
      host: c.host,
      port: c.port,
      localAddress: c.localAddress,
      method: 'POST',
      path: '/v1/poll',
      agent: this.#agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-meshpress-app': member.app,
      },
    });
    req.on('error', (err) => {
      if (this.#closed) return;
      this.#count('error', `poller ${index}: ${err.message}`);
      onAnswer?.();
      // Bounded retry pace: one attempt per second per member.
      setTimeout(() => this.#poll(index, member), 1_000).unref();
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode === 200) this.#apply(index, member, Buffer.concat(chunks).toString('utf8'));
        else if (res.statusCode === 204) this.#count('poll.none');
        else this.#count('error', `poller ${index}: HTTP ${res.statusCode}`);
        onAnswer?.();
        // Next tick: the agent frees this socket after 'end', so the next long-poll reuses it.
        if (res.statusCode === 200 || res.statusCode === 204) setImmediate(() => this.#poll(index, member));
        else setTimeout(() => this.#poll(index, member), 1_000).unref();
      });
    });
    req.end(body);
  }

  #apply(index: number, member: Member, text: string): void {
    const update = (JSON.parse(text) as PollAnswer).updates[0];
    const data = update?.record.pointer.data;
    if (!update || data === undefined) {
      this.#count('error', `poller ${index}: answer without an inline payload`);
      return;
    }
    const document = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { revision: number };
    member.version = update.version;
    member.revision = document.revision;
    this.log.record(document.revision, index, wallNow());
    this.#count('poll.update');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#agent.destroy();
  }
}

serveFleet(rawPollersConfigSchema, (config) => {
  const log = new ApplyLog(config.capacity);
  return { fleet: new RawPollerFleet(config, log), log };
});
