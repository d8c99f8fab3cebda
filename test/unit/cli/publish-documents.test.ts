import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, sendJson, stubServer, versionBody } from './support.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshpress-cli-docs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A server that takes every publish and answers with a record. */
const publishServer = () =>
  stubServer((req, res) => sendJson(res, 201, versionBody('t', 1, req.body.toString())));

describe('meshpress publish --yaml / --json-input', () => {
  it('refuses a file that is not UTF-8 (exit 4), sending nothing', async () => {
    const { url, requests } = await publishServer();
    const file = join(dir, 'latin1.yaml');
    await writeFile(file, Buffer.from('a: caf\xE9\n', 'latin1'));
    const result = await cli(['publish', 't', file, '--yaml', '--url', url]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('MALFORMED_REQUEST: the YAML input is not valid UTF-8');
    expect(requests).toHaveLength(0);
  });

  it('refuses an empty YAML file, and duplicate keys in JSON (exit 4)', async () => {
    const { url, requests } = await publishServer();
    const empty = join(dir, 'empty.yaml');
    await writeFile(empty, '# the template rendered nothing\n');
    const twice = join(dir, 'twice.json');
    await writeFile(twice, '{"timeout": 1, "timeout": 5}');
    const [a, b] = [
      await cli(['publish', 't', empty, '--yaml', '--url', url]),
      await cli(['publish', 't', twice, '--json-input', '--url', url, '--json']),
    ];
    expect(a.code).toBe(4);
    expect(a.stderr).toContain('the YAML document is empty');
    expect(b.code).toBe(4);
    expect(JSON.parse(b.stderr).error).toMatchObject({
      code: 'MALFORMED_REQUEST',
      message: "the JSON document is refused: key 'timeout' appears twice in (root)",
    });
    expect(requests).toHaveLength(0);
  });

  it('publishes a JSON file that starts with a byte order mark, and YAML with merge keys applied', async () => {
    const { url, requests } = await publishServer();
    const bom = join(dir, 'bom.json');
    await writeFile(bom, Buffer.from('\uFEFF{"a": "café"}', 'utf8'));
    const merged = join(dir, 'merged.yaml');
    await writeFile(merged, 'defaults: &d {retries: 2}\nroute:\n  <<: *d\n  timeout: 5\n');
    expect((await cli(['publish', 't', bom, '--json-input', '--url', url])).code).toBe(0);
    expect((await cli(['publish', 't', merged, '--yaml', '--url', url])).code).toBe(0);
    expect(JSON.parse(requests[0]!.body.toString()).payload).toEqual({ document: { a: 'café' } });
    expect(JSON.parse(requests[1]!.body.toString()).payload.document.route).toEqual({
      retries: 2,
      timeout: 5,
    });
  });
});
