import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServerToExit, spawnServer } from '../support/server-process.js';
import { http } from '../support/test-server.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'meshpress-e2e-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the server process (npm start)', () => {
  it('keeps its data across a restart and shuts down gracefully on SIGTERM, releasing long-polls', async () => {
    const first = await spawnServer({ MESHPRESS_DATA_DIR: dataDir });
    expect((await http(first.httpUrl, 'PUT', '/v1/topics/mesh.prod.web.routes', {})).status).toBe(201);
    const pub = await http(first.httpUrl, 'POST', '/v1/topics/mesh.prod.web.routes/versions', {
      payload: { document: { hello: 'world' } },
      scopes: ['region=eu-west-1'],
    });
    expect(pub.status).toBe(201);
    const big = await http(
      first.httpUrl,
      'POST',
      '/v1/topics/mesh.prod.web.routes/versions',
      new Uint8Array(2 * 1024 * 1024).fill(7),
      {
        'content-type': 'application/octet-stream',
      },
    );
    expect(big.status).toBe(201);

    const held = http(first.httpUrl, 'POST', '/v1/poll', {
      identity: { region: 'eu-west-1' },
      topics: [{ topic: 'mesh.prod.web.routes', currentVersion: 2 }],
      waitMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    expect(await first.stop()).toBe(0);
    expect((await held).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(5_000);

    const second = await spawnServer({ MESHPRESS_DATA_DIR: dataDir });
    try {
      const resolved = await http(
        second.httpUrl,
        'GET',
        '/v1/topics/mesh.prod.web.routes/resolve?region=eu-west-1',
      );
      expect(resolved.body.target).toMatchObject({ version: 2 });
      const one = await http(second.httpUrl, 'GET', '/v1/topics/mesh.prod.web.routes/versions/1');
      expect(JSON.parse(Buffer.from(one.body.pointer.data, 'base64').toString())).toEqual({ hello: 'world' });
      const data = await fetch(`${second.httpUrl}/v1/topics/mesh.prod.web.routes/versions/2/data`);
      expect(Buffer.from(await data.arrayBuffer()).equals(Buffer.alloc(2 * 1024 * 1024, 7))).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('refuses to start on invalid configuration, naming the variable', async () => {
    const { code, output } = await runServerToExit({
      MESHPRESS_HTTP_PORT: 'eighty',
      MESHPRESS_DATA_DIR: dataDir,
    });
    expect(code).toBe(2);
    expect(output).toContain('MESHPRESS_HTTP_PORT');
  });
});
