import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@meshpress/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshpressAdmin } from '../../client/src/publisher/admin.js';
import { freePort, type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { type CliRunOptions, runCli } from './cli-harness.js';

let server: TestServer;
let admin: MeshpressAdmin;
let dir: string;

/** The CLI against the test server, as principal `e2e`. */
const cli = (args: readonly string[], options: CliRunOptions = {}) =>
  runCli(args, {
    ...options,
    env: { MESHPRESS_URL: server.httpUrl, MESHPRESS_PRINCIPAL: 'e2e', ...options.env },
  });

const parse = (stdout: string) => JSON.parse(stdout);

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  [server, dir] = await Promise.all([startTestServer(), mkdtemp(join(tmpdir(), 'meshpress-cli-'))]);
  admin = new MeshpressAdmin({ baseUrl: server.httpUrl, principal: 'setup' });
});

afterAll(async () => {
  await admin?.close();
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Each CLI run is a fresh Node process compiling TypeScript: seconds apiece on a busy machine.
describe.concurrent('meshpress CLI against a running server', { timeout: 180_000 }, () => {
  it('prints help for the tool and for each command', async () => {
    const [main, command] = await Promise.all([cli(['--help']), cli(['publish', '--help'])]);
    expect(main.code).toBe(0);
    for (const name of [
      'topics create',
      'topics list',
      'publish',
      'versions download',
      'pin',
      'pin-history',
      'resolve',
      'watch',
    ])
      expect(main.stdout).toContain(name);
    expect(command.code).toBe(0);
    expect(command.stdout).toContain('Usage: meshpress publish <topic> <file|->');
    expect(command.stdout).toContain('--scope <scope> ...');
    expect(command.stdout).toContain('--yaml');
  });

  it('topics create / list / show, in tables and as JSON', async () => {
    const created = await cli([
      'topics',
      'create',
      'cli.topics',
      '--kind',
      'mesh.routes.v1',
      '--max-versions',
      '5',
      '--description',
      'CLI routes',
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toBe('created topic cli.topics (mesh.routes.v1, keeps 5 versions)\n');

    const again = await cli(['topics', 'create', 'cli.topics', '--kind', 'mesh.routes.v1', '--json']);
    expect(again.code).toBe(0);
    expect(parse(again.stdout)).toMatchObject({
      created: false,
      topic: { name: 'cli.topics', kind: 'mesh.routes.v1' },
    });

    const [table, show] = await Promise.all([
      cli(['topics', 'list']),
      cli(['topics', 'show', 'cli.topics', '--json']),
    ]);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+KIND\s+LATEST\s+RETENTION\s+UPDATED\s+DESCRIPTION$/);
    // The second create changed nothing it was not given: retention and description stay.
    expect(lines.find((l) => l.startsWith('cli.topics '))).toMatch(
      /^cli\.topics\s+mesh\.routes\.v1\s+0\s+5 versions\s+.*CLI routes$/,
    );
    expect(parse(show.stdout)).toMatchObject({ topic: { name: 'cli.topics', latestVersion: 0 }, pins: [] });
  });

  it('publishes a file, stdin and a YAML document; versions list, show and download them', async () => {
    await admin.createTopic('cli.publish');
    const file = join(dir, 'payload.json');
    await writeFile(file, '{"weight":1}');
    const yamlFile = join(dir, 'routes.yaml');
    await writeFile(yamlFile, 'routes:\n  - prefix: /checkout\n    weight: 100\n');

    const fromFile = await cli(['publish', 'cli.publish', file, '-m', 'change=CHG-1']);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(
      /^published cli\.publish version 1 \(12 B, sha256 [0-9a-f]{12}, direct, scopes \*\)\n$/,
    );

    const fromStdin = await cli(
      [
        'publish',
        'cli.publish',
        '-',
        '--json',
        '--scope',
        'region=eu-west-1',
        '--scope',
        'app=checkout',
        '--metadata',
        'owner=mesh',
      ],
      { stdin: 'bytes from a pipe' },
    );
    expect(fromStdin.code).toBe(0);
    const stdinVersion = parse(fromStdin.stdout);
    expect(stdinVersion).toMatchObject({
      version: 2,
      publisher: 'e2e',
      contentType: 'application/octet-stream',
      metadata: { owner: 'mesh' },
      sha256: sha256Hex(Buffer.from('bytes from a pipe')),
    });
    expect(stdinVersion.scopes.map((s: { scope: string }) => s.scope)).toEqual([
      'app=checkout',
      'region=eu-west-1',
    ]);

    const fromYaml = await cli(['publish', 'cli.publish', yamlFile, '--yaml', '--json']);
    expect(fromYaml.code).toBe(0);
    expect(parse(fromYaml.stdout)).toMatchObject({ version: 3, contentType: 'application/json' });
    const yamlData = await admin.download('cli.publish', 3);
    expect(JSON.parse(Buffer.from(yamlData.data).toString())).toEqual({
      routes: [{ prefix: '/checkout', weight: 100 }],
    });

    const out = join(dir, 'downloaded.bin');
    const [list, listJson, show, toFile, toStdout] = await Promise.all([
      cli(['versions', 'list', 'cli.publish']),
      cli(['versions', 'list', 'cli.publish', '--json', '--limit', '2']),
      cli(['versions', 'show', 'cli.publish', '1']),
      cli(['versions', 'download', 'cli.publish', '2', '--out', out, '--json']),
      cli(['versions', 'download', 'cli.publish', '1']),
    ]);
    const rows = list.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^VERSION\s+CREATED\s+SIZE\s+SHA256\s+STORED\s+PUBLISHER\s+SCOPES$/);
    expect(rows.slice(1).map((r) => Number(r.trim().split(/\s+/)[0]))).toEqual([3, 2, 1]);
    expect(rows[2]).toContain('app=checkout region=eu-west-1');
    expect(parse(listJson.stdout).versions.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    expect(show.stdout).toMatch(/^content type\s+application\/json$/m);
    expect(show.stdout).toMatch(/^metadata\s+change=CHG-1$/m);
    expect(toFile.code).toBe(0);
    expect(parse(toFile.stdout)).toMatchObject({ version: 2, size: 17, out });
    expect(await readFile(out, 'utf8')).toBe('bytes from a pipe');
    expect(toStdout.stdout).toBe('{"weight":1}');
  });

  it('adds scopes, pins and unpins, and resolves identities', async () => {
    await admin.createTopic('cli.pins');
    const v1 = await admin.publish('cli.pins', 'one');
    const v2 = await admin.publish('cli.pins', 'two', { scopes: ['region=eu-west-1'] });

    const scoped = await cli([
      'scopes',
      'add',
      'cli.pins',
      String(v2.version),
      '--scope',
      'region=us-east-1',
      '--json',
    ]);
    expect(scoped.code).toBe(0);
    expect(parse(scoped.stdout).scopes.map((s: { scope: string }) => s.scope)).toEqual([
      'region=eu-west-1',
      'region=us-east-1',
    ]);

    const pinned = await cli([
      'pin',
      'cli.pins',
      String(v1.version),
      '--scope',
      'region=eu-west-1,app=checkout',
      '--reason',
      'v2 breaks',
    ]);
    expect(pinned).toMatchObject({
      code: 0,
      stdout: `pinned cli.pins scope app=checkout,region=eu-west-1 to version ${v1.version}\n`,
    });

    const [show, resolvedJson, resolvedTable, unpinnedIdentity] = await Promise.all([
      cli(['topics', 'show', 'cli.pins']),
      cli(['resolve', 'cli.pins', '--app', 'checkout', '--region', 'eu-west-1', '--node', 'n1', '--json']),
      cli(['resolve', 'cli.pins', '--app', 'search', '--region', 'us-east-1']),
      cli(['resolve', 'cli.pins', '--region', 'ap-south-1', '--at', '1000', '--json']),
    ]);
    expect(show.stdout).toMatch(/^SCOPE\s+VERSION\s+AUTHOR\s+SET\s+REASON$/m);
    expect(show.stdout).toMatch(/^app=checkout,region=eu-west-1\s+1\s+e2e\s+\S+ \S+\s+v2 breaks$/m);
    expect(parse(resolvedJson.stdout)).toMatchObject({
      identity: { app: 'checkout', region: 'eu-west-1', node: 'n1' },
      target: {
        version: v1.version,
        pinned: true,
        scope: 'app=checkout,region=eu-west-1',
        record: { sha256: v1.sha256 },
      },
    });
    expect(resolvedTable.stdout).toMatch(/^version\s+2$/m);
    expect(resolvedTable.stdout).toMatch(/^why\s+published to scope region=us-east-1$/m);
    expect(parse(unpinnedIdentity.stdout).target).toBeNull();

    const unpinned = await cli(['unpin', 'cli.pins', '--scope', 'app=checkout,region=eu-west-1', '--json']);
    expect(parse(unpinned.stdout)).toEqual({ removed: true });
    expect((await admin.resolve('cli.pins', { app: 'checkout', region: 'eu-west-1' }))?.version).toBe(
      v2.version,
    );
  });

  it('exits 3 with the error code for a topic that does not exist', async () => {
    const [human, json] = await Promise.all([
      cli(['topics', 'show', 'cli.missing']),
      cli(['versions', 'list', 'cli.missing', '--json']),
    ]);
    expect(human).toMatchObject({ code: 3, stdout: '' });
    expect(human.stderr).toBe("meshpress: TOPIC_NOT_FOUND: topic 'cli.missing' does not exist\n");
    expect(json.code).toBe(3);
    expect(parse(json.stderr)).toEqual({
      error: {
        code: 'TOPIC_NOT_FOUND',
        message: "topic 'cli.missing' does not exist",
        details: { topic: 'cli.missing' },
      },
    });
  });

  it('exits 4 naming each bad field when the server refuses the input', async () => {
    await admin.createTopic('cli.invalid');
    const result = await cli(['publish', 'cli.invalid', '-', '--scope', 'planet=mars', '-m', 'bad key=v'], {
      stdin: 'x',
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^meshpress: VALIDATION_FAILED: /);
    expect(result.stderr).toMatch(/^ {2}scopes\.0: 'planet' is not a scope key/m);
    expect(result.stderr).toMatch(/^ {2}metadata\.bad key: /m);
    expect((await admin.listVersionsPage('cli.invalid')).versions).toEqual([]);
  });

  it('exits 2 on usage errors and 5 when the server cannot be reached', async () => {
    const port = await freePort();
    const [unknownFlag, missingArg, unreachable] = await Promise.all([
      cli(['topics', 'list', '--reason', 'x']),
      cli(['pin', 'cli.pins', '--scope', 'region=eu-west-1']),
      cli(['topics', 'list'], {
        env: { MESHPRESS_URL: `http://127.0.0.1:${port}`, MESHPRESS_TIMEOUT_MS: '2000' },
      }),
    ]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("--reason does not apply to 'topics list'");
    expect(unknownFlag.stderr).toContain("Run 'meshpress topics list --help' for usage.");
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("'pin' needs <topic> <version>");
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toMatch(
      /^meshpress: UNAVAILABLE: GET \/v1\/topics: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it('refuses a server URL with credentials without printing them', async () => {
    const port = await freePort();
    const [flag, variable] = await Promise.all([
      cli(['topics', 'list', '--url', `http://ci:s3cret@127.0.0.1:${port}`]),
      cli(['topics', 'list'], { env: { MESHPRESS_URL: `http://ci:s3cret@127.0.0.1:${port}` } }),
    ]);
    // Each named where it came from: the flag, or the variable when no flag was given.
    expect(flag.stderr).toContain('meshpress: --url: ');
    expect(variable.stderr).toContain('meshpress: MESHPRESS_URL: ');
    for (const result of [flag, variable]) {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/user name or password/);
      expect(result.stdout + result.stderr).not.toContain('s3cret');
    }
  });
});

describe('large payloads through S3', { timeout: 180_000 }, () => {
  let s3: S3Service;
  const bucket = uniqueBucketName('cli');

  beforeAll(async () => {
    s3 = await startS3();
    await s3.createBucket(bucket);
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('uploads above the inline limit to the bucket, draws progress, and downloads byte-exact', async () => {
    await admin.createTopic('cli.large');
    const data = randomBytes(5 * 1024 * 1024);
    const file = join(dir, 'large.bin');
    await writeFile(file, data);
    const s3Flags = [
      '--s3-bucket',
      `${s3.region}=${bucket}`,
      '--s3-endpoint',
      s3.endpoint,
      '--s3-path-style',
    ];
    const env = {
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    };
    const published = await cli(
      ['publish', 'cli.large', file, '--json', '--progress', 'always', '--inline-limit', '65536', ...s3Flags],
      {
        env,
      },
    );
    expect(published.code, published.stderr).toBe(0);
    const record = parse(published.stdout);
    expect(record).toMatchObject({
      size: data.length,
      sha256: sha256Hex(data),
      pointer: { kind: 's3', locations: [{ region: s3.region, bucket, key: `blobs/${sha256Hex(data)}` }] },
    });
    expect(published.stderr).toContain('uploading to cli.large [');
    expect(published.stderr).toContain('100%  5.0 MiB / 5.0 MiB');

    const out = join(dir, 'large.out');
    const downloaded = await cli(
      ['versions', 'download', 'cli.large', String(record.version), '--out', out, ...s3Flags],
      {
        env,
      },
    );
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(downloaded.stdout).toMatch(/^wrote 5\.0 MiB to .*large\.out \(sha256 [0-9a-f]{12} verified\)\n$/);
    expect((await readFile(out)).equals(data)).toBe(true);
  });
});
