import { ManualClock, TooManyRequestsError, ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import {
  AppConcurrencyLimiter,
  type AppConcurrencyLimiterOptions,
  DEFAULT_INITIAL_LIMIT,
  DEFAULT_MAX_LIMIT,
  DEFAULT_PER_APP_SHARE,
  DEFAULT_TOTAL_LIMIT,
  type Listener,
  OVERFLOW_APP,
} from '../../../server/src/limits/index.js';

function limiter(options: Omit<AppConcurrencyLimiterOptions, 'clock'> = {}) {
  const clock = new ManualClock();
  return { clock, limiter: new AppConcurrencyLimiter({ clock, ...options }) };
}

/** Acquires `n` slots for `app`, failing the test if any is refused. */
function fill(l: AppConcurrencyLimiter, app: string, n: number): Listener[] {
  return Array.from({ length: n }, () => {
    const listener = l.acquire(app);
    if (!listener) throw new Error(`${app} was refused`);
    return listener;
  });
}

describe('AppConcurrencyLimiter', () => {
  it('admits an app up to its limit, refuses the next request, and admits again once a slot frees', () => {
    const { limiter: l } = limiter({ initialLimit: 4, minLimit: 2, maxLimit: 8, totalLimit: 100 });
    const held = fill(l, 'flood', 4);
    expect(l.acquire('flood')).toBeUndefined();
    expect(l.rejectedCount).toBe(1);
    held[0]?.onIgnore();
    expect(l.acquire('flood')).toBeDefined();
  });

  it("isolates apps: one app saturating and failing does not lower another app's limit", () => {
    const { clock, limiter: l } = limiter({ initialLimit: 8, minLimit: 2, maxLimit: 16, totalLimit: 100 });
    const flood = fill(l, 'flood', 8);
    for (let i = 0; i < 20; i++) expect(l.acquire('flood')).toBeUndefined();
    clock.advance(10);
    for (const listener of flood) listener.onDropped();
    expect(l.limitOf('flood')).toBeLessThan(8);

    expect(l.limitOf('calm')).toBe(8);
    const calm = fill(l, 'calm', 8);
    expect(l.inflightOf('calm')).toBe(8);
    for (const listener of calm) listener.onSuccess();
    expect(l.limitOf('calm')).toBeGreaterThanOrEqual(8);
  });

  it('raises the limit of an app that keeps using it while answers stay fast', () => {
    const { clock, limiter: l } = limiter({ initialLimit: 4, minLimit: 2, maxLimit: 16, totalLimit: 100 });
    for (let round = 0; round < 2; round++) {
      const listeners = fill(l, 'busy', l.limitOf('busy'));
      clock.advance(5);
      for (const listener of listeners) listener.onSuccess();
    }
    // AIMD adds one per completion of a request admitted with at least half the limit in use: 4 -> 7 -> 11.
    expect(l.limitOf('busy')).toBe(11);
  });

  it('backs an app off when its answers slow down', () => {
    const { clock, limiter: l } = limiter({
      initialLimit: 10,
      minLimit: 2,
      maxLimit: 20,
      totalLimit: 100,
      algorithm: { kind: 'aimd', backoffRatio: 0.5, minThresholdMs: 50 },
    });
    for (let i = 0; i < 5; i++) {
      const listener = l.acquire('slow');
      clock.advance(10);
      listener?.onSuccess();
    }
    const before = l.limitOf('slow');
    const listener = l.acquire('slow');
    clock.advance(500);
    listener?.onSuccess();
    expect(l.limitOf('slow')).toBe(Math.floor(before / 2));
  });

  it('counts held long-polls toward in-flight but never reads their duration as latency', () => {
    const { clock, limiter: l } = limiter({
      initialLimit: 10,
      minLimit: 2,
      maxLimit: 20,
      totalLimit: 100,
      algorithm: { kind: 'aimd', backoffRatio: 0.5, minThresholdMs: 50 },
    });
    for (let i = 0; i < 5; i++) {
      const listener = l.acquire('poller');
      clock.advance(5);
      listener?.onSuccess();
    }
    const before = l.limitOf('poller');
    const polls = fill(l, 'poller', before);
    expect(l.acquire('poller')).toBeUndefined();
    clock.advance(30_000);
    for (const poll of polls) poll.onSuccess({ held: true });
    expect(l.inflightOf('poller')).toBe(0);
    expect(l.limitOf('poller')).toBeGreaterThan(before);
  });

  it('caps any one app at its share of the total, however high its own limit', () => {
    const { limiter: l } = limiter({
      initialLimit: 50,
      minLimit: 5,
      maxLimit: 100,
      totalLimit: 100,
      perAppShare: 0.25,
    });
    expect(l.limitOf('flood')).toBe(25);
    fill(l, 'flood', 25);
    expect(l.acquire('flood')).toBeUndefined();
    expect(l.acquire('calm')).toBeDefined();
  });

  it('shares a full instance fairly: newcomers get in up to an equal split, the hog waits', () => {
    const { limiter: l } = limiter({
      initialLimit: 20,
      minLimit: 2,
      maxLimit: 20,
      totalLimit: 20,
      perAppShare: 1,
    });
    const hog = fill(l, 'hog', 20);
    expect(l.totalInflight).toBe(20);
    // The instance is full, but 'calm' holds less than 20 / 2 apps.
    fill(l, 'calm', 10);
    expect(l.acquire('calm')).toBeUndefined();
    // The hog freeing one slot does not let it take another while it is above its share.
    hog[0]?.onIgnore();
    expect(l.acquire('hog')).toBeUndefined();
    // A third app arrives: the split is now 20 / 3, and it is admitted below that.
    fill(l, 'third', 6);
    expect(l.acquire('third')).toBeUndefined();
  });

  it('forgets an app idle for idleEvictionMs, and with it what it had learnt', () => {
    const { clock, limiter: l } = limiter({
      initialLimit: 8,
      minLimit: 2,
      maxLimit: 16,
      totalLimit: 100,
      idleEvictionMs: 60_000,
    });
    const listener = l.acquire('gone');
    clock.advance(1);
    listener?.onDropped();
    expect(l.limitOf('gone')).toBeLessThan(8);
    expect(l.appCount).toBe(1);
    clock.advance(60_000);
    l.acquire('other')?.onIgnore();
    expect(l.snapshot().apps.map((a) => a.app)).toEqual(['other']);
    expect(l.limitOf('gone')).toBe(8);
  });

  it('never forgets an app with requests in flight, however long they are held', () => {
    const { clock, limiter: l } = limiter({
      initialLimit: 8,
      minLimit: 2,
      maxLimit: 16,
      totalLimit: 100,
      idleEvictionMs: 1_000,
    });
    const held = fill(l, 'holder', 3);
    clock.advance(5_000);
    l.acquire('other')?.onIgnore();
    expect(l.inflightOf('holder')).toBe(3);
    for (const listener of held) listener.onIgnore();
    expect(l.totalInflight).toBe(0);
  });

  it('tracks at most maxApps: an idle app makes room, and when none is idle new apps share one overflow partition', () => {
    const { limiter: l } = limiter({
      initialLimit: 4,
      minLimit: 2,
      maxLimit: 8,
      totalLimit: 100,
      maxApps: 2,
    });
    l.acquire('a')?.onIgnore();
    fill(l, 'b', 1);
    fill(l, 'c', 1);
    expect(
      l
        .snapshot()
        .apps.map((a) => a.app)
        .sort(),
    ).toEqual(['b', 'c']);
    // Every tracked app is busy: made-up names all land in the overflow partition and are limited together.
    fill(l, 'd', 2);
    fill(l, 'e', 2);
    expect(l.acquire('f')).toBeUndefined();
    expect(l.inflightOf(OVERFLOW_APP)).toBe(4);
  });

  it('releases a slot once, however many times the transport reports the end', () => {
    const { limiter: l } = limiter({ initialLimit: 4, minLimit: 2, maxLimit: 8, totalLimit: 100 });
    const [listener] = fill(l, 'app', 2);
    listener?.onSuccess();
    listener?.onIgnore();
    listener?.onDropped();
    expect(l.inflightOf('app')).toBe(1);
    expect(l.totalInflight).toBe(1);
  });

  it('describes a refusal as TOO_MANY_REQUESTS with the configured retry delay', () => {
    const { limiter: l } = limiter({
      initialLimit: 4,
      minLimit: 2,
      maxLimit: 8,
      totalLimit: 100,
      retryAfterMs: 2_500,
    });
    const error = l.tooManyRequests('flood');
    expect(error).toBeInstanceOf(TooManyRequestsError);
    expect(error.code).toBe('TOO_MANY_REQUESTS');
    expect(error.retryAfterMs).toBe(2_500);
    expect(error.message).toContain("'flood'");
  });

  it('works with the gradient2 algorithm too', () => {
    const { clock, limiter: l } = limiter({
      initialLimit: 10,
      minLimit: 2,
      maxLimit: 50,
      totalLimit: 100,
      algorithm: { kind: 'gradient2' },
    });
    for (let round = 0; round < 5; round++) {
      const listeners = fill(l, 'g', l.limitOf('g'));
      clock.advance(10);
      for (const listener of listeners) listener.onSuccess();
    }
    expect(l.limitOf('g')).toBeGreaterThan(10);
  });
});

describe('AppConcurrencyLimiter options', () => {
  it('derives unset bounds from the ones given', () => {
    expect(new AppConcurrencyLimiter().limitOf('x')).toBe(DEFAULT_INITIAL_LIMIT);
    expect(new AppConcurrencyLimiter({ maxLimit: 30, totalLimit: 60 }).limitOf('x')).toBe(30);
    expect(new AppConcurrencyLimiter({ totalLimit: 40 }).limitOf('x')).toBe(20);
  });

  it('by default admits a cold start of 20 apps with 1,000 held polls each, and still caps one app', () => {
    const clock = new ManualClock();
    const l = new AppConcurrencyLimiter({ clock });
    for (let app = 0; app < 20; app++) fill(l, `svc-${app}`, 1_000);
    expect(l.totalInflight).toBe(20_000);
    fill(l, 'svc-0', DEFAULT_INITIAL_LIMIT - 1_000);
    expect(l.acquire('svc-0')).toBeUndefined();
    expect(DEFAULT_INITIAL_LIMIT).toBeLessThanOrEqual(DEFAULT_MAX_LIMIT);
    expect(DEFAULT_MAX_LIMIT).toBeLessThanOrEqual(DEFAULT_TOTAL_LIMIT * DEFAULT_PER_APP_SHARE);
  });

  it('rejects inconsistent bounds, naming the field', () => {
    const bad = (options: AppConcurrencyLimiterOptions) => {
      try {
        new AppConcurrencyLimiter(options);
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return (err as ValidationError).issues.map((i) => i.path);
      }
      throw new Error('accepted');
    };
    expect(bad({ minLimit: 20, maxLimit: 10 })).toContain('minLimit');
    expect(bad({ initialLimit: 1, minLimit: 5 })).toContain('initialLimit');
    expect(bad({ maxLimit: 200, totalLimit: 100 })).toContain('maxLimit');
    expect(bad({ minLimit: 10, totalLimit: 100, perAppShare: 0.05 })).toContain('perAppShare');
    expect(bad({ algorithm: { kind: 'aimd', backoffRatio: 1.5 } })).toContain('algorithm.backoffRatio');
    expect(bad({ clock: {} as never })).toContain('clock');
  });
});
