import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DataPointer, sha256Hex, ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { DirBlobStore } from '../../server/src/blob/dir-blob-store.js';
import { S3BlobStore } from '../../server/src/blob/s3-blob-store.js';
import { DAY_MS, keptByRetention } from '../../server/src/tasks/janitor-rules.js';

const NOW = 1_700_000_000_000;
const SHA = sha256Hex(new TextEncoder().encode('payload'));

describe('retention rules', () => {
  it('keeps the newest N by rank with a count limit alone', () => {
    const policy = { maxVersions: 3 };
    expect([0, 1, 2, 3, 4].map((rank) => keptByRetention(policy, rank, NOW - 100 * DAY_MS, NOW))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it('keeps versions strictly younger than D days with an age limit alone, whatever their rank', () => {
    const policy = { maxAgeDays: 2 };
    expect(keptByRetention(policy, 500, NOW - 2 * DAY_MS + 1, NOW)).toBe(true);
    expect(keptByRetention(policy, 0, NOW - 2 * DAY_MS, NOW)).toBe(false);
    // Fractional days are honoured.
    expect(keptByRetention({ maxAgeDays: 0.5 }, 0, NOW - DAY_MS / 2 + 1, NOW)).toBe(true);
    expect(keptByRetention({ maxAgeDays: 0.5 }, 0, NOW - DAY_MS / 2, NOW)).toBe(false);
  });

  it('keeps a version when either configured rule keeps it', () => {
    const policy = { maxVersions: 2, maxAgeDays: 1 };
    expect(keptByRetention(policy, 1, NOW - 10 * DAY_MS, NOW)).toBe(true);
    expect(keptByRetention(policy, 7, NOW - 1_000, NOW)).toBe(true);
    expect(keptByRetention(policy, 2, NOW - DAY_MS, NOW)).toBe(false);
  });

  it('keeps everything when the topic sets no limit', () => {
    expect(keptByRetention({}, 10_000, 0, NOW)).toBe(true);
  });
});

describe('which blobs a blob store owns (the only ones the janitor deletes)', () => {
  const s3 = new S3BlobStore({
    buckets: [
      { region: 'us-east-1', bucket: 'mesh-us' },
      { region: 'eu-west-1', bucket: 'mesh-eu' },
    ],
    prefix: 'meshpress/prod',
  });
  const dir = new DirBlobStore({ root: join(tmpdir(), 'meshpress-owned-never-written') });
  const at = (region: string, bucket: string, key: string) => ({ region, bucket, key });

  it('owns what it writes: local blobs/<sha>, and <prefix>/blobs/<sha> in its configured buckets', () => {
    const local: DataPointer = { kind: 'local', key: `blobs/${SHA}` };
    expect(dir.ownedPayload(local, SHA)).toEqual(local);
    const pointer: DataPointer = {
      kind: 's3',
      locations: [
        at('us-east-1', 'mesh-us', `meshpress/prod/blobs/${SHA}`),
        at('eu-west-1', 'mesh-eu', `meshpress/prod/blobs/${SHA}`),
      ],
    };
    expect(s3.ownedPayload(pointer, SHA)).toEqual(pointer);
  });

  it('never owns a look-alike key in a bucket it is not configured with, nor its bucket in another region', () => {
    for (const location of [
      at('us-east-1', 'team-configs', `meshpress/prod/blobs/${SHA}`),
      at('us-east-1', 'team-configs', `blobs/${SHA}`),
      at('eu-west-1', 'mesh-us', `meshpress/prod/blobs/${SHA}`),
    ])
      expect(s3.ownedPayload({ kind: 's3', locations: [location] }, SHA)).toBeUndefined();
  });

  it("never owns inline payloads, a publisher's own objects, another prefix or another digest's key", () => {
    const other = sha256Hex(new TextEncoder().encode('other'));
    expect(dir.ownedPayload({ kind: 'direct', data: new Uint8Array(1) }, SHA)).toBeUndefined();
    expect(s3.ownedPayload({ kind: 'direct', data: new Uint8Array(1) }, SHA)).toBeUndefined();
    expect(dir.ownedPayload({ kind: 's3', locations: [at('r', 'mesh-us', `blobs/${SHA}`)] }, SHA)).toBe(
      undefined,
    );
    for (const key of [
      'configs/routes.json',
      `blobs/${SHA}`,
      `meshpress/blobs/${SHA}`,
      `meshpress/prod/myblobs/${SHA}`,
      `meshpress/prod/blobs/${SHA}.bak`,
      `meshpress/prod/blobs/${other}`,
      `meshpress/prod/blobs/${SHA}/x`,
      `x/meshpress/prod/blobs/${SHA}`,
    ])
      expect(s3.ownedPayload({ kind: 's3', locations: [at('us-east-1', 'mesh-us', key)] }, SHA)).toBe(
        undefined,
      );
    for (const key of ['configs/routes.json', `myblobs/${SHA}`, `blobs/${other}`, `x/blobs/${SHA}`])
      expect(dir.ownedPayload({ kind: 'local', key }, SHA)).toBeUndefined();
    expect(dir.ownedPayload({ kind: 'local', key: 'blobs/not-a-digest' }, 'not-a-digest')).toBeUndefined();
  });

  it('keeps only the owned locations of a mixed pointer', () => {
    const owned = at('eu-west-1', 'mesh-eu', `meshpress/prod/blobs/${SHA}`);
    const pointer: DataPointer = {
      kind: 's3',
      locations: [
        at('us-east-1', 'team-bucket', 'exports/routes.json'),
        owned,
        at('us-east-1', 'team-bucket', `meshpress/prod/blobs/${SHA}`),
      ],
    };
    expect(s3.ownedPayload(pointer, SHA)).toEqual({ kind: 's3', locations: [owned] });
  });

  it('refuses to delete what it does not own, before deleting anything', async () => {
    const foreign: DataPointer = {
      kind: 's3',
      locations: [
        at('us-east-1', 'mesh-us', `meshpress/prod/blobs/${SHA}`),
        at('us-east-1', 'team-configs', `meshpress/prod/blobs/${SHA}`),
      ],
    };
    // No request is sent: the refusal comes first (there is no S3 endpoint here to answer one).
    await expect(s3.deletePayload(foreign)).rejects.toBeInstanceOf(ValidationError);
    await expect(dir.deletePayload({ kind: 'local', key: 'fallback/cache.json' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});
