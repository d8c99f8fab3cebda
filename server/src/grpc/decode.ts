import { IDENTITY_KEYS, type Identity, ValidationError } from '@meshpress/client';
import type { PollInput, PublishInput, TopicSpecInput } from '../core/inputs.js';
import type {
  GetPinHistoryRequest,
  IdentityMessage,
  ListTopicsRequest,
  ListVersionsRequest,
  PinRequest,
  PollRequest,
  PublishRequest,
  PutTopicRequest,
  ResolveRequest,
  UnpinRequest,
} from './messages.js';

/**
 * Request messages as service inputs. Only shapes change here: every value is validated by the service,
 * so both transports accept and reject exactly the same things. Absent optional fields are left out, so
 * the service applies the same defaults as for REST.
 */

const defined = <K extends string, V>(key: K, value: V | undefined | null): { [P in K]?: V } =>
  (value === undefined || value === null ? {} : { [key]: value }) as { [P in K]?: V };

export function decodePutTopic(request: PutTopicRequest): TopicSpecInput {
  return {
    name: request.topic,
    ...defined(
      'retention',
      request.retention && {
        ...defined('maxVersions', request.retention.maxVersions),
        ...defined('maxAgeDays', request.retention.maxAgeDays),
      },
    ),
    ...defined('kind', request.kind as TopicSpecInput['kind']),
    ...defined('description', request.description),
  };
}
/** The topic spec calls the topic `name`; the request calls it `topic`. */
export const putTopicPath = (path: string): string => (path === 'name' ? 'topic' : path);

export function decodeListTopics(request: ListTopicsRequest): { after?: string; limit?: number } {
  return { ...defined('after', request.after), ...defined('limit', request.limit) };
}

const PAYLOAD_REQUIRED = 'one of data or s3 must be set';

export function decodePublish(request: PublishRequest): PublishInput {
  let payload: PublishInput['payload'];
  if (request.payload === 'data') payload = { kind: 'bytes', data: request.data ?? new Uint8Array() };
  else if (request.payload === 's3' && request.s3)
    payload = {
      kind: 's3',
      locations: request.s3.locations.map((l) => ({ region: l.region, bucket: l.bucket, key: l.key })),
      size: request.s3.size,
      sha256: request.s3.sha256,
    };
  else
    throw new ValidationError(`invalid publish request (payload: ${PAYLOAD_REQUIRED})`, [
      { path: 'payload', message: PAYLOAD_REQUIRED },
    ]);
  return {
    topic: request.topic,
    payload,
    ...defined('contentType', request.contentType),
    // A repeated field cannot be absent: empty means "not given", so the service default (`*`) applies.
    ...(request.scopes.length > 0 ? { scopes: request.scopes } : {}),
    metadata: { ...request.metadata },
    ...defined('sha256', request.sha256),
  };
}
/** The service nests the payload under `payload`; the request has `data` or `s3` directly. */
export const publishPath = (path: string): string =>
  path === 'payload.data'
    ? 'data'
    : path.startsWith('payload.') && path !== 'payload'
      ? `s3.${path.slice('payload.'.length)}`
      : path;

export function decodeListVersions(request: ListVersionsRequest): {
  topic: string;
  before?: number;
  limit?: number;
} {
  return { topic: request.topic, ...defined('before', request.before), ...defined('limit', request.limit) };
}

export function decodePin(request: PinRequest): {
  topic: string;
  scope?: string;
  version: number;
  reason?: string;
} {
  return {
    topic: request.topic,
    ...defined('scope', request.scope),
    version: request.version,
    ...defined('reason', request.reason),
  };
}

export function decodeUnpin(request: UnpinRequest): { topic: string; scope?: string; reason?: string } {
  return { topic: request.topic, ...defined('scope', request.scope), ...defined('reason', request.reason) };
}

export function decodePinHistory(request: GetPinHistoryRequest): { topic: string; limit?: number } {
  return { topic: request.topic, ...defined('limit', request.limit) };
}

/** Written without spreads: it runs for every gRPC poll. */
export function decodeIdentity(identity: IdentityMessage | null): Identity {
  const decoded: Record<string, string> = {};
  if (!identity) return decoded;
  for (const key of IDENTITY_KEYS) {
    const value = identity[key];
    if (value !== undefined && value !== null) decoded[key] = value;
  }
  return decoded;
}

export function decodeResolve(request: ResolveRequest): { topic: string; identity: Identity; at?: number } {
  return { topic: request.topic, identity: decodeIdentity(request.identity), ...defined('at', request.atMs) };
}
/** The service calls the instant `at`; the request calls it `atMs`. */
export const resolvePath = (path: string): string => (path === 'at' ? 'atMs' : path);

export function decodePoll(request: PollRequest): PollInput {
  const topics = request.topics.map((t) =>
    t.currentVersion === undefined || t.currentVersion === null
      ? { topic: t.topic }
      : { topic: t.topic, currentVersion: t.currentVersion },
  );
  const identity = decodeIdentity(request.identity);
  return request.waitMs === undefined || request.waitMs === null
    ? { identity, topics }
    : { identity, topics, waitMs: request.waitMs };
}
