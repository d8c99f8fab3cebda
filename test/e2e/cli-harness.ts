import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, so the CLI runs from the same place whatever vitest's working directory. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = 'client/src/cli/main.ts';

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  readonly env?: Record<string, string>;
  /** Bytes piped to the CLI's stdin (closed right after). */
  readonly stdin?: string | Uint8Array;
  readonly timeoutMs?: number;
}

/** `meshpress` as a real child process: node --import tsx client/src/cli/main.ts … */
export function startCli(args: readonly string[], options: CliRunOptions = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  else child.stdin.end();
  return new CliProcess(child, options.timeoutMs ?? 60_000);
}

export function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

export class CliProcess {
  readonly result: Promise<CliResult>;
  #stdout = '';
  #stderr = '';
  #waiters: { predicate: () => boolean; resolve: () => void }[] = [];

  constructor(
    readonly child: ChildProcess,
    timeoutMs: number,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      this.#check();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#check();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    this.result = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: this.#stdout, stderr: this.#stderr });
      });
    });
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves once the output satisfies `predicate`; rejects if the process ends first. */
  waitFor(predicate: (stdout: string, stderr: string) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => predicate(this.#stdout, this.#stderr);
      if (test()) {
        resolve();
        return;
      }
      this.#waiters.push({ predicate: test, resolve });
      this.result.then(
        (r) =>
          reject(
            new Error(`CLI exited (${r.code ?? r.signal}) first.\nstdout: ${r.stdout}\nstderr: ${r.stderr}`),
          ),
        reject,
      );
    });
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.predicate()) return true;
      w.resolve();
      return false;
    });
  }
}
