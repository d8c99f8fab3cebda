import type { PinEvent, PinRecord, TopicRecord, VersionRecord } from '../core/model.js';
import { toPinEventView, toPinView, toTopicView, toVersionView } from '../wire/rest-views.js';

/** `--json` output uses the REST API's own shapes, so scripts parse one format whichever tool they use. */
export const versionJson = (record: VersionRecord) => toVersionView(record, { inlineData: false });
export const topicJson = (topic: TopicRecord) => toTopicView(topic);
export const pinJson = (pin: PinRecord) => toPinView(pin);
export const pinEventJson = (event: PinEvent) => toPinEventView(event);
