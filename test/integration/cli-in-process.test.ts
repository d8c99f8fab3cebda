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

  it('pin-history prints the pins set and removed, newest first, as a table and as JSON', async () => {
    const as = ['--principal', 'ops'];
    await cli(['topics', 'create', 'cli.pin-history']);
    expect(await cli(['pin-history', 'cli.pin-history'])).toMatchObject({
      code: 0,
      stdout: 'no pin changes\n',
    });
    const payload = join(dir, 'pin-history.txt');
    await writeFile(payload, 'one');
    for (const args of [
      ['publish', 'cli.pin-history', payload],
      ['publish', 'cli.pin-history', payload],
      ['pin', 'cli.pin-history', '1', '--reason', 'v2 breaks checkout', ...as],
      ['pin', 'cli.pin-history', '2', '--scope', 'region=eu-west-1', ...as],
      ['unpin', 'cli.pin-history', '--reason', 'fixed', ...as],
    ])
      expect((await cli(args)).code, args.join(' ')).toBe(0);

    const table = await cli(['pin-history', 'cli.pin-history']);
    expect(table.code).toBe(0);
    const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`;
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^TIME\s+SCOPE\s+CHANGE\s+AUTHOR\s+REASON$/);
    expect(lines[1]).toMatch(new RegExp(`^${time}\\s+\\*\\s+unpinned\\s+ops\\s+fixed$`));
    expect(lines[2]).toMatch(new RegExp(`^${time}\\s+region=eu-west-1\\s+pinned to v2\\s+ops$`));
    expect(lines[3]).toMatch(new RegExp(`^${time}\\s+\\*\\s+pinned to v1\\s+ops\\s+v2 breaks checkout$`));

    const json = await cli(['pin-history', 'cli.pin-history', '--json']);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(body.topic).toBe('cli.pin-history');
    expect(body.events.map((e: any) => [e.scope, e.version, e.reason, e.author])).toEqual([
      ['*', undefined, 'fixed', 'ops'],
      ['region=eu-west-1', 2, '', 'ops'],
      ['*', 1, 'v2 breaks checkout', 'ops'],
    ]);
    expect('version' in body.events[0]).toBe(false);
    expect(body.events.every((e: any) => Number.isFinite(Date.parse(e.at)))).toBe(true);

    const latest = await cli(['pin-history', 'cli.pin-history', '--limit', '1', '--json']);
    expect(JSON.parse(latest.stdout).events).toEqual([body.events[0]]);
  });

  it('pin-history exits 2 on a bad --limit and 3 for a topic that does not exist', async () => {
    for (const limit of ['0', '1001', 'lots']) {
      const result = await cli(['pin-history', 'cli.pin-history', '--limit', limit]);
      expect(result, `--limit ${limit}`).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toMatch(/^meshpress: --limit: /);
      expect(result.stderr).toContain("Run 'meshpress pin-history --help' for usage.");
    }
    const missing = await cli(['pin-history', 'cli.no-such-topic']);
    expect(missing).toMatchObject({ code: 3, stdout: '' });
    expect(missing.stderr).toContain('TOPIC_NOT_FOUND');
  });

  it('help lists pin-history and its --limit', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/^ {2}pin-history\s+a topic's pins set and removed/m);
    const help = await cli(['pin-history', '--help']);
    expect(help.stdout).toContain('Usage: meshpress pin-history <topic> [options]');
    expect(help.stdout).toContain('--limit <n>');
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
