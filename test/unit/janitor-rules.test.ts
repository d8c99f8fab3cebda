import { type DataPointer, sha256Hex } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { DAY_MS, keptByRetention, ownedBlobPointer } from '../../server/src/tasks/janitor-rules.js';

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

describe('which blobs meshpress owns', () => {
  it('owns its own content-addressed local and S3 keys, with or without a prefix', () => {
    const local: DataPointer = { kind: 'local', key: `blobs/${SHA}` };
    expect(ownedBlobPointer(local, SHA)).toEqual(local);
    const s3: DataPointer = {
      kind: 's3',
      locations: [
        { region: 'us-east-1', bucket: 'mesh-us', key: `meshpress/prod/blobs/${SHA}` },
        { region: 'eu-west-1', bucket: 'mesh-eu', key: `blobs/${SHA}` },
      ],
    };
    expect(ownedBlobPointer(s3, SHA)).toEqual(s3);
  });

  it("never owns inline payloads, a publisher's own objects, or another digest's key", () => {
    const other = sha256Hex(new TextEncoder().encode('other'));
    expect(ownedBlobPointer({ kind: 'direct', data: new Uint8Array(1) }, SHA)).toBeUndefined();
    for (const key of [
      'configs/routes.json',
      `myblobs/${SHA}`,
      `blobs/${SHA}.bak`,
      `blobs/${other}`,
      `blobs/${SHA}/x`,
    ]) {
      expect(ownedBlobPointer({ kind: 's3', locations: [{ region: 'r', bucket: 'b', key }] }, SHA)).toBe(
        undefined,
      );
      expect(ownedBlobPointer({ kind: 'local', key }, SHA)).toBeUndefined();
    }
  });

  it('keeps only the content-addressed locations of a mixed pointer', () => {
    const pointer: DataPointer = {
      kind: 's3',
      locations: [
        { region: 'us-east-1', bucket: 'team-bucket', key: 'exports/routes.json' },
        { region: 'eu-west-1', bucket: 'mesh-eu', key: `blobs/${SHA}` },
      ],
    };
    expect(ownedBlobPointer(pointer, SHA)).toEqual({
      kind: 's3',
      locations: [{ region: 'eu-west-1', bucket: 'mesh-eu', key: `blobs/${SHA}` }],
    });
  });
});
