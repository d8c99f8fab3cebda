import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Node flags that run TypeScript sources of this repository (and @meshpress/* from source). */
export const SOURCE_FLAGS = ['--conditions=meshpress-source', '--import', 'tsx'] as const;

/**
 * The server and the sidecar are measured as they ship: compiled JavaScript (`npm start`, the package
 * bins), not TypeScript through tsx, whose loader and helpers cost CPU per call. Load generators and
 * baselines may run from source: their cost is not what is measured.
 */
export const BUILT_SERVER = 'server/dist/main.js';
/**
 * The Node flags `npm start` runs the server with (package.json; the container image runs the same), so
 * that what is measured is what ships: today a young generation sized for fan-out (docs/deploy.md).
 */
export const SERVER_NODE_FLAGS: readonly string[] = startScriptNodeFlags();
/** A TypeScript worker of this repository that uses the compiled @meshpress/* packages (the fleets). */
export const BUILT_LIBRARY_FLAGS = ['--import', 'tsx'] as const;
export const BUILT_SIDECAR = 'client/dist/sidecar/main.js';

function startScriptNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const command = scripts.start
    .slice(scripts.start.lastIndexOf('&&') + 2)
    .trim()
    .split(/\s+/);
  if (command[0] !== 'node' || command.at(-1) !== BUILT_SERVER)
    throw new Error(`the start script no longer runs "node <flags> ${BUILT_SERVER}": ${scripts.start}`);
  return command.slice(1, -1);
}

/** Compiles client/ and server/ (incremental: quick when nothing changed). */
export function buildPackages(): void {
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'client', 'server'],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
}

/** A server process the benchmark started. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a Node process from a repository-relative script and waits (at most `timeoutMs`) for its output
 * to match `ready`. Output is kept (bounded) for error messages.
 */
export async function startProcess(options: {
  name: string;
  script: string;
  env?: Record<string, string>;
  nodeFlags?: readonly string[];
  ready: RegExp;
  timeoutMs?: number;
}): Promise<{ server: ServerProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? SOURCE_FLAGS), options.script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const server: ServerProcess = {
    name: options.name,
    pid: child.pid!,
    child,
    output: () => output,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      void server.stop(1000);
      reject(new Error(`${options.name} did not start within ${options.timeoutMs ?? 30_000} ms:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const check = () => {
      const m = options.ready.exec(output);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(m);
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited before it was ready:\n${output}`));
    });
  });
  return { server, match };
}

export interface MeshpressProcess extends ServerProcess {
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly dataDir: string;
}

/** The real server entry point (server/src/main.ts), embedded mode, in a fresh data directory. */
export async function startMeshpress(env: Record<string, string> = {}): Promise<MeshpressProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshpress-bench-'));
  const { server, match } = await startProcess({
    name: 'meshpress',
    script: BUILT_SERVER,
    // e.g. BENCH_SERVER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
    nodeFlags: [
      ...SERVER_NODE_FLAGS,
      ...(process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
    env: {
      MESHPRESS_DATA_DIR: dataDir,
      MESHPRESS_HOST: '127.0.0.1',
      MESHPRESS_HTTP_PORT: '0',
      MESHPRESS_GRPC_PORT: '0',
      MESHPRESS_LOG_LEVEL: 'warn',
      ...env,
    },
    ready: /REST (http:\/\/\S+)\s+gRPC (\S+)/,
  });
  return {
    ...server,
    httpUrl: match[1]!,
    grpcAddress: match[2]!,
    dataDir,
    async stop(graceMs?: number) {
      await server.stop(graceMs);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Worker<Message> {
  readonly pid: number;
  send(message: unknown): void;
  /** Resolves with the first message for which `accept` returns true; rejects on exit or timeout. */
  next<T extends Message>(accept: (m: Message) => m is T, timeoutMs: number): Promise<T>;
  /** Kills the worker if still running; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Forks a load-generator worker (a TypeScript file under bench/workers) with an IPC channel. Workers run
 * in their own process so that they never share an event loop with the server they measure.
 */
export function forkWorker<Message extends { type: string }>(
  script: string,
  nodeFlags: readonly string[] = SOURCE_FLAGS,
): Worker<Message> {
  const child = fork(join(REPO_ROOT, script), [], {
    cwd: REPO_ROOT,
    // e.g. BENCH_WORKER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the workers.
    execArgv: [...(process.env.BENCH_WORKER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), ...nodeFlags],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: Message[] = [];
  const waiting = new Set<() => void>();
  let exitCode: number | null | undefined;
  child.on('message', (m) => {
    queue.push(m as Message);
    for (const wake of [...waiting]) wake();
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      for (const wake of [...waiting]) wake();
      resolve();
    }),
  );
  return {
    pid: child.pid!,
    send: (message) => child.send(message as never),
    next<T extends Message>(accept: (m: Message) => m is T, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const index = queue.findIndex((m) => m.type === 'error' || accept(m));
          if (index >= 0) {
            const [m] = queue.splice(index, 1);
            done();
            if (m!.type === 'error') reject(new Error(`${script}: ${(m as { message?: string }).message}`));
            else resolve(m as T);
            return;
          }
          if (exitCode !== undefined) {
            done();
            reject(new Error(`${script} exited (code ${exitCode}) before answering`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${script} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiting.delete(check);
        };
        waiting.add(check);
        check();
      });
    },
    async stop() {
      // A worker that has sent its result exits by itself: give it a moment (a --cpu-prof profile is
      // written on the way out), then kill it.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Runs a repository script to completion (at most `timeoutMs`, then SIGKILL), echoing its output through
 * `log` line by line, and returns its exit code and output.
 */
export function runToExit(options: {
  script: string;
  env?: Record<string, string>;
  nodeFlags?: readonly string[];
  timeoutMs: number;
  log: (line: string) => void;
}): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? SOURCE_FLAGS), options.script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let partial = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 256_000) output = output.slice(-128_000);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) options.log(`  | ${line}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (partial) options.log(`  | ${partial}`);
      resolve({ code, output, timedOut });
    });
  });
}
