import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, sendError, stubServer } from './support.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshpress-cli-exit-'));
  file = join(dir, 'payload.bin');
  await writeFile(file, Buffer.alloc(16, 7));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('meshpress exit status for errors the server answers', () => {
  it('413 PAYLOAD_TOO_LARGE is refused input: 4', async () => {
    const { url } = await stubServer((_, res) =>
      sendError(res, 413, 'PAYLOAD_TOO_LARGE', 'payload of 16 bytes exceeds the limit of 8 bytes'),
    );
    const result = await cli(['publish', 't', file, '--url', url]);
    expect(result.stderr).toContain('PAYLOAD_TOO_LARGE');
    expect(result.code).toBe(4);
  });

  it('409 CONFLICT (a store race or a topic out of version numbers, not the input) stays 1', async () => {
    const { url } = await stubServer((_, res) =>
      sendError(res, 409, 'CONFLICT', "version 7 of topic 't' was already written"),
    );
    expect((await cli(['publish', 't', file, '--url', url])).code).toBe(1);
  });
});
