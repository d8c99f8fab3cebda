import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatchBuffered } from '../../../client/src/consumer/buffered-dispatch.js';

const servers: Server[] = [];
const pools: Pool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  await Promise.all(
    servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve).closeAllConnections())),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  pools.push(pool);
  return pool;
}

const get = (path: string) => ({ method: 'GET' as const, path, headers: {} });

describe('dispatchBuffered', () => {
  it('returns the status, lower-cased headers and the whole body, however it was chunked', async () => {
    const pool = await serve((_req, res) => {
      res.writeHead(200, { 'X-Meshpress-Thing': 'yes' });
      res.write('{"a":');
      setTimeout(() => res.end('[1,2,3]}'), 20);
    });
    const response = await dispatchBuffered(pool, get('/'), new AbortController().signal);
    expect(response.status).toBe(200);
    expect(response.headers['x-meshpress-thing']).toBe('yes');
    expect(JSON.parse(response.body.toString())).toEqual({ a: [1, 2, 3] });
  });

  it('rejects with the reason of a signal aborted before the call, sending nothing', async () => {
    let requests = 0;
    const pool = await serve((_req, res) => {
      requests++;
      res.end();
    });
    const controller = new AbortController();
    const reason = new Error('gone');
    controller.abort(reason);
    await expect(dispatchBuffered(pool, get('/'), controller.signal)).rejects.toBe(reason);
    expect(requests).toBe(0);
  });

  it('cancels a request still queued behind a held one, which never reaches the server', async () => {
    const paths: string[] = [];
    let release: (() => void) | undefined;
    const pool = await serve((req, res) => {
      paths.push(req.url!);
      release = () => res.end('held');
    });
    const held = dispatchBuffered(pool, get('/held'), new AbortController().signal);
    await expect.poll(() => paths).toEqual(['/held']);
    const controller = new AbortController();
    const queued = dispatchBuffered(pool, get('/queued'), controller.signal);
    const reason = new Error('superseded');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    release!();
    expect((await held).body.toString()).toBe('held');
    // One connection, first in first out: had the cancelled request gone out, it would come before this.
    const after = dispatchBuffered(pool, get('/after'), new AbortController().signal);
    await expect.poll(() => paths).toEqual(['/held', '/after']);
    release!();
    await after;
  });

  it('rejects when the connection breaks in the middle of the body', async () => {
    const pool = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    await expect(dispatchBuffered(pool, get('/'), new AbortController().signal)).rejects.toThrow();
  });

  it('serves request after request under one signal with one abort listener, and an abort cancels those in flight', async () => {
    const held: (() => void)[] = [];
    const pool = await serve((req, res) => {
      if (req.url === '/hold') held.push(() => res.end('late'));
      else res.end(req.url);
    });
    const controller = new AbortController();
    for (const path of ['/a', '/b', '/c'])
      expect((await dispatchBuffered(pool, get(path), controller.signal)).body.toString()).toBe(path);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);

    const first = dispatchBuffered(pool, get('/hold'), controller.signal);
    const second = dispatchBuffered(pool, get('/hold'), controller.signal);
    await expect.poll(() => held.length).toBe(1);
    const reason = new Error('closing');
    controller.abort(reason);
    await expect(first).rejects.toBe(reason);
    await expect(second).rejects.toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
