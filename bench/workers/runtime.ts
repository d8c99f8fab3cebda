import type { z } from 'zod';

/** Parent -> worker messages other than the initial `start`. */
export type ParentMessage = { readonly type: string; readonly [key: string]: unknown };

export interface WorkerIo {
  /** Sends a message to the parent (progress, intermediate figures). */
  report(message: { type: string; [key: string]: unknown }): void;
  /** Waits for the parent's next message of this type. */
  next(type: string): Promise<ParentMessage>;
}

/**
 * The worker side of forkWorker: waits for `{type:'start', config}`, validates the config, runs, sends
 * `{type:'result', result}` (or `{type:'error', message}`) and exits.
 */
export function serveWorker<C>(
  schema: z.ZodType<C>,
  run: (config: C, io: WorkerIo) => Promise<unknown>,
): void {
  if (!process.send) throw new Error('this worker is started by the benchmark harness (bench/run.ts)');
  const inbox: ParentMessage[] = [];
  const waiters = new Map<string, (m: ParentMessage) => void>();
  const io: WorkerIo = {
    report: (message) => process.send!(message),
    next: (type) =>
      new Promise((resolve) => {
        const index = inbox.findIndex((m) => m.type === type);
        if (index >= 0) resolve(inbox.splice(index, 1)[0]!);
        else waiters.set(type, resolve);
      }),
  };
  process.on('message', (raw) => {
    const message = raw as ParentMessage;
    if (message.type === 'start') {
      void start(message.config);
      return;
    }
    const waiter = waiters.get(message.type);
    if (waiter) {
      waiters.delete(message.type);
      waiter(message);
    } else inbox.push(message);
  });
  const start = async (raw: unknown) => {
    try {
      const result = await run(schema.parse(raw), io);
      process.send!({ type: 'result', result }, () => process.exit(0));
    } catch (err) {
      process.send!(
        { type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) },
        () => process.exit(1),
      );
    }
  };
}
