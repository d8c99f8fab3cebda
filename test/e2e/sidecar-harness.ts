import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A named upstream in a process of its own: answers every request with its name as the body (and
 * `x-upstream: <name>`), echoing the caller app it saw as `x-seen-app`. `/slow?ms=N` answers after N ms.
 */
const UPSTREAM_SCRIPT = `
const http = require('node:http');
const name = process.argv[1];
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const slow = /^\\/slow\\?ms=(\\d+)/.exec(req.url || '');
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name, 'x-seen-app': req.headers['x-meshpress-app'] || '' });
      res.end(name);
    };
    if (slow) setTimeout(answer, Number(slow[1])); else answer();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
`;

export interface ChildHandle {
  readonly child: ChildProcess;
  output(): string;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function track(child: ChildProcess): ChildHandle & { exited: Promise<number | null> } {
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function waitForLine(
  handle: ReturnType<typeof track>,
  pattern: RegExp,
  what: string,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start:\n${handle.output()}`)),
      timeoutMs,
    );
    const check = () => {
      const match = pattern.exec(handle.output());
      if (match) {
        clearTimeout(timer);
        handle.child.stdout?.off('data', check);
        resolve(match);
      }
    };
    handle.child.stdout?.on('data', check);
    check();
    handle.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${handle.output()}`));
    });
  });
}

export interface UpstreamProcess extends ChildHandle {
  readonly name: string;
  readonly port: number;
}

export async function spawnUpstream(name: string): Promise<UpstreamProcess> {
  const handle = track(
    spawn(process.execPath, ['-e', UPSTREAM_SCRIPT, name], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const match = await waitForLine(handle, /listening (\d+)/, `upstream ${name}`);
  return { ...handle, name, port: Number(match[1]) };
}

/**
 * A process that listens and then never accepts (its event loop blocked), with a backlog of one: once the
 * kernel's accept queue is full, connection attempts are left unanswered, as with a blackholed address.
 */
const BLACKHOLE_SCRIPT = `
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write('listening ' + server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});
`;

export interface BlackholeProcess extends ChildHandle {
  readonly port: number;
}

/** Starts a blackhole (see BLACKHOLE_SCRIPT) and fills its accept queue, so that the next connect hangs. */
export async function spawnBlackhole(): Promise<BlackholeProcess> {
  const handle = track(
    spawn(process.execPath, ['-e', BLACKHOLE_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const port = Number((await waitForLine(handle, /listening (\d+)/, 'blackhole'))[1]);
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = connect(port, '127.0.0.1');
    fillers.push(socket);
    socket.on('error', () => undefined);
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      setTimeout(() => resolve(false), 300);
    });
    if (!connected) break;
  }
  return {
    ...handle,
    port,
    async stop(signal = 'SIGKILL') {
      for (const socket of fillers) socket.destroy();
      return handle.stop(signal);
    },
  };
}

export interface SidecarProcess extends ChildHandle {
  readonly outboundUrl: string | undefined;
  readonly inboundUrl: string | undefined;
  readonly adminUrl: string;
}

const SIDECAR_ARGS = ['--conditions=meshpress-source', '--import', 'tsx', 'client/src/sidecar/main.ts'];

/** The real entry point (client/src/sidecar/main.ts) as a child process, from the TypeScript sources. */
export async function spawnSidecar(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<SidecarProcess> {
  const handle = track(
    spawn(process.execPath, [...SIDECAR_ARGS, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const match = await waitForLine(
    handle,
    /meshpress-sidecar listening: outbound (\S+) {2}inbound (\S+) {2}admin (\S+)/,
    'meshpress-sidecar',
  );
  const url = (text: string) => (text === 'off' ? undefined : text);
  return { ...handle, outboundUrl: url(match[1]!), inboundUrl: url(match[2]!), adminUrl: match[3]! };
}

/** Runs the sidecar expecting it to exit by itself (bad options). */
export function runSidecarToExit(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const handle = track(
    spawn(process.execPath, [...SIDECAR_ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  return handle.exited.then((code) => ({ code, output: handle.output() }));
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Sends `count` requests with `concurrency` in flight over one keep-alive pool. */
export async function sendMany(
  base: string,
  count: number,
  options: {
    path?: string;
    concurrency?: number;
    headers?: Record<string, string>;
    method?: string;
    /** Called as each answer arrives. */
    onAnswer?: (answer: Answer) => void;
  } = {},
): Promise<Answer[]> {
  const pool = new Pool(base, { connections: options.concurrency ?? 16 });
  const answers: Answer[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await pool.request({
        method: (options.method ?? 'GET') as 'GET',
        path: options.path ?? '/',
        headers: options.headers ?? {},
      });
      answers[i] = { status: res.statusCode, headers: res.headers, body: await res.body.text() };
      options.onAnswer?.(answers[i]!);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  } finally {
    await pool.close();
  }
  return answers;
}

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('application/json');
  return { status: res.status, body: json ? JSON.parse(text) : text, headers: res.headers };
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The central `confidence` interval of Binomial(n, p) computed exactly: [lo, hi] such that
 * P(X < lo) ≤ (1 - confidence)/2 and P(X > hi) ≤ (1 - confidence)/2.
 */
export function binomialInterval(n: number, p: number, confidence: number): [number, number] {
  const tail = (1 - confidence) / 2;
  let pmf = (1 - p) ** n;
  let cdf = 0;
  let lo = -1;
  for (let k = 0; k <= n; k++) {
    cdf += pmf;
    if (lo < 0 && cdf > tail) lo = k;
    if (cdf >= 1 - tail) return [lo, k];
    pmf *= ((n - k) / (k + 1)) * (p / (1 - p));
  }
  return [lo, n];
}

export interface RawAnswer {
  readonly status: number;
  /** The head as received, lowercase names. */
  readonly head: string;
  readonly body: string;
  /** `error.code` of a meshpress error body, or undefined. */
  readonly code: string | undefined;
}

/**
 * Writes `text` as it is on a new connection to `base` (http://host:port) and reads until the server
 * closes it: for requests no HTTP client will send (an absolute-form target, a repeated Host). End the
 * head with `Connection: close`.
 */
export function rawExchange(base: string, text: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const received = Buffer.concat(chunks).toString('latin1');
      const split = received.indexOf('\r\n\r\n');
      const head = (split < 0 ? received : received.slice(0, split)).toLowerCase();
      const body = split < 0 ? '' : received.slice(split + 4);
      let code: string | undefined;
      try {
        code = JSON.parse(body)?.error?.code;
      } catch {
        code = undefined;
      }
      resolve({ status: Number(/^http\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body, code });
    });
  });
}
