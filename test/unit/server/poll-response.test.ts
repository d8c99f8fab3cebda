import { type PollUpdate, toPollUpdateView, type VersionRecord } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { pollResponseBody } from '../../../server/src/rest/poll-response.js';

const record = (topic: string, version: number, data: string): VersionRecord => ({
  topic,
  version,
  metadata: { commit: 'abc' },
  pointer: { kind: 'direct', data: new TextEncoder().encode(data) },
  size: data.length,
  sha256: 'a'.repeat(64),
  contentType: 'application/json',
  publisher: 'ci',
  createdAt: 1_700_000_000_000,
  committedAt: 1_700_000_000_100,
  scopes: [{ scope: '*', addedAt: 1_700_000_000_000 }],
});

const plain = (updates: PollUpdate[]) => JSON.stringify({ updates: updates.map(toPollUpdateView) });

const pollResponseJson = (updates: PollUpdate[]) => pollResponseBody(updates).json;

describe('poll response JSON', () => {
  it('is the JSON of the update views, whether served fresh or reused', () => {
    const a = record('mesh.a', 3, '{"routes":[]}');
    const b = record('mesh.b', 7, 'payload');
    const updates: PollUpdate[] = [
      { topic: 'mesh.a', version: 3, pinned: false, record: a },
      { topic: 'mesh.b', version: 7, pinned: true, record: b },
    ];
    expect(pollResponseJson(updates)).toBe(plain(updates));
    expect(pollResponseJson(updates)).toBe(plain(updates));
    expect(JSON.parse(pollResponseJson(updates)).updates[0].record.pointer.data).toBe(
      Buffer.from('{"routes":[]}').toString('base64'),
    );
  });

  it('keeps pinned and unpinned answers of one record apart', () => {
    const r = record('mesh.a', 3, 'x');
    const unpinned: PollUpdate = { topic: 'mesh.a', version: 3, pinned: false, record: r };
    const pinned: PollUpdate = { ...unpinned, pinned: true };
    expect(pollResponseJson([unpinned])).toBe(plain([unpinned]));
    expect(pollResponseJson([pinned])).toBe(plain([pinned]));
    expect(JSON.parse(pollResponseJson([pinned])).updates[0].pinned).toBe(true);
  });

  it('serializes a record once: every answer with it alone is the same body, its length in bytes', () => {
    const r = { ...record('mesh.a', 3, 'x'), metadata: { owner: 'équipe réseau' } };
    const update: PollUpdate = { topic: 'mesh.a', version: 3, pinned: false, record: r };
    const first = pollResponseBody([update]);
    expect(pollResponseBody([{ ...update }])).toBe(first);
    expect(first.json).toBe(plain([update]));
    // Multi-byte text: the content-length counts bytes, not characters.
    expect(first.bytes).toBe(Buffer.byteLength(plain([update])));
    expect(first.bytes).toBeGreaterThan(first.json.length);
    // A longer answer is spliced from the one-update bodies, and measured as such.
    const other: PollUpdate = { topic: 'mesh.b', version: 1, pinned: true, record: record('mesh.b', 1, 'y') };
    const both = pollResponseBody([update, other]);
    expect(both.json).toBe(plain([update, other]));
    expect(both.bytes).toBe(Buffer.byteLength(plain([update, other])));
  });

  it('answers an empty list as such', () => {
    expect(JSON.parse(pollResponseJson([]))).toEqual({ updates: [] });
  });
});
