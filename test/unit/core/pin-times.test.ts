import { afterEach, describe, expect, it } from 'vitest';
import { caller, serviceHarness, text } from '../../support/service-harness.js';

let h: Awaited<ReturnType<typeof serviceHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('pin times', () => {
  it('a pin set in the same millisecond as an equally specific one is timed after it and wins', async () => {
    h = await serviceHarness();
    const { service, clock } = h;
    await service.putTopic(caller, { name: 't' });
    const v1 = (await service.publish(caller, { topic: 't', payload: text('one') })).version;
    const v2 = (await service.publish(caller, { topic: 't', payload: text('two') })).version;
    const identity = { app: 'checkout', region: 'eu', node: 'n1' };

    const first = await service.pin(caller, { topic: 't', scope: 'app=checkout', version: v1 });
    expect(first.setAt).toBe(clock.now());
    // Same instant on the server's clock: the answer gives the time stored, 1 ms after the first pin,
    // so "most recently set wins" picks this pin rather than the smaller scope text.
    const second = await service.pin(caller, { topic: 't', scope: 'region=eu', version: v2 });
    expect(second.setAt).toBe(first.setAt + 1);
    expect((await service.resolve(caller, { topic: 't', identity })).target).toMatchObject({
      version: v2,
      pinned: true,
    });
    expect((await service.getTopic(caller, 't')).pins).toContainEqual(second);
  });
});
