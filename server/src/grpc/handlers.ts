import type { ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { renameIssuePaths } from '@meshpress/client';
import type { Caller } from '../core/caller.js';
import type { PollInput } from '../core/inputs.js';
import type { PollUpdate } from '../core/poll-rule.js';
import type { MeshpressService } from '../core/service.js';
import { type AdapterContext, unary } from './call-runner.js';
import {
  decodeListTopics,
  decodeListVersions,
  decodePin,
  decodePinHistory,
  decodePoll,
  decodePublish,
  decodePutTopic,
  decodeResolve,
  decodeUnpin,
  publishPath,
  putTopicPath,
  resolvePath,
} from './decode.js';
import {
  toPinEventMessage,
  toPinMessage,
  toPollUpdateMessage,
  toResolvedTargetMessage,
  toTopicMessage,
  toVersionMessage,
} from './encode.js';
import type {
  AddScopesRequest,
  GetConsumersRequest,
  GetPinHistoryRequest,
  ListTopicsRequest,
  ListVersionsRequest,
  PinRequest,
  PollRequest,
  PublishRequest,
  PutTopicRequest,
  ResolveRequest,
  TopicRequest,
  UnpinRequest,
  VersionRefRequest,
} from './messages.js';
import { versionDataHandler } from './version-data-stream.js';

/** Runs `work`, renaming validation issue paths from service input names to request field names. */
async function renaming<T>(rename: (path: string) => string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw renameIssuePaths(err, rename);
  }
}

/** A long-poll stops waiting when the caller cancels the call (it went away). */
async function pollUntilCancelled(
  service: MeshpressService,
  caller: Caller,
  input: PollInput,
  call: ServerUnaryCall<unknown, unknown>,
): Promise<PollUpdate[]> {
  const abort = new AbortController();
  const onCancelled = () => abort.abort();
  call.on('cancelled', onCancelled);
  if (call.cancelled) abort.abort();
  try {
    return await service.poll(caller, input, abort.signal);
  } finally {
    call.off('cancelled', onCancelled);
  }
}

/** Every rpc of meshpress.v1.Meshpress. Handlers only adapt to MeshpressService, as the REST routes do. */
export function meshpressHandlers(
  context: AdapterContext,
  service: MeshpressService,
): UntypedServiceImplementation {
  // Label lookups cost a hash per call; on the poll path they are resolved once.
  const pollOutcome = context.metrics.pollOutcomes('grpc');
  return {
    PutTopic: unary(context, 'PutTopic', async (request: PutTopicRequest, { caller }) => {
      const { topic, created } = await renaming(putTopicPath, () =>
        service.putTopic(caller, decodePutTopic(request)),
      );
      return { topic: toTopicMessage(topic), created };
    }),

    ListTopics: unary(context, 'ListTopics', async (request: ListTopicsRequest, { caller }) => {
      const page = await service.listTopics(caller, decodeListTopics(request));
      return {
        topics: page.topics.map(toTopicMessage),
        ...(page.nextAfter ? { nextAfter: page.nextAfter } : {}),
      };
    }),

    GetTopic: unary(context, 'GetTopic', async (request: TopicRequest, { caller }) => {
      const { topic, pins } = await service.getTopic(caller, request.topic);
      return { topic: toTopicMessage(topic), pins: pins.map(toPinMessage) };
    }),

    Publish: unary(context, 'Publish', async (request: PublishRequest, { caller }) => {
      const record = await renaming(publishPath, async () => service.publish(caller, decodePublish(request)));
      return { version: toVersionMessage(record, { inlineData: false }) };
    }),

    ListVersions: unary(context, 'ListVersions', async (request: ListVersionsRequest, { caller }) => {
      const page = await service.listVersions(caller, decodeListVersions(request));
      return {
        versions: page.versions.map((v) => toVersionMessage(v, { inlineData: false })),
        ...(page.nextBefore === undefined ? {} : { nextBefore: page.nextBefore }),
      };
    }),

    GetVersion: unary(context, 'GetVersion', async (request: VersionRefRequest, { caller }) => {
      const record = await service.getVersion(caller, { topic: request.topic, version: request.version });
      return { version: toVersionMessage(record, { inlineData: true }) };
    }),

    GetVersionData: versionDataHandler(context, service),

    AddScopes: unary(context, 'AddScopes', async (request: AddScopesRequest, { caller }) => {
      const { topic, version, scopes } = request;
      const record = await service.addScopes(caller, { topic, version, scopes });
      return { version: toVersionMessage(record, { inlineData: false }) };
    }),

    Pin: unary(context, 'Pin', async (request: PinRequest, { caller }) => {
      return { pin: toPinMessage(await service.pin(caller, decodePin(request))) };
    }),

    Unpin: unary(context, 'Unpin', async (request: UnpinRequest, { caller }) => {
      return service.unpin(caller, decodeUnpin(request));
    }),

    GetPinHistory: unary(context, 'GetPinHistory', async (request: GetPinHistoryRequest, { caller }) => {
      const events = await service.pinHistory(caller, decodePinHistory(request));
      return { topic: request.topic, events: events.map(toPinEventMessage) };
    }),

    Resolve: unary(context, 'Resolve', async (request: ResolveRequest, { caller }) => {
      const result = await renaming(resolvePath, () => service.resolve(caller, decodeResolve(request)));
      return {
        topic: result.topic,
        ...(result.target ? { target: toResolvedTargetMessage(result.target) } : {}),
      };
    }),

    GetConsumers: unary(context, 'GetConsumers', async (request: GetConsumersRequest, { caller }) => {
      const status = await service.consumers(caller, { topic: request.topic });
      return {
        topic: status.topic,
        total: status.total,
        distribution: status.distribution.map((d) => ({
          ...(d.version === null ? {} : { version: d.version }),
          nodes: d.nodes,
        })),
        lagging: status.lagging.map(({ since, lastSeen, ...node }) => ({
          ...node,
          sinceMs: since,
          lastSeenMs: lastSeen,
        })),
      };
    }),

    Poll: unary(context, 'Poll', async (request: PollRequest, { caller }, call) => {
      try {
        const input = decodePoll(request);
        // Polls that do not wait, the bulk of them, skip the cancellation plumbing.
        const updates =
          (input.waitMs ?? 0) > 0
            ? await pollUntilCancelled(service, caller, input, call)
            : await service.poll(caller, input);
        (updates.length > 0 ? pollOutcome.update : pollOutcome.none).inc();
        return { updates: updates.map(toPollUpdateMessage) };
      } catch (err) {
        pollOutcome.error.inc();
        throw err;
      }
    }),
  };
}
