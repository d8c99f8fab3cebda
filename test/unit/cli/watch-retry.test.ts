import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../client/src/core/clock.js';
import { cli, sendError, sendJson, stubServer, testIo, topicBody, versionBody } from './support.js';

/** Resolves once `predicate` holds, checking between real event-loop turns (the HTTP runs on real time). */
async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Moves the watch's clock forward `ms` in 100 ms steps, each time once the watch sleeps on it. */
async function runClock(clock: ManualClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    await until(() => clock.pendingTimers > 0, 'the watch to sleep');
    clock.advance(100);
  }
}

const pollUpdate = (version: number, payload: string) => ({
  updates: [{ topic: 't', version, pinned: false, record: versionBody('t', version, payload) }],
});

describe('meshpress watch, when a version cannot be applied', () => {
  it('backs off, growing to the cap, while the same version keeps failing to download; a successful poll in between does not reset it', async () => {
    const clock = new ManualClock();
    const dataHits: number[] = [];
    let healthy = false;
    const { url } = await stubServer((req, res) => {
      const path = req.url.pathname;
      if (path === '/v1/topics/t') return sendJson(res, 200, { topic: topicBody('t'), pins: [] });
      if (path === '/v1/poll') return sendJson(res, 200, pollUpdate(1, 'abc'));
      if (path === '/v1/topics/t/versions/1/data') {
        dataHits.push(clock.now());
        if (healthy) {
          res.end('abc');
          return;
        }
        // INTERNAL is not retried by the REST client itself: each hit is one watch attempt.
        return sendError(res, 500, 'INTERNAL', 'blob store failing');
      }
      sendError(res, 404, 'TOPIC_NOT_FOUND', 'no');
    });
    const io = testIo({ clock, random: () => 0.99 });
    const running = cli(['watch', 't', '--url', url, '--wait', '0'], io);

    await runClock(clock, 95_000);
    const gaps = dataHits.slice(1).map((at, i) => at - dataHits[i]!);
    // 0.5, 1, 2, 4, 8, 16 s, then the 30 s cap (x 0.99 jitter): 9 downloads, not one every half second.
    expect(dataHits.length).toBeGreaterThanOrEqual(8);
    expect(dataHits.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(gaps[i - 1]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(30_000 + 200);
    expect(Math.max(...gaps)).toBeGreaterThan(29_000);
    expect(io.stderr.text).toContain('retrying in 29.7 s');

    // Once the store recovers, the next attempt applies the version.
    healthy = true;
    await runClock(clock, 31_000);
    await until(() => /version 1 /.test(io.stdout.text), 'version 1 to be printed');
    io.interrupt.trigger();
    clock.advance(60_000);
    expect((await running).code).toBe(0);
  });

  it('skips a version that fails verification: downloads it once, then waits for a newer one', async () => {
    const clock = new ManualClock();
    const polledWith: (number | undefined)[] = [];
    let dataHits = 0;
    let published = 1;
    const { url } = await stubServer((req, res) => {
      const path = req.url.pathname;
      if (path === '/v1/topics/t') return sendJson(res, 200, { topic: topicBody('t'), pins: [] });
      if (path === '/v1/poll') {
        const current = JSON.parse(req.body.toString()).topics[0].currentVersion as number | undefined;
        polledWith.push(current);
        // As the server does: nothing when the poller already has the newest version.
        if (current !== undefined && current >= published) return sendJson(res, 200, { updates: [] });
        return sendJson(res, 200, published === 1 ? pollUpdate(1, 'abc') : pollUpdate(2, 'good'));
      }
      if (path === '/v1/topics/t/versions/1/data') {
        dataHits++;
        res.end('xyz'); // not what the record's sha256 says
        return;
      }
      if (path === '/v1/topics/t/versions/2/data') {
        res.end('good');
        return;
      }
      sendError(res, 404, 'TOPIC_NOT_FOUND', 'no');
    });
    const io = testIo({ clock, random: () => 0.99 });
    const running = cli(['watch', 't', '--url', url, '--wait', '0'], io);

    await runClock(clock, 20_000);
    expect(dataHits).toBe(1);
    expect(io.stderr.text).toMatch(/t@1 does not match its sha256; version 1 skipped/);
    expect(polledWith.slice(-3)).toEqual([1, 1, 1]);
    expect(io.stdout.text).toBe('');

    published = 2;
    await runClock(clock, 2_000);
    await until(() => /version 2 /.test(io.stdout.text), 'version 2 to be printed');
    expect(dataHits).toBe(1);
    io.interrupt.trigger();
    clock.advance(60_000);
    expect((await running).code).toBe(0);
  });
});
