import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../../client/src/consumer/serial-queue.js';

describe('SerialQueue', () => {
  it('run starts a task only after returning, and tasks in order, one at a time', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let release!: () => void;
    const first = queue.run(async () => {
      log.push('first starts');
      await new Promise<void>((resolve) => (release = resolve));
      log.push('first ends');
      return 1;
    });
    const second = queue.run(() => {
      log.push('second');
      return 2;
    });
    expect(log).toEqual([]);
    await Promise.resolve();
    expect(log).toEqual(['first starts']);
    release();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(log).toEqual(['first starts', 'first ends', 'second']);
  });

  it('runNowIfIdle runs at once when idle and hands back a synchronous result as is', () => {
    const queue = new SerialQueue();
    expect(queue.runNowIfIdle(() => 'done')).toBe('done');
    expect(queue.runNowIfIdle(() => 'again')).toBe('again');
  });

  it('runNowIfIdle waits its turn behind queued or running tasks', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let release!: () => void;
    const running = queue.runNowIfIdle(async () => {
      log.push('running');
      await new Promise<void>((resolve) => (release = resolve));
      log.push('ran');
    });
    expect(log).toEqual(['running']);
    const next = queue.runNowIfIdle(() => log.push('next'));
    expect(next).toBeInstanceOf(Promise);
    await Promise.resolve();
    expect(log).toEqual(['running']);
    release();
    await Promise.all([running, next]);
    expect(log).toEqual(['running', 'ran', 'next']);
    await queue.idle();
    expect(queue.runNowIfIdle(() => 'idle again')).toBe('idle again');
  });

  it('busy: from queuing (or starting a task that returns a promise) until every task has settled', async () => {
    const queue = new SerialQueue();
    expect(queue.busy).toBe(false);
    queue.runNowIfIdle(() => 'sync');
    expect(queue.busy, 'a task finished synchronously leaves it idle').toBe(false);
    let release!: () => void;
    const running = queue.runNowIfIdle(() => new Promise<void>((resolve) => (release = resolve)));
    expect(queue.busy).toBe(true);
    release();
    await running;
    await queue.idle();
    expect(queue.busy).toBe(false);
    void queue.run(() => undefined);
    expect(queue.busy).toBe(true);
    await queue.idle();
    expect(queue.busy).toBe(false);
  });

  it('turns a task that throws into a rejection and carries on', async () => {
    const queue = new SerialQueue();
    const failed = queue.runNowIfIdle(() => {
      throw new Error('boom');
    });
    await expect(failed).rejects.toThrow('boom');
    await expect(queue.run(() => Promise.reject(new Error('later')))).rejects.toThrow('later');
    await queue.idle();
    expect(queue.runNowIfIdle(() => 'fine')).toBe('fine');
  });
});
