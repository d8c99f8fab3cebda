import { eachLimited, publishDocument, putTopic, restCall } from './rest.js';

/**
 * The state the poll benchmarks run against, shaped like a mesh: APPS services, each consuming the
 * TOPICS_PER_POLL topics of its own (routes, policy, ...). Each topic has a global version, a regional
 * override and an app-and-region override, so resolution picks among several scopes; one region of each
 * app's routes topic is pinned.
 */
export const TOPICS_PER_POLL = 7;
const KINDS = ['routes', 'policy', 'endpoints', 'ratelimit', 'authz', 'tls', 'outlier'] as const;
export const REGIONS = ['eu-west-1', 'us-east-1', 'ap-south-1'] as const;

export interface PollIdentity {
  readonly app: string;
  readonly cluster: string;
  readonly region: string;
  readonly node: string;
}

export interface PollFixture {
  readonly apps: readonly string[];
  topicsOf(app: string): readonly string[];
}

export function topicsOf(app: string): string[] {
  return KINDS.slice(0, TOPICS_PER_POLL).map((kind) => `mesh.bench.${app}.${kind}`);
}

/** A realistic small document (a few hundred bytes of JSON). */
export function sampleDocument(topic: string, n: number): unknown {
  return {
    topic,
    revision: n,
    routes: [
      {
        match: { prefix: '/api/' },
        targets: [
          { node: 'v1', weight: 90 },
          { node: 'v2', weight: 10 },
        ],
      },
      { match: { exact: '/healthz' }, targets: [{ node: 'v1', weight: 100 }], timeoutMs: 250 },
    ],
    retry: { attempts: 2, on: ['5xx', 'reset'] },
  };
}

export async function seedPollTopics(baseUrl: string, appCount: number): Promise<PollFixture> {
  const apps = Array.from({ length: appCount }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
  const jobs = apps.flatMap((app) => topicsOf(app).map((topic) => ({ app, topic })));
  await eachLimited(jobs, 8, async ({ app, topic }) => {
    await putTopic(baseUrl, topic);
    await publishDocument(baseUrl, topic, sampleDocument(topic, 1), ['*']);
    await publishDocument(baseUrl, topic, sampleDocument(topic, 2), [`region=${REGIONS[0]}`]);
    const v3 = await publishDocument(baseUrl, topic, sampleDocument(topic, 3), [
      `app=${app},region=${REGIONS[1]}`,
    ]);
    await publishDocument(baseUrl, topic, sampleDocument(topic, 4), ['*']);
    if (topic.endsWith('.routes'))
      await restCall(
        baseUrl,
        'PUT',
        `/v1/topics/${topic}/pins/${encodeURIComponent(`region=${REGIONS[2]}`)}`,
        {
          version: v3 - 1,
          reason: 'bench: pinned region',
        },
      );
  });
  return { apps, topicsOf };
}

/** `count` distinct identities spread over the fixture's apps and regions. */
export function identities(fixture: PollFixture, count: number, prefix = 'node'): PollIdentity[] {
  return Array.from({ length: count }, (_, i) => {
    const app = fixture.apps[i % fixture.apps.length]!;
    const region = REGIONS[Math.floor(i / fixture.apps.length) % REGIONS.length]!;
    return { app, region, cluster: `${app}-${region}-c${i % 2}`, node: `${prefix}-${i}` };
  });
}

export interface PollBody {
  readonly identity: PollIdentity;
  readonly topics: { topic: string; currentVersion?: number }[];
  readonly waitMs?: number;
}

/**
 * For each identity, the poll body naming every topic at the version it would be served now, learned by
 * one poll without currentVersion per identity: polled again, it gets no update (204). With `stale`, the
 * first topic is one version behind, so that poll gets one update (200).
 */
export async function latestPollBodies(baseUrl: string, fixture: PollFixture, who: readonly PollIdentity[]) {
  const latest = new Map<PollIdentity, Map<string, number>>();
  await eachLimited(who, 16, async (identity) => {
    const topics = fixture.topicsOf(identity.app).map((topic) => ({ topic }));
    const { json } = await restCall(baseUrl, 'POST', '/v1/poll', { identity, topics });
    const updates = (json as { updates: { topic: string; version: number }[] }).updates;
    if (updates.length !== topics.length)
      throw new Error(`setup: ${identity.node} resolved ${updates.length} of ${topics.length} topics`);
    latest.set(identity, new Map(updates.map((u) => [u.topic, u.version])));
  });
  return (identity: PollIdentity, options: { stale?: boolean; waitMs?: number } = {}): PollBody => {
    const versions = latest.get(identity)!;
    const topics = fixture.topicsOf(identity.app).map((topic, i) => {
      const version = versions.get(topic)!;
      if (options.stale && i === 0) return version > 1 ? { topic, currentVersion: version - 1 } : { topic };
      return { topic, currentVersion: version };
    });
    return { identity, topics, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) };
  };
}
