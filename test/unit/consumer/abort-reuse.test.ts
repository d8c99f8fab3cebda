import { describe, expect, it } from 'vitest';
import { isReusable } from '../../../client/src/consumer/abort.js';
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
