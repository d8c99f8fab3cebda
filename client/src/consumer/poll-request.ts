import type { PollRequest } from './transport.js';

/**
 * The JSON body of `POST /v1/poll`: what JSON.stringify gives for `{ identity, topics, waitMs }`, written
 * out directly, without building that object and a copy of every topic on each poll.
 */
export function pollRequestJson(request: PollRequest): string {
  let topics = '';
  for (const { topic, currentVersion } of request.topics) {
    if (topics !== '') topics += ',';
    topics += `{"topic":${JSON.stringify(topic)}`;
    if (currentVersion !== undefined) topics += `,"currentVersion":${JSON.stringify(currentVersion)}`;
    topics += '}';
  }
  const wait = request.waitMs === undefined ? '' : `,"waitMs":${JSON.stringify(request.waitMs)}`;
  return `{"identity":${JSON.stringify(request.identity)},"topics":[${topics}]${wait}}`;
}
