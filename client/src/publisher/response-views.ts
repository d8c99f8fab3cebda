import { z } from 'zod';
import { pinEventView, pinView, pollUpdateView, topicView, versionView } from '../wire/rest-views.js';

/** Envelopes of the REST answers, built from the shared views (server/src/rest/routes.ts). */
export const topicPageView = z.object({ topics: z.array(topicView), nextAfter: z.string().optional() });
export const topicWithPinsView = z.object({ topic: topicView, pins: z.array(pinView) });
export const versionPageView = z.object({
  versions: z.array(versionView),
  nextBefore: z.number().int().optional(),
});
export const unpinView = z.object({ removed: z.boolean() });
export const pinHistoryView = z.object({ topic: z.string(), events: z.array(pinEventView) });
export const resolveView = z.object({
  topic: z.string(),
  target: z
    .object({
      version: z.number().int(),
      pinned: z.boolean(),
      scope: z.string(),
      record: versionView.optional(),
    })
    .nullable(),
});
export const pollView = z.object({ updates: z.array(pollUpdateView) });
