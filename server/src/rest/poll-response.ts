import { type PollUpdate, toPollUpdateView } from '@meshpress/client';

const OPEN = '{"updates":[';
const CLOSE = ']}';
const OPEN_BYTES = Buffer.from(OPEN);
const CLOSE_BYTES = Buffer.from(CLOSE);
const COMMA = Buffer.from(',');

/**
 * The body of a one-update answer, by record and pin flag. An update's JSON depends only on its record
 * (immutable, shared by every poll that gets it from the consumer cache) and on whether it is pinned
 * (its topic and version are the record's: poll-rule.ts), so it is serialized and encoded once: after a
 * publish, thousands of polls answer with the same record, and base64-encoding its payload for each of
 * them would cost more than the rest of the poll. Kept as bytes outside the JS heap, ready to write, with
 * no string to flatten or encode per answer. Records copied per caller (S3 copies reordered
 * closest-first) are fresh objects and are simply serialized.
 */
const bodies = new WeakMap<PollUpdate['record'], { pinned?: Buffer; unpinned?: Buffer }>();

/** The JSON body of a poll answer, `{"updates":[...]}`, as UTF-8 bytes. */
export function pollResponseBody(updates: readonly PollUpdate[]): Buffer {
  if (updates.length === 1) return singleBody(updates[0]!);
  const parts: Buffer[] = [OPEN_BYTES];
  for (let i = 0; i < updates.length; i++) {
    if (i > 0) parts.push(COMMA);
    const body = singleBody(updates[i]!);
    parts.push(body.subarray(OPEN_BYTES.length, body.length - CLOSE_BYTES.length));
  }
  parts.push(CLOSE_BYTES);
  return Buffer.concat(parts);
}

function singleBody(update: PollUpdate): Buffer {
  let forRecord = bodies.get(update.record);
  if (!forRecord) bodies.set(update.record, (forRecord = {}));
  const key = update.pinned ? 'pinned' : 'unpinned';
  return (forRecord[key] ??= encode(`${OPEN}${JSON.stringify(toPollUpdateView(update))}${CLOSE}`));
}

/** A buffer of its own: a small `Buffer.from` is a slice of a shared 8 KiB pool, which keeping would pin. */
function encode(json: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
  bytes.write(json);
  return bytes;
}
