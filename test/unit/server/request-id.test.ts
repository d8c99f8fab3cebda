import { describe, expect, it } from 'vitest';
import { requestIdFrom } from '../../../server/src/core/request-id.js';

describe('requestIdFrom', () => {
  it("keeps a well-formed id the caller sent, so one request's logs correlate across hops", () => {
    expect(requestIdFrom('edge-7f3a.42:1')).toBe('edge-7f3a.42:1');
  });

  it('makes a fresh id for a missing or malformed one, never repeating itself', () => {
    const made = [undefined, '', 'has space', 'x'.repeat(129), ['a', 'b'], 42].map(requestIdFrom);
    const more = Array.from({ length: 1000 }, () => requestIdFrom(undefined));
    const all = [...made, ...more];
    expect(new Set(all).size).toBe(all.length);
    // Usable wherever a supplied id is: the same alphabet and bounds.
    for (const id of all) expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    // All from this process share its random prefix; the next process draws another.
    expect(new Set(all.map((id) => id.split('-')[0])).size).toBe(1);
  });
});
