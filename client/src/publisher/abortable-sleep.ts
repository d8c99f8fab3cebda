import type { Clock } from '../core/clock.js';

const KEEP_ALIVE_MS = 2 ** 30;

/**
 * Waits `ms` on `clock`; rejects with the signal's reason as soon as it aborts.
 *
 * Clock timers never keep the process alive, but someone awaits this sleep: without a reference the
 * process of a script retrying a call would simply end mid-wait (exit code 13). A long ref'd interval
 * holds it for as long as the sleep lasts; the clock alone decides when the sleep ends.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const keepAlive = setInterval(() => undefined, KEEP_ALIVE_MS);
    const onAbort = () => {
      clock.clearTimeout(timer);
      clearInterval(keepAlive);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      clearInterval(keepAlive);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
