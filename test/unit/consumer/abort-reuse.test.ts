import { describe, expect, it } from 'vitest';
import { isReusable, unwatchAbort, watchAbort } from '../../../client/src/consumer/abort.js';
import { isThenable } from '../../../client/src/consumer/thenable.js';

describe('isReusable', () => {
  it('is true only for a controller that never aborted and that nothing listens to', () => {
    const controller = new AbortController();
    expect(isReusable(controller)).toBe(true);
    const listener = () => undefined;
    controller.signal.addEventListener('abort', listener);
    expect(isReusable(controller), 'someone still listens').toBe(false);
    controller.signal.removeEventListener('abort', listener);
    expect(isReusable(controller)).toBe(true);
    controller.abort();
    expect(isReusable(controller)).toBe(false);
  });

  it('counts watchAbort watchers, not its one shared listener, and tells each watcher of an abort once', () => {
    const controller = new AbortController();
    const told: string[] = [];
    const first = { aborted: () => told.push('first') };
    const second = { aborted: () => told.push('second') };
    watchAbort(controller.signal, first);
    expect(isReusable(controller), 'a request is in flight').toBe(false);
    unwatchAbort(controller.signal, first);
    expect(isReusable(controller), 'only the idle shared listener is left').toBe(true);
    watchAbort(controller.signal, first);
    watchAbort(controller.signal, second);
    unwatchAbort(controller.signal, second);
    const other = () => undefined;
    controller.signal.addEventListener('abort', other);
    unwatchAbort(controller.signal, first);
    expect(isReusable(controller), 'someone else still listens').toBe(false);
    controller.signal.removeEventListener('abort', other);
    watchAbort(controller.signal, first);
    watchAbort(controller.signal, second);
    controller.abort();
    expect(told).toEqual(['first', 'second']);
    expect(isReusable(controller)).toBe(false);
  });
});

describe('isThenable', () => {
  it('is what await would wait for', () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable is the point
    expect(isThenable({ then: () => undefined })).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable is the point
    expect(isThenable(Object.assign(() => undefined, { then: () => undefined }))).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: not a thenable, though it has the name
    for (const value of [undefined, null, 1, 'then', {}, { then: 1 }, () => undefined])
      expect(isThenable(value)).toBe(false);
  });
});
