import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { cli as runCli, testIo } from '../unit/cli/support.js';

let server: TestServer;
let dir: string;

/** The CLI in-process against a real embedded server (fast: no child process). */
const cli = (args: readonly string[]) => runCli(args, testIo({ env: { MESHPRESS_URL: server.httpUrl } }));

beforeAll(async () => {
  [server, dir] = await Promise.all([
    startTestServer({ maxPayloadBytes: 1024 }),
    mkdtemp(join(tmpdir(), 'meshpress-cli-inproc-')),
  ]);
});

afterAll(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('meshpress CLI against an embedded server', () => {
  it('topics create on an existing topic changes only the settings given; --replace resets the others', async () => {
    const created = await cli([
      'topics',
      'create',
      'cli.merge',
      '--kind',
      'mesh.routes.v1',
      '--max-versions',
      '50',
    ]);
    expect(created).toMatchObject({
      code: 0,
      stdout: 'created topic cli.merge (mesh.routes.v1, keeps 50 versions)\n',
    });

    const described = await cli(['topics', 'create', 'cli.merge', '--description', 'checkout routes']);
    expect(described).toMatchObject({
      code: 0,
      stdout: 'updated topic cli.merge (mesh.routes.v1, keeps 50 versions)\n',
    });
    const show = await cli(['topics', 'show', 'cli.merge', '--json']);
    expect(JSON.parse(show.stdout).topic).toMatchObject({
      kind: 'mesh.routes.v1',
      description: 'checkout routes',
      retention: { maxVersions: 50 },
    });

    // Still typed: an invalid routes document is refused.
    const bad = join(dir, 'bad-routes.json');
    await writeFile(bad, JSON.stringify({ routes: 'not a list' }));
    expect((await cli(['publish', 'cli.merge', bad, '--json-input'])).code).toBe(4);

    const replaced = await cli([
      'topics',
      'create',
      'cli.merge',
      '--replace',
      '--max-age-days',
      '7',
      '--json',
    ]);
    expect(replaced.code).toBe(0);
    const topic = JSON.parse(replaced.stdout).topic;
    expect(topic.kind).toBeUndefined();
    expect(topic.description).toBeUndefined();
    expect(topic.retention).toEqual({ maxAgeDays: 7 });
  });

  it('a payload over the server limit exits 4, the status for data the server refused', async () => {
    await cli(['topics', 'create', 'cli.big']);
    const big = join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(4096, 1));
    const result = await cli(['publish', 'cli.big', big]);
    expect(result.stderr).toContain('PAYLOAD_TOO_LARGE');
    expect(result.code).toBe(4);
  });
});
