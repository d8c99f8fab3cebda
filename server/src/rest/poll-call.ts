import type { ServerResponse } from 'node:http';
import type { Caller } from '../core/caller.js';
import type { PollInput } from '../core/inputs.js';
import { asksToWait } from '../core/poll-input.js';
import type { PollUpdate } from '../core/poll-rule.js';
import type { MeshpressService } from '../core/service.js';

const CALLER_WENT_AWAY = new Error('the caller closed the connection');

/**
 * Runs a poll; a long-poll stops waiting when the response closes before it is answered (the caller went
 * away). Polls that do not wait — the bulk of them — skip the abort plumbing entirely and are usually
 * answered at once (`MeshpressService.pollNow`), so this may throw instead of rejecting.
 *
 * No async frame and no listener removal for held polls: each of the thousands held at once kept a
 * suspended frame and its promises alive until answered, for the young-generation collector to copy
 * while the fleet re-polls after a publish. The 'close' listener stays attached instead; a response that
 * was answered has ended by the time it closes, and aborts nothing.
 */
export function pollUntilAnswered(
  service: MeshpressService,
  caller: Caller,
  body: unknown,
  response: ServerResponse,
): PollUpdate[] | Promise<PollUpdate[]> {
  if (!asksToWait(body)) return service.pollNow(caller, body as PollInput);
  const abort = new AbortController();
  response.once('close', () => {
    if (!response.writableEnded) abort.abort(CALLER_WENT_AWAY);
  });
  return service.pollNow(caller, body as PollInput, abort.signal);
}
