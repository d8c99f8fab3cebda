import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  decodeFallbackCache,
  encodeFallbackCache,
  FALLBACK_FORMAT_VERSION,
  FallbackCacheTooLargeError,
  type FallbackDocument,
  MalformedRequestError,
  sha256Hex,
  UnsupportedFallbackFormatError,
  ValidationError,
  type VersionRecord,
} from '@meshpress/client';
import { describe, expect, it } from 'vitest';

const T0 = 1_700_000_000_000;
const bytes = (text: string) => new TextEncoder().encode(text);

function version(n: number, pointer: VersionRecord['pointer'], payload: Uint8Array): VersionRecord {
  return {
    topic: 'mesh.prod.inventory.routes',
    version: n,
    metadata: { build: `b${n}`, 'git/sha': 'abc123' },
    pointer,
    size: payload.byteLength,
    sha256: sha256Hex(payload),
    contentType: 'application/json',
    publisher: 'ci',
    createdAt: T0 + n,
    committedAt: T0 + n + 1,
    scopes: [{ scope: n === 3 ? 'region=eu-west-1' : '*', addedAt: T0 + n }],
  };
}

const direct = bytes('{"routes":[]}');
const big = bytes('x'.repeat(5000));

function sampleDocument(): FallbackDocument {
  return {
    formatVersion: FALLBACK_FORMAT_VERSION,
    generatedAt: T0 + 1000,
    writer: 'host-a:42',
    topics: [
      {
        topic: {
          name: 'mesh.prod.inventory.routes',
          kind: 'mesh.routes.v1',
          description: 'inventory routes',
          retention: { maxVersions: 10, maxAgeDays: 7 },
          latestVersion: 4,
          createdAt: T0,
          updatedAt: T0 + 5,
        },
        pins: [{ scope: 'app=checkout', version: 1, reason: 'bad deploy', author: 'ops', setAt: T0 + 9 }],
        publishes: [
          { scope: '*', version: 2, visibleAt: T0 + 3 },
          { scope: 'region=eu-west-1', version: 3, visibleAt: T0 + 4 },
        ],
        newestServable: [
          { scope: '*', version: 2 },
          { scope: 'region=eu-west-1', version: 3 },
        ],
        versions: [
          version(3, { kind: 'local', key: `blobs/${sha256Hex(big)}` }, big),
          version(
            2,
            {
              kind: 's3',
              locations: [
                { region: 'us-east-1', bucket: 'mp-us', key: `blobs/${sha256Hex(big)}` },
                { region: 'eu-west-1', bucket: 'mp-eu', key: `blobs/${sha256Hex(big)}` },
              ],
            },
            big,
          ),
          version(1, { kind: 'direct', data: direct }, direct),
        ],
      },
      {
        topic: {
          name: 'opaque.empty',
          retention: {},
          latestVersion: 0,
          createdAt: T0,
          updatedAt: T0,
        },
        pins: [],
        publishes: [],
        newestServable: [],
        versions: [],
      },
    ],
  };
}

async function json(bytesIn: Uint8Array): Promise<any> {
  return JSON.parse((await promisify(gunzip)(bytesIn)).toString('utf8'));
}

async function gzipJson(value: unknown): Promise<Uint8Array> {
  return new Uint8Array(await promisify(gzip)(Buffer.from(JSON.stringify(value))));
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('fallback cache format', () => {
  it('round-trips a document with every pointer kind, pins, scopes and metadata', async () => {
    const doc = sampleDocument();
    const decoded = await decodeFallbackCache(await encodeFallbackCache(doc));
    expect(decoded).toEqual(doc);
    const inline = decoded.topics[0]!.versions.find((v) => v.version === 1)!.pointer;
    expect(inline.kind === 'direct' && Buffer.from(inline.data).toString()).toBe('{"routes":[]}');
  });

  it('writes gzip-compressed JSON with the format version and base64 inline payloads', async () => {
    const encoded = await encodeFallbackCache(sampleDocument());
    expect([encoded[0], encoded[1]]).toEqual([0x1f, 0x8b]);
    const raw = await json(encoded);
    expect(raw.formatVersion).toBe(1);
    expect(raw.writer).toBe('host-a:42');
    const v1 = raw.topics[0].versions.find((v: any) => v.version === 1);
    expect(v1.pointer).toEqual({ kind: 'direct', data: Buffer.from(direct).toString('base64') });
    expect(v1.topic).toBeUndefined();
  });

  it('refuses to encode a document readers would reject (uncommitted version)', async () => {
    const doc = sampleDocument();
    const topic = doc.topics[0]!;
    const uncommitted = { ...topic.versions[2]!, committedAt: undefined };
    const bad = {
      ...doc,
      topics: [{ ...topic, versions: [topic.versions[0]!, topic.versions[1]!, uncommitted] }],
    };
    const error = await rejection(encodeFallbackCache(bad));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((i: any) => i.path)).toContain('topics.0.versions.2.committedAt');
  });

  it('rejects an unknown format version with a clear, typed error', async () => {
    const raw = await json(await encodeFallbackCache(sampleDocument()));
    const error = await rejection(decodeFallbackCache(await gzipJson({ ...raw, formatVersion: 2 })));
    expect(error).toBeInstanceOf(UnsupportedFallbackFormatError);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(/format version 2 is not supported/);
    expect(error.issues).toEqual([{ path: 'formatVersion', message: expect.any(String) }]);
  });

  it('rejects a missing format version, naming the field', async () => {
    const { formatVersion: _, ...raw } = await json(await encodeFallbackCache(sampleDocument()));
    const error = await rejection(decodeFallbackCache(await gzipJson(raw)));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((i: any) => i.path)).toContain('formatVersion');
  });

  it('names the path of every malformed field', async () => {
    const raw = await json(await encodeFallbackCache(sampleDocument()));
    const topic = raw.topics[0];
    topic.versions[0].sha256 = 'not-a-digest';
    topic.publishes[1].scope = 'region=eu-west-1,app=checkout'; // valid but not canonical
    topic.pins[0].scope = 'colour=blue';
    topic.versions[2].pointer.data = Buffer.from('tampered').toString('base64');
    topic.newestServable.push({ scope: 'app=orders', version: 99 });
    raw.topics[1].name = 'Bad Name';
    const error = await rejection(decodeFallbackCache(await gzipJson(raw)));
    expect(error).toBeInstanceOf(ValidationError);
    const paths = error.issues.map((i: any) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'topics.0.versions.0.sha256',
        'topics.0.publishes.1.scope',
        'topics.0.pins.0.scope',
        'topics.1.name',
      ]),
    );
  });

  it('rejects inline payloads that do not match their size or digest, and dangling references', async () => {
    const raw = await json(await encodeFallbackCache(sampleDocument()));
    raw.topics[0].versions[2].pointer.data = Buffer.from('tampered!!!!!').toString('base64');
    const error = await rejection(decodeFallbackCache(await gzipJson(raw)));
    expect(error.issues).toEqual([
      { path: 'topics.0.versions.2.pointer.data', message: 'does not hash to sha256' },
    ]);

    const dangling = await json(await encodeFallbackCache(sampleDocument()));
    dangling.topics[0].newestServable.push({ scope: 'app=orders', version: 99 });
    const error2 = await rejection(decodeFallbackCache(await gzipJson(dangling)));
    expect(error2.issues).toEqual([
      { path: 'topics.0.newestServable.2.version', message: 'version 99 has no record in versions' },
    ]);
  });

  it('rejects duplicate topics and duplicate scopes', async () => {
    const raw = await json(await encodeFallbackCache(sampleDocument()));
    raw.topics[0].publishes.push({ ...raw.topics[0].publishes[0] });
    raw.topics.push({ ...raw.topics[1] });
    const error = await rejection(decodeFallbackCache(await gzipJson(raw)));
    expect(error.issues.map((i: any) => i.path)).toEqual(
      expect.arrayContaining(['topics.0.publishes.2.scope', 'topics.2.name']),
    );
  });

  it('rejects bytes that are not gzip, and gzip that is not JSON', async () => {
    const notGzip = await rejection(decodeFallbackCache(bytes('{"formatVersion":1}')));
    expect(notGzip).toBeInstanceOf(MalformedRequestError);
    expect(notGzip.message).toMatch(/not gzip/);
    const notJson = await rejection(decodeFallbackCache(new Uint8Array(await promisify(gzip)('{oops'))));
    expect(notJson).toBeInstanceOf(MalformedRequestError);
    expect(notJson.message).toMatch(/not JSON/);
  });

  it('refuses to encode a document larger than readers accept, so the writer keeps the previous cache', async () => {
    const doc = sampleDocument();
    const size = (await promisify(gunzip)(await encodeFallbackCache(doc))).byteLength;
    // Exactly at the cap: written, and read back by a reader with the same cap.
    const atCap = await encodeFallbackCache(doc, { maxDocumentBytes: size });
    expect(await decodeFallbackCache(atCap, { maxDocumentBytes: size })).toEqual(doc);
    // One byte over: every reader with that cap would refuse it, so it is not encoded at all.
    const error = await rejection(encodeFallbackCache(doc, { maxDocumentBytes: size - 1 }));
    expect(error).toBeInstanceOf(FallbackCacheTooLargeError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', size, limit: size - 1 });
    expect(error.message).toMatch(
      new RegExp(`${size} bytes of JSON, over the ${size - 1} bytes readers accept`),
    );
    await expect(decodeFallbackCache(atCap, { maxDocumentBytes: size - 1 })).rejects.toThrow(
      MalformedRequestError,
    );
  });

  it('refuses a document that expands beyond the configured limit', async () => {
    const encoded = await encodeFallbackCache(sampleDocument());
    const error = await rejection(decodeFallbackCache(encoded, { maxDocumentBytes: 100 }));
    expect(error).toBeInstanceOf(MalformedRequestError);
    expect(error.message).toMatch(/more than 100 bytes/);
  });
});
