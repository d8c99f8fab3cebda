import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@meshpress/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../client/src/core/clock.js';
import { MeshpressAdmin } from '../../../client/src/publisher/admin.js';
import { contentTypeProblem } from '../../../client/src/publisher/content-type.js';
import { RestClient } from '../../../client/src/publisher/rest-client.js';
import { cli, sendJson, stubServer, versionBody } from './support.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshpress-cli-ct-'));
  file = join(dir, 'notes.bin');
  await writeFile(file, 'notes');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const accepting = () =>
  stubServer((req, res) => sendJson(res, 201, versionBody('t', 1, req.body.toString())));

describe('content types', () => {
  it('accepts RFC 7231 media types and refuses the rest, naming the character at fault', () => {
    for (const ok of [
      'application/json',
      'text/plain; charset=utf-8',
      'text/markdown; title="release notes"',
      'application/vnd.api+json',
    ])
      expect(contentTypeProblem(ok)).toBeUndefined();
    expect(contentTypeProblem('text/markdown; title=\u201cnotes\u201d')).toContain('U+201C');
    expect(contentTypeProblem('text/plain\r\nx-injected: 1')).toContain('U+000D');
    expect(contentTypeProblem('json')).toContain('is not a media type');
    expect(contentTypeProblem(`a/${'b'.repeat(300)}`)).toContain('longer than 255');
  });

  it('publish --content-type with a typographic quote exits 4 before sending anything (was 5, "cannot reach")', async () => {
    const { url, requests } = await accepting();
    const result = await cli(['publish', 't', file, '--content-type', 'a/b; n=\u201cx\u201d', '--url', url]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('VALIDATION_FAILED: invalid --content-type');
    expect(result.stderr).not.toContain('cannot reach');
    expect(requests).toHaveLength(0);
  });

  it('MeshpressAdmin.publish refuses such a content type as a ValidationError, sending nothing', async () => {
    const { url, requests } = await accepting();
    const admin = new MeshpressAdmin({ baseUrl: url });
    try {
      await expect(
        admin.publish('t', new Uint8Array([1, 2]), { contentType: 'a/b\nx: y' }),
      ).rejects.toBeInstanceOf(ValidationError);
      expect(requests).toHaveLength(0);
    } finally {
      await admin.close();
    }
  });

  it('a request fetch cannot build is a ValidationError, not UNAVAILABLE, and is not retried', async () => {
    const { url, requests } = await accepting();
    const rest = new RestClient({
      baseUrl: url,
      timeoutMs: 1_000,
      retries: 2,
      retryBaseMs: 1,
      retryMaxMs: 1,
      clock: systemClock,
      random: () => 0,
    });
    const request = {
      method: 'PUT' as const,
      path: '/v1/x',
      body: { data: new Uint8Array([1]), contentType: 'a/b; n=\u201cx\u201d', length: 1 },
    };
    await expect(rest.bytes(request)).rejects.toBeInstanceOf(ValidationError);
    expect(requests).toHaveLength(0);
    rest.close();
  });
});
