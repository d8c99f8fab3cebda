import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, sendJson, stubServer, testIo, versionBody } from './support.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshpress-cli-noanswer-'));
  file = join(dir, 'payload.bin');
  await writeFile(file, Buffer.alloc(64, 3));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a request that went out without an answer', () => {
  it('publish: says the outcome is unknown and how to check, instead of a plain "unavailable"', async () => {
    // The server takes the publish (it commits) but answers after the client gave up.
    const { url, requests } = await stubServer(async (req, res) => {
      await later(1_000);
      sendJson(res, 201, versionBody('t', 7, req.body.toString()));
    });
    const text = await cli(['publish', 't', file, '--url', url, '--timeout', '300']);
    expect(text.code).toBe(5);
    expect(text.stderr).toMatch(
      /no answer from .* within 300 ms; the outcome is unknown: the version may have been committed/,
    );
    expect(text.stderr).toContain("check with 'meshpress versions list t --limit 5' before publishing again");

    const json = await cli(['publish', 't', file, '--url', url, '--timeout', '300', '--json']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stderr).error).toMatchObject({
      code: 'UNAVAILABLE',
      details: { outcome: 'unknown', topic: 't' },
    });
    // Never retried: one POST per run.
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('unpin: a retry that finds no pin after a timed-out attempt is not reported as "there was no pin"', async () => {
    let deletes = 0;
    let pinned = true;
    const { url } = await stubServer(async (_, res) => {
      deletes++;
      const removed = pinned;
      pinned = false;
      if (deletes === 1) await later(600); // removed it, answers too late
      sendJson(res, 200, { removed });
    });
    const io = testIo({ random: () => 0 });
    const json = await cli(
      ['unpin', 't', '--scope', 'region=x', '--timeout', '200', '--url', url, '--json'],
      io,
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ removed: null });
    expect(deletes).toBe(2);

    pinned = true;
    deletes = 0;
    const text = await cli(
      ['unpin', 't', '--scope', 'region=x', '--timeout', '200', '--url', url],
      testIo({ random: () => 0 }),
    );
    expect(text.stdout).toBe(
      'no pin in place now on scope region=x of t (an earlier attempt that got no answer may have removed it, or there was none)\n',
    );

    // Answered at once: true and false mean what they say.
    deletes = 1;
    pinned = false;
    expect(JSON.parse((await cli(['unpin', 't', '--url', url, '--json'])).stdout)).toEqual({
      removed: false,
    });
    pinned = true;
    expect(JSON.parse((await cli(['unpin', 't', '--url', url, '--json'])).stdout)).toEqual({ removed: true });
  });
});
