import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort } from './free-port.js';

/** Point integration tests at an existing Redis, e.g. `redis://127.0.0.1:6379/15`. */
export const REDIS_URL_ENV = 'MESHPRESS_TEST_REDIS_URL';

const REDIS_INSTALL_HINT = 'apt-get install -y redis-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RedisService {
  /** e.g. `redis://127.0.0.1:41234` */
  readonly url: string;
  readonly port: number;
  /** Stops what startRedis started; idempotent. A Redis named by MESHPRESS_TEST_REDIS_URL is left running. */
  stop(): Promise<void>;
  /**
   * Takes Redis down without stopping the service for good (connections are reset, the port refuses), for
   * "Redis is down" tests; `up()` brings it back on the same port, empty. Absent for an external Redis.
   */
  down?(): Promise<void>;
  up?(): Promise<void>;
  /** down() then up(). */
  restart?(): Promise<void>;
}

/**
 * A Redis for a test suite, in order of preference:
 * 1. MESHPRESS_TEST_REDIS_URL when set (tests use unique key prefixes and channels, so suites can share it);
 * 2. (a testcontainers `redis:7` when a container runtime answers: not wired up, no runtime on these
 *    machines; it would slot in here, before the local process, and offer down/up as container stop/start);
 * 3. `redis-server` (the Debian package) spawned on a free 127.0.0.1 port, without persistence.
 */
export async function startRedis(): Promise<RedisService> {
  const url = process.env[REDIS_URL_ENV];
  if (url) {
    const port = Number(new URL(url).port || 6379);
    return { url, port, stop: async () => undefined };
  }
  return startLocalRedis();
}

async function startLocalRedis(): Promise<RedisService> {
  let port = 0;
  let child: ChildProcess | undefined;
  // Another process may take the free port before redis-server binds it; a different port then works.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    try {
      child = await spawnRedis(port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= 3) throw error;
    }
  }

  let stopped = false;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const down = async () => {
    const running = child;
    child = undefined;
    if (running) await terminate(running);
  };
  const up = async () => {
    if (stopped) throw new Error('redis service was stopped for good');
    if (!child) child = await spawnRedis(port);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    down,
    up,
    async restart() {
      await down();
      await up();
    },
    async stop() {
      stopped = true;
      process.off('exit', killOnExit);
      await down();
    },
  };
}

class PortTakenError extends Error {}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    tmpdir(),
    '--loglevel',
    'warning',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`redis-server is not installed; install it with: ${REDIS_INSTALL_HINT}`, {
              cause: error,
            })
          : error,
      );
    });
    child.once('exit', (code, signal) => {
      const message = `redis-server on port ${port} exited early (code ${code}, signal ${signal}): ${output}`;
      reject(/address already in use/i.test(output) ? new PortTakenError(message) : new Error(message));
    });
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([waitForPong(port), exited]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return child;
}

/** Polls with a raw PING until Redis answers, so startup does not depend on the client under test. */
async function waitForPong(port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
