import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshpressAdmin } from '../../client/src/publisher/admin.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { startCli } from './cli-harness.js';

let server: TestServer;
let admin: MeshpressAdmin;

beforeAll(async () => {
  server = await startTestServer();
  admin = new MeshpressAdmin({ baseUrl: server.httpUrl, principal: 'setup' });
});

afterAll(async () => {
  await admin?.close();
  await server?.dispose();
});

/** Poll requests the server has answered so far (its Prometheus counter, every outcome). */
async function pollsAnswered(): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('meshpress_polls_total{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const versionLine = (version: number) => new RegExp(`^\\S+ \\S+Z  cli\\.watch  version ${version}  `, 'm');

// Each CLI run is a fresh Node process compiling TypeScript: seconds apiece on a busy machine.
describe('meshpress watch', { timeout: 180_000 }, () => {
  it('watch prints the current version, then each version applied while it runs, until interrupted', async () => {
    await admin.createTopic('cli.watch');
    await admin.publish('cli.watch', 'first');
    const watch = startCli(
      ['watch', 'cli.watch', '--app', 'checkout', '--region', 'eu-west-1', '--node', 'n1'],
      {
        env: { MESHPRESS_URL: server.httpUrl },
      },
    );
    await watch.waitFor((stdout) => versionLine(1).test(stdout));
    expect(watch.stderr).toContain('watching cli.watch as app=checkout,region=eu-west-1,node=n1');

    // Invisible to this identity: must not be printed. Then one it sees, then a rollback pin.
    await admin.publish('cli.watch', 'us only', { scopes: ['region=us-east-1'] });
    await admin.publish('cli.watch', 'third', { scopes: ['region=eu-west-1'] });
    await watch.waitFor((stdout) => versionLine(3).test(stdout));
    await admin.pin('cli.watch', 1, { reason: 'roll back' });
    await watch.waitFor((stdout) => /version 1 .*pinned$/m.test(stdout));

    watch.child.kill('SIGINT');
    const result = await watch.result;
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/version 1 {2}5 B {2}sha256 [0-9a-f]{12} {2}text\/plain; charset=utf-8$/);
    expect(lines[1]).toMatch(/version 3 {2}5 B /);
    expect(lines[2]).toMatch(/version 1 .*pinned$/);
  });

  it('watch --wait 0 paces its polls instead of asking again the moment an empty answer arrives', async () => {
    await admin.createTopic('cli.nowait');
    await admin.publish('cli.nowait', 'only');
    const watch = startCli(['watch', 'cli.nowait', '--wait', '0', '--app', 'checkout'], {
      env: { MESHPRESS_URL: server.httpUrl },
    });
    try {
      await watch.waitFor((stdout) => /cli\.nowait {2}version 1 /.test(stdout));
      const before = await pollsAnswered();
      // A real process on the real clock: over 3 s it may poll about 3 times, not thousands.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const polls = (await pollsAnswered()) - before;
      expect(polls).toBeGreaterThanOrEqual(1);
      expect(polls).toBeLessThanOrEqual(6);
    } finally {
      watch.child.kill('SIGINT');
    }
    expect((await watch.result).code).toBe(0);
  });

  it('watch --json | head -1: when the reader closes stdout, the watch ends quietly with status 0', async () => {
    await admin.createTopic('cli.pipe');
    await admin.publish('cli.pipe', 'one');
    const watch = startCli(['watch', 'cli.pipe', '--json'], { env: { MESHPRESS_URL: server.httpUrl } });
    await watch.waitFor((stdout) => stdout.includes('\n'));
    watch.child.stdout!.destroy();
    await admin.publish('cli.pipe', 'two');
    const result = await watch.result;
    expect(result.stderr).not.toContain("Unhandled 'error' event");
    expect(result.stderr).not.toMatch(/^ {4}at /m);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('watch exits 3 at once for a topic that does not exist', async () => {
    const result = await startCli(['watch', 'cli.nowhere', '--json'], {
      env: { MESHPRESS_URL: server.httpUrl },
    }).result;
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stderr).error.code).toBe('TOPIC_NOT_FOUND');
  });
});
