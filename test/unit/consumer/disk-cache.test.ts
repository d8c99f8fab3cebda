import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, sha256Hex, type VersionRecord } from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskCache } from '../../../client/src/consumer/index.js';
import { IDENTITY, record, text } from './support.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshpress-disk-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(rec: VersionRecord, pinned = false) {
  if (rec.pointer.kind !== 'direct') throw new Error('test records are inline');
  return { record: rec, pinned, data: rec.pointer.data, savedAt: 42 };
}

describe('DiskCache', () => {
  it('reads back what it wrote, with the record as applied', async () => {
    const cache = new DiskCache(join(dir, 'nested', 'cache'), IDENTITY);
    const rec = { ...record('a.routes', 3, 'three'), metadata: { commit: 'abc' } };
    await cache.write(entry(rec, true));
    const read = await cache.read('a.routes');
    expect(read).toBeDefined();
    expect(text(read!.data)).toBe('three');
    expect(read!.pinned).toBe(true);
    expect(read!.savedAt).toBe(42);
    expect(read!.record).toMatchObject({
      topic: 'a.routes',
      version: 3,
      sha256: rec.sha256,
      metadata: { commit: 'abc' },
    });
    expect(read!.record.pointer.kind).toBe('direct');
  });

  it('a missing topic is a miss', async () => {
    expect(await new DiskCache(dir, IDENTITY).read('nothing.here')).toBeUndefined();
  });

  it('keeps one payload per topic and leaves no temporary files behind', async () => {
    const cache = new DiskCache(dir, IDENTITY);
    await cache.write(entry(record('a', 1, 'one')));
    await cache.write(entry(record('a.b', 1, 'other topic')));
    await cache.write(entry(record('a', 2, 'two')));
    const files = (await readdir(dir)).sort();
    const two = sha256Hex(new TextEncoder().encode('two'));
    const other = sha256Hex(new TextEncoder().encode('other topic'));
    expect(files).toEqual([`a.${two}.data`, `a.b.${other}.data`, 'a.b.json', 'a.json'].sort());
    expect(text((await cache.read('a'))!.data)).toBe('two');
    expect(text((await cache.read('a.b'))!.data)).toBe('other topic');
  });

  it('a payload whose bytes no longer match the sha256 is a miss', async () => {
    const cache = new DiskCache(dir, IDENTITY);
    const rec = record('a.routes', 1, 'original');
    await cache.write(entry(rec));
    await writeFile(join(dir, `a.routes.${rec.sha256}.data`), 'tampered');
    expect(await cache.read('a.routes')).toBeUndefined();
  });

  it('metadata that is not JSON, or of another format, is a miss', async () => {
    const cache = new DiskCache(dir, IDENTITY);
    await cache.write(entry(record('a.routes', 1, 'one')));
    const meta = join(dir, 'a.routes.json');
    const original = JSON.parse(await readFile(meta, 'utf8'));
    await writeFile(meta, '{ not json');
    expect(await cache.read('a.routes')).toBeUndefined();
    await writeFile(meta, JSON.stringify({ ...original, format: 99 }));
    expect(await cache.read('a.routes')).toBeUndefined();
    await writeFile(meta, JSON.stringify(original));
    expect(await cache.read('a.routes')).toBeDefined();
  });

  it('an entry saved under another identity is a miss: that version may not be meant for this node', async () => {
    await new DiskCache(dir, IDENTITY).write(entry(record('a.routes', 1, 'one')));
    expect(await new DiskCache(dir, { ...IDENTITY, region: 'us-east-1' }).read('a.routes')).toBeUndefined();
    expect(await new DiskCache(dir, { ...IDENTITY }).read('a.routes')).toBeDefined();
  });

  it('a crash between the payload and the metadata leaves the previous entry readable', async () => {
    const cache = new DiskCache(dir, IDENTITY);
    await cache.write(entry(record('a.routes', 1, 'one')));
    // What a crash after the new payload's rename but before the metadata's would leave.
    const next = record('a.routes', 2, 'two');
    await writeFile(join(dir, `a.routes.${next.sha256}.data`), 'two');
    const read = await cache.read('a.routes');
    expect(read?.record.version).toBe(1);
    expect(text(read!.data)).toBe('one');
  });

  it('removes temporary files a crash left behind, once they are old enough not to be a write under way', async () => {
    const clock = new ManualClock();
    const sha = sha256Hex(new TextEncoder().encode('lost'));
    const minutesAgo = (m: number) => new Date(clock.now() - m * 60_000);
    const files = {
      oldMeta: '.a.routes.json.0123456789ab.tmp',
      oldData: `.a.routes.${sha}.data.abcdef012345.tmp`,
      recent: '.b.routes.json.fedcba987654.tmp',
      notOurs: '.editor-swap.tmp',
    };
    for (const name of Object.values(files)) {
      await writeFile(join(dir, name), 'partial');
      const age = name === files.recent ? 1 : 60;
      await utimes(join(dir, name), minutesAgo(age), minutesAgo(age));
    }
    const cache = new DiskCache(dir, IDENTITY, clock);
    await cache.write(entry(record('c.routes', 1, 'one')));
    const left = await readdir(dir);
    expect(left).not.toContain(files.oldMeta);
    expect(left).not.toContain(files.oldData);
    expect(left).toContain(files.recent);
    expect(left).toContain(files.notOurs);
    expect(text((await cache.read('c.routes'))!.data)).toBe('one');
  });

  it('refuses names that are not topic names', async () => {
    const cache = new DiskCache(dir, IDENTITY);
    await expect(cache.write(entry(record('../escape', 1, 'x')))).rejects.toThrow(RangeError);
    expect(await cache.read('../escape')).toBeUndefined();
  });
});
