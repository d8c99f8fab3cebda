import { type PollUpdate, toPollUpdateView } from '@meshpress/client';

/**
 * The JSON of a poll answer. An update's JSON depends only on its record (immutable, shared by every
 * poll that gets it from the consumer cache) and on whether it is pinned, so it is serialized once per
 * record and reused: after a publish, thousands of polls answer with the same few records, and
 * base64-encoding a payload for each of them would cost more than the rest of the poll. Records copied
 * per caller (S3 copies reordered closest-first) are fresh objects and are simply serialized.
 */
const serialized = new WeakMap<PollUpdate['record'], { pinned?: string; unpinned?: string }>();

export function pollResponseJson(updates: readonly PollUpdate[]): string {
  let json = '{"updates":[';
  for (let i = 0; i < updates.length; i++) json += (i === 0 ? '' : ',') + updateJson(updates[i]!);
  return `${json}]}`;
}

function updateJson(update: PollUpdate): string {
  // An update's topic and version are its record's (poll-rule.ts), so the record and the pin flag key it.
  const { record } = update;
  let forRecord = serialized.get(record);
  if (!forRecord) serialized.set(record, (forRecord = {}));
  const key = update.pinned ? 'pinned' : 'unpinned';
  return (forRecord[key] ??= JSON.stringify(toPollUpdateView(update)));
}
