import type { ServerResponse } from 'node:http';
import type { Caller } from '../core/caller.js';
import { HangUp } from '../core/hang-up.js';
import type { PollInput } from '../core/inputs.js';
import { asksToWait } from '../core/poll-input.js';
import type { PollUpdate } from '../core/poll-rule.js';
import type { MeshpressService } from '../core/service.js';

/**
 * Runs a poll; a long-poll stops waiting when the response closes before it is answered (the caller went
 * away). Polls that do not wait — the bulk of them — skip the abort plumbing entirely and are usually
 * answered at once (`MeshpressService.pollNow`), so this may throw instead of rejecting.
 *
 * No async frame, no AbortController and no listener removal for held polls: each of the thousands
 * held at once kept a suspended frame, its promises and a controller's event machinery alive until
 * answered, for the young-generation collector to copy while the fleet re-polls after a publish. A
 * `HangUp` stands in for the controller, and the 'close' listener stays attached; a response that was
 * answered has ended by the time it closes, and aborts nothing.
 */
export function pollUntilAnswered(
  service: MeshpressService,
  caller: Caller,
  body: unknown,
  response: ServerResponse,
): PollUpdate[] | Promise<PollUpdate[]> {
  if (!asksToWait(body)) return service.pollNow(caller, body as PollInput);
  const hangUp = new HangUp();
  response.on('close', () => {
    if (!response.writableEnded) hangUp.abort();
  });
  return service.pollNow(caller, body as PollInput, hangUp);
}
