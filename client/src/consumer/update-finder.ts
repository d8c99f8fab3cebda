import type { PollUpdate } from './transport.js';

/** Above this many updates in one answer, a Map beats scanning the list for each polled topic. */
const SCAN_LIMIT = 8;

const none = (): undefined => undefined;

/**
 * Looks up a poll answer's update for a topic; when an answer names a topic twice, the last one counts.
 * Answers are small (a proxy polls a handful of topics and only changed ones come back), so a short list
 * is scanned rather than indexed: no Map for every answer.
 */
export function updateFinder(updates: readonly PollUpdate[]): (topic: string) => PollUpdate | undefined {
  if (updates.length === 0) return none;
  if (updates.length > SCAN_LIMIT) {
    const byTopic = new Map(updates.map((u) => [u.topic, u]));
    return (topic) => byTopic.get(topic);
  }
  return (topic) => {
    for (let i = updates.length - 1; i >= 0; i--) if (updates[i]!.topic === topic) return updates[i];
    return undefined;
  };
}
