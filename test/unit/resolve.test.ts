import {
  type Identity,
  type PinEvent,
  type PinRecord,
  type ResolutionState,
  resolve,
  type ScopedPublish,
  stateAt,
  visibleVersions,
  winningPin,
} from '@meshpress/client';
import { describe, expect, it } from 'vitest';

const pin = (scope: string, version: number, setAt: number): PinRecord => ({
  scope,
  version,
  setAt,
  reason: `pin ${scope} to ${version}`,
  author: 'ops@example.com',
});
const pub = (version: number, scope = '*', visibleAt = version * 1000): ScopedPublish => ({
  version,
  scope,
  visibleAt,
});
const world = (publishes: ScopedPublish[], pins: PinRecord[] = []): ResolutionState => ({ pins, publishes });

const euPayments: Identity = { app: 'payments', cluster: 'payments-v2', region: 'eu-west-1', node: 'n1' };
const usPayments: Identity = { app: 'payments', cluster: 'payments-v2', region: 'us-east-1', node: 'n2' };

describe('resolve: pins', () => {
  const publishes = [pub(1), pub(2), pub(3), pub(4), pub(5)];

  it('the most specific matching pin wins, whatever the order or age of the pins', () => {
    const pins = [
      pin('*', 1, 500),
      pin('app=payments,region=eu-west-1', 3, 100),
      pin('app=payments', 2, 900),
    ];
    expect(resolve(world(publishes, pins), euPayments)).toEqual({
      version: 3,
      pinned: true,
      scope: 'app=payments,region=eu-west-1',
    });
    // The two-key pin does not match us-east-1, so the one-key pin is the most specific there.
    expect(resolve(world(publishes, pins), usPayments)).toEqual({
      version: 2,
      pinned: true,
      scope: 'app=payments',
    });
    expect(resolve(world(publishes, [...pins].reverse()), euPayments)?.version).toBe(3);
  });

  it('among equally specific matching pins the most recently set wins', () => {
    const pins = [
      pin('app=payments', 2, 100),
      pin('region=eu-west-1', 4, 200),
      pin('cluster=payments-v2', 1, 150),
    ];
    expect(resolve(world(publishes, pins), euPayments)).toEqual({
      version: 4,
      pinned: true,
      scope: 'region=eu-west-1',
    });
    expect(resolve(world(publishes, [...pins].reverse()), euPayments)?.scope).toBe('region=eu-west-1');
    // For us-east-1 the region pin does not match: the newer of the remaining two wins.
    expect(resolve(world(publishes, pins), usPayments)).toMatchObject({
      version: 1,
      scope: 'cluster=payments-v2',
    });
  });

  it('equally specific pins set at the same instant resolve the same way in any input order', () => {
    // Stores return pins in different orders (SQLite, Cassandra, the fallback cache); server and client
    // must still agree, so the tie-break cannot be "first in the array".
    const a = pin('app=payments', 2, 100);
    const b = pin('region=eu-west-1', 4, 100);
    const forward = resolve(world(publishes, [a, b]), euPayments);
    const backward = resolve(world(publishes, [b, a]), euPayments);
    expect(forward).toEqual(backward);
    expect(forward).toEqual({ version: 2, pinned: true, scope: 'app=payments' });
    expect(winningPin([a, b], euPayments)).toBe(a);
    expect(winningPin([b, a], euPayments)).toBe(a);
  });

  it('a pin overrides higher published versions, including ones published after it was set', () => {
    const pins = [pin('*', 3, 3500)];
    expect(resolve(world([...publishes, pub(6), pub(7)], pins), euPayments)).toEqual({
      version: 3,
      pinned: true,
      scope: '*',
    });
  });

  it('a pin can point to an older version (rollback)', () => {
    expect(resolve(world(publishes, [pin('app=payments', 1, 9000)]), euPayments)).toEqual({
      version: 1,
      pinned: true,
      scope: 'app=payments',
    });
  });

  it('a pin whose scope does not match the identity is ignored', () => {
    const pins = [pin('app=orders', 1, 100), pin('region=us-east-1,app=payments', 2, 200)];
    expect(resolve(world(publishes, pins), euPayments)).toEqual({ version: 5, pinned: false, scope: '*' });
    expect(winningPin(pins, euPayments)).toBeUndefined();
  });

  it('a pin still answers when no publish matches the identity', () => {
    expect(resolve(world([pub(1, 'app=orders')], [pin('app=payments', 1, 10)]), euPayments)).toEqual({
      version: 1,
      pinned: true,
      scope: 'app=payments',
    });
  });

  it('accepts pin scopes written in non-canonical order', () => {
    expect(resolve(world(publishes, [pin('region=eu-west-1,app=payments', 2, 1)]), euPayments)).toMatchObject(
      {
        version: 2,
        pinned: true,
      },
    );
  });
});

describe('resolve: publishes', () => {
  it('without a pin, answers the highest version with a matching publish scope', () => {
    const publishes = [pub(1), pub(4, 'app=orders'), pub(3), pub(2)];
    expect(resolve(world(publishes), euPayments)).toEqual({ version: 3, pinned: false, scope: '*' });
  });

  it('scoped publishes give different identities different versions', () => {
    const publishes = [pub(2, '*'), pub(3, 'region=eu-west-1')];
    expect(resolve(world(publishes), euPayments)).toEqual({
      version: 3,
      pinned: false,
      scope: 'region=eu-west-1',
    });
    expect(resolve(world(publishes), usPayments)).toEqual({ version: 2, pinned: false, scope: '*' });
  });

  it('a scope added later to an old version makes it visible to the identities it matches', () => {
    const before = [pub(1, '*'), pub(2, 'region=eu-west-1'), pub(3, 'app=orders')];
    expect(resolve(world(before), usPayments)?.version).toBe(1);
    const after = [...before, pub(2, 'region=us-east-1', 9000)];
    expect(resolve(world(after), usPayments)).toEqual({
      version: 2,
      pinned: false,
      scope: 'region=us-east-1',
    });
    expect(resolve(world(after), euPayments)?.version).toBe(2);
  });

  it('reports the most specific matching scope of the winning version, whatever the input order', () => {
    const publishes = [pub(3, '*'), pub(3, 'region=eu-west-1'), pub(3, 'app=payments,region=eu-west-1')];
    const expected = { version: 3, pinned: false, scope: 'app=payments,region=eu-west-1' };
    expect(resolve(world(publishes), euPayments)).toEqual(expected);
    expect(resolve(world([...publishes].reverse()), euPayments)).toEqual(expected);
    expect(resolve(world(publishes), usPayments)).toEqual({ version: 3, pinned: false, scope: '*' });
  });

  it('answers undefined when nothing matches', () => {
    expect(resolve(world([]), euPayments)).toBeUndefined();
    expect(resolve(world([pub(1, 'app=orders'), pub(2, 'region=us-east-1')]), euPayments)).toBeUndefined();
    expect(resolve(world([pub(1, 'app=orders')], [pin('app=orders', 1, 1)]), euPayments)).toBeUndefined();
  });

  it('a constraint on a key the identity lacks never holds', () => {
    const publishes = [pub(1), pub(2, 'env=prod'), pub(3, 'app=payments,env=prod')];
    expect(resolve(world(publishes), euPayments)?.version).toBe(1);
    expect(resolve(world(publishes, [pin('env=prod', 2, 1)]), euPayments)).toEqual({
      version: 1,
      pinned: false,
      scope: '*',
    });
    expect(resolve(world(publishes), { ...euPayments, env: 'prod' })?.version).toBe(3);
    expect(resolve(world(publishes), {})?.version).toBe(1);
  });
});

describe('visibleVersions', () => {
  it('lists every version visible to the identity, newest first, each once, ignoring pins', () => {
    const state = world(
      [pub(2), pub(5, 'app=orders'), pub(1), pub(4, 'region=eu-west-1'), pub(4, '*'), pub(2, 'app=payments')],
      [pin('*', 1, 10)],
    );
    expect(visibleVersions(state, euPayments)).toEqual([4, 2, 1]);
    expect(visibleVersions(state, { app: 'orders' })).toEqual([5, 4, 2, 1]);
    expect(visibleVersions(world([pub(1, 'app=orders')]), euPayments)).toEqual([]);
  });

  it('orders numerically, not as strings', () => {
    expect(visibleVersions(world([pub(9), pub(10), pub(100), pub(2)]), {})).toEqual([100, 10, 9, 2]);
  });
});

describe('stateAt', () => {
  const event = (scope: string, at: number, version?: number): PinEvent => ({
    scope,
    version,
    at,
    reason: version === undefined ? 'unpin' : `pin ${version}`,
    author: 'ops',
  });

  it('keeps only publishes visible by then, including one visible at exactly that instant', () => {
    const publishes = [pub(1, '*', 100), pub(2, '*', 200), pub(2, 'region=eu-west-1', 250), pub(3, '*', 300)];
    expect(stateAt(publishes, [], 199).publishes).toEqual([pub(1, '*', 100)]);
    expect(stateAt(publishes, [], 250).publishes).toEqual([
      pub(1, '*', 100),
      pub(2, '*', 200),
      pub(2, 'region=eu-west-1', 250),
    ]);
    expect(stateAt(publishes, [], 99).publishes).toEqual([]);
    expect(resolve(stateAt(publishes, [], 299), usPayments)?.version).toBe(2);
    expect(resolve(stateAt(publishes, [], 300), usPayments)?.version).toBe(3);
  });

  it('reconstructs the pins standing then from the history, including removals and re-pins', () => {
    const history = [
      event('app=payments', 100, 1),
      event('*', 150, 2),
      event('app=payments', 200),
      event('app=payments', 300, 3),
      event('*', 400),
    ];
    expect(stateAt([], history, 50).pins).toEqual([]);
    expect(stateAt([], history, 150).pins).toEqual([
      { scope: 'app=payments', version: 1, setAt: 100, reason: 'pin 1', author: 'ops' },
      { scope: '*', version: 2, setAt: 150, reason: 'pin 2', author: 'ops' },
    ]);
    expect(stateAt([], history, 250).pins).toEqual([
      { scope: '*', version: 2, setAt: 150, reason: 'pin 2', author: 'ops' },
    ]);
    expect(stateAt([], history, 300).pins).toEqual(
      expect.arrayContaining([
        { scope: '*', version: 2, setAt: 150, reason: 'pin 2', author: 'ops' },
        { scope: 'app=payments', version: 3, setAt: 300, reason: 'pin 3', author: 'ops' },
      ]),
    );
    expect(stateAt([], history, 300).pins).toHaveLength(2);
    expect(stateAt([], history, 1000).pins).toEqual([
      { scope: 'app=payments', version: 3, setAt: 300, reason: 'pin 3', author: 'ops' },
    ]);
  });

  it('a pin replaced on the same scope keeps only the newer one, with its own setAt', () => {
    const history = [event('*', 100, 1), event('*', 200, 2)];
    expect(stateAt([], history, 200).pins).toEqual([
      { scope: '*', version: 2, setAt: 200, reason: 'pin 2', author: 'ops' },
    ]);
  });

  it('includes a pin event at exactly `at`, and accepts the history in any order', () => {
    const history = [
      event('app=payments', 300),
      event('app=payments', 100, 1),
      event('app=payments', 200, 2),
    ];
    expect(stateAt([], history, 200).pins.map((p) => p.version)).toEqual([2]);
    expect(stateAt([], history, 299).pins.map((p) => p.version)).toEqual([2]);
    expect(stateAt([], history, 300).pins).toEqual([]);
  });

  it('answers what an identity got at that instant', () => {
    const publishes = [pub(1, '*', 100), pub(2, '*', 200), pub(3, '*', 300)];
    const history = [event('app=payments', 250, 1), event('app=payments', 350)];
    expect(resolve(stateAt(publishes, history, 240), euPayments)).toEqual({
      version: 2,
      pinned: false,
      scope: '*',
    });
    expect(resolve(stateAt(publishes, history, 320), euPayments)).toEqual({
      version: 1,
      pinned: true,
      scope: 'app=payments',
    });
    expect(resolve(stateAt(publishes, history, 350), euPayments)).toEqual({
      version: 3,
      pinned: false,
      scope: '*',
    });
  });
});
