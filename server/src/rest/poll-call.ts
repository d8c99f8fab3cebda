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
 */
export function pollUntilAnswered(
  service: MeshpressService,
  caller: Caller,
  body: unknown,
  response: ServerResponse,
): PollUpdate[] | Promise<PollUpdate[]> {
  return asksToWait(body)
    ? heldPoll(service, caller, body, response)
    : service.pollNow(caller, body as PollInput);
}

async function heldPoll(
  service: MeshpressService,
  caller: Caller,
  body: unknown,
  response: ServerResponse,
): Promise<PollUpdate[]> {
  const abort = new AbortController();
  const onClose = () => abort.abort(CALLER_WENT_AWAY);
  response.once('close', onClose);
  try {
    return await service.poll(caller, body as PollInput, abort.signal);
  } finally {
    response.off('close', onClose);
  }
}
