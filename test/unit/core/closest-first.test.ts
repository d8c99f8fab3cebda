import type { VersionRecord } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { closestFirst } from '../../../server/src/core/closest-first.js';

const record = (regions: string[]): VersionRecord => ({
  topic: 't',
  version: 1,
  metadata: {},
  pointer: {
    kind: 's3',
    locations: regions.map((region) => ({ region, bucket: `b-${region}`, key: 'blobs/x' })),
  },
  size: 1,
  sha256: 'a'.repeat(64),
  contentType: 'application/octet-stream',
  publisher: 'p',
  createdAt: 0,
  committedAt: 0,
  scopes: [],
});

const regionsOf = (r: VersionRecord) =>
  r.pointer.kind === 's3' ? r.pointer.locations.map((l) => l.region) : [];

describe('closestFirst', () => {
  it("puts the caller's region first and keeps the others in published order", () => {
    expect(regionsOf(closestFirst(record(['us-east-1', 'eu-west-1', 'ap-south-1']), 'ap-south-1'))).toEqual([
      'ap-south-1',
      'us-east-1',
      'eu-west-1',
    ]);
  });

  it('leaves the order alone when the caller has no region, no copy in its region, or it is already first', () => {
    const r = record(['us-east-1', 'eu-west-1']);
    expect(closestFirst(r, undefined)).toBe(r);
    expect(closestFirst(r, 'sa-east-1')).toBe(r);
    expect(closestFirst(r, 'us-east-1')).toBe(r);
  });
});
