import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError, ManualClock, ValidationError } from '@meshpress/client';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InProcessChangeBus } from '../../server/src/bus/in-process-bus.js';
import { startServer } from '../../server/src/server.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import type { Leadership } from '../../server/src/tasks/leadership.js';
import { freePort } from '../support/services/index.js';

/**
 * startServer opens the stores, the bus, the leadership, the consumer cache, both listeners and the tasks
 * in turn; when a step fails, whatever was opened before it must be closed again: ports free, connections
 * and timers gone.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves once something listens on `port` and closes it again; rejects with EADDRINUSE if it is taken. */
function listenOn(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

async function parts() {
  const dataDir = await mkdtemp(join(tmpdir(), 'meshpress-start-'));
  const store = await SqliteConfigStore.open({ path: ':memory:' });
  const bus = new InProcessChangeBus();
  const clock = new ManualClock();
  cleanups.push(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    store,
    bus,
    clock,
    storeClose: vi.spyOn(store, 'close'),
    busClose: vi.spyOn(bus, 'close'),
    logger: pino({ level: 'silent' }),
  };
}

describe('startServer failing part-way', () => {
  it('closes everything it opened when the tasks fail to start after both listeners are up', async () => {
    const p = await parts();
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    // Fails where the periodic tasks start, after the consumer cache, REST and gRPC are running.
    const leadership: Leadership = {
      acquire: async () => true,
      release: async () => undefined,
      close: vi.fn(async () => undefined),
      onLost: () => {
        throw new Error('leadership refused the listener');
      },
    };

    await expect(
      startServer(
        { host: '127.0.0.1', httpPort, grpcPort, dataDir: p.dataDir, logLevel: 'silent' },
        { store: p.store, bus: p.bus, clock: p.clock, logger: p.logger, leadership },
      ),
    ).rejects.toThrow('leadership refused the listener');

    await expect(listenOn(httpPort)).resolves.toBeUndefined();
    await expect(listenOn(grpcPort)).resolves.toBeUndefined();
    expect(p.storeClose).toHaveBeenCalled();
    await expect(p.store.listTopics({ limit: 1 })).rejects.toBeInstanceOf(ClosedError);
    expect(p.busClose).toHaveBeenCalled();
    expect(leadership.close).toHaveBeenCalled();
    // The consumer cache's refresh timer and the tasks' schedules are gone with them.
    expect(p.clock.pendingTimers).toBe(0);
  });

  it('closes the stores and the bus when the REST port is taken', async () => {
    const p = await parts();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const address = taken.address();
    const httpPort = typeof address === 'object' && address ? address.port : 0;

    await expect(
      startServer(
        { host: '127.0.0.1', httpPort, grpcPort: 0, dataDir: p.dataDir, logLevel: 'silent' },
        { store: p.store, bus: p.bus, clock: p.clock, logger: p.logger },
      ),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(p.storeClose).toHaveBeenCalled();
    expect(p.busClose).toHaveBeenCalled();
    expect(p.clock.pendingTimers).toBe(0);
  });

  it('refuses a configuration a backend would refuse before opening anything', async () => {
    const p = await parts();
    const httpPort = await freePort();
    await expect(
      startServer(
        { host: '127.0.0.1', httpPort, grpcPort: 0, dataDir: p.dataDir, fallbackKey: '/fallback.json' },
        { store: p.store, bus: p.bus, clock: p.clock, logger: p.logger },
      ),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(listenOn(httpPort)).resolves.toBeUndefined();
    // Nothing was opened, so nothing the caller handed in was closed either.
    expect(p.storeClose).not.toHaveBeenCalled();
  });
});
