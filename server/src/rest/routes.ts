import {
  errorView,
  pinEventView,
  pinView,
  pollUpdateView,
  renameIssuePaths,
  toPinEventView,
  toPinView,
  topicView,
  toTopicView,
  toVersionView,
  versionView,
} from '@meshpress/client';
import { z } from 'zod';
import type { MeshpressService } from '../core/service.js';
import { pollUntilAnswered } from './poll-call.js';
import { pollResponseBody } from './poll-response.js';
import { jsonPublish, rawPublish } from './publish-input.js';
import {
  addScopesBody,
  listTopicsQuery,
  listVersionsQuery,
  pinBody,
  pinHistoryQuery,
  pinParams,
  pollBody,
  publishBody,
  putTopicBody,
  resolveQuery,
  topicParams,
  unpinQuery,
  versionParams,
} from './request-schemas.js';
import { defineRoute, type RouteSpec } from './route.js';

const errors = { 400: errorView, 404: errorView };

const consumerStatusView = z.object({
  topic: z.string(),
  total: z.number().int(),
  distribution: z.array(z.object({ version: z.number().int().nullable(), nodes: z.number().int() })),
  lagging: z.array(
    z.object({
      node: z.string(),
      app: z.string().optional(),
      region: z.string().optional(),
      cluster: z.string().optional(),
      currentVersion: z.number().int().optional(),
      targetVersion: z.number().int(),
      since: z.string(),
      lastSeen: z.string(),
    }),
  ),
});

/** Every REST v1 operation (DESIGN.md "REST surface"). Handlers only adapt to MeshpressService. */
export function v1Routes(service: MeshpressService): RouteSpec[] {
  return [
    defineRoute({
      method: 'PUT',
      url: '/v1/topics/:topic',
      operationId: 'putTopic',
      summary: 'Create a topic, or update its retention, kind and description',
      params: topicParams,
      body: putTopicBody,
      responses: { 200: topicView, 201: topicView, 400: errorView },
      async handler({ params, body, caller, reply }) {
        const { topic, created } = await service.putTopic(caller, { name: params.topic, ...body });
        reply.code(created ? 201 : 200);
        return toTopicView(topic);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics',
      operationId: 'listTopics',
      summary: 'List topics in name order',
      query: listTopicsQuery,
      responses: {
        200: z.object({ topics: z.array(topicView), nextAfter: z.string().optional() }),
        400: errorView,
      },
      async handler({ query, caller }) {
        const page = await service.listTopics(caller, query);
        return {
          topics: page.topics.map(toTopicView),
          ...(page.nextAfter ? { nextAfter: page.nextAfter } : {}),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic',
      operationId: 'getTopic',
      summary: 'Read a topic with its pins',
      params: topicParams,
      responses: { 200: z.object({ topic: topicView, pins: z.array(pinView) }), ...errors },
      async handler({ params, caller }) {
        const { topic, pins } = await service.getTopic(caller, params.topic);
        return { topic: toTopicView(topic), pins: pins.map(toPinView) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/topics/:topic/versions',
      operationId: 'publish',
      summary: 'Publish a version (JSON body, or raw bytes with any non-JSON Content-Type)',
      params: topicParams,
      body: publishBody,
      rawBody: true,
      responses: { 201: versionView, ...errors, 413: errorView, 422: errorView },
      async handler({ params, body, caller, request, reply }) {
        const { input, fieldOf } = Buffer.isBuffer(request.body)
          ? rawPublish(params.topic, request.body, request.query, request.headers['content-type'])
          : jsonPublish(params.topic, body!);
        const record = await service.publish(caller, input).catch((err: unknown) => {
          throw renameIssuePaths(err, fieldOf);
        });
        reply.code(201).header('location', `/v1/topics/${record.topic}/versions/${record.version}`);
        return toVersionView(record, { inlineData: false });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic/versions',
      operationId: 'listVersions',
      summary: 'Version history, newest first',
      params: topicParams,
      query: listVersionsQuery,
      responses: {
        200: z.object({ versions: z.array(versionView), nextBefore: z.number().int().optional() }),
        ...errors,
      },
      async handler({ params, query, caller }) {
        const page = await service.listVersions(caller, { topic: params.topic, ...query });
        return {
          versions: page.versions.map((v) => toVersionView(v, { inlineData: false })),
          ...(page.nextBefore === undefined ? {} : { nextBefore: page.nextBefore }),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic/versions/:version',
      operationId: 'getVersion',
      summary: "One version's record (inline payloads included, base64)",
      params: versionParams,
      responses: { 200: versionView, ...errors },
      async handler({ params, caller }) {
        return toVersionView(await service.getVersion(caller, params), { inlineData: true });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic/versions/:version/data',
      operationId: 'getVersionData',
      summary: "A version's payload bytes, verified against its sha256",
      params: versionParams,
      responses: { 200: undefined, ...errors },
      async handler({ params, caller, reply }) {
        const { record, data } = await service.getVersionData(caller, params);
        reply
          .header('content-type', record.contentType)
          .header('etag', `"${record.sha256}"`)
          .header('x-meshpress-sha256', record.sha256)
          .header('x-meshpress-version', String(record.version));
        return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/topics/:topic/versions/:version/scopes',
      operationId: 'addScopes',
      summary: 'Make an existing version visible to more scopes',
      params: versionParams,
      body: addScopesBody,
      responses: { 200: versionView, ...errors },
      async handler({ params, body, caller }) {
        const record = await service.addScopes(caller, { ...params, scopes: body.scopes });
        return toVersionView(record, { inlineData: false });
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/topics/:topic/pins/:scope',
      operationId: 'pin',
      summary: 'Pin a scope (`*` for the whole topic) to a version',
      params: pinParams,
      body: pinBody,
      responses: { 200: pinView, ...errors },
      async handler({ params, body, caller }) {
        return toPinView(await service.pin(caller, { ...params, ...body }));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/topics/:topic/pins/:scope',
      operationId: 'unpin',
      summary: 'Remove the pin of a scope',
      params: pinParams,
      query: unpinQuery,
      responses: { 200: z.object({ removed: z.boolean() }), ...errors },
      async handler({ params, query, caller }) {
        return service.unpin(caller, { ...params, ...query });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic/pin-history',
      operationId: 'pinHistory',
      summary: "The topic's pins set and removed, who did it and why, newest first",
      params: topicParams,
      query: pinHistoryQuery,
      responses: { 200: z.object({ topic: z.string(), events: z.array(pinEventView) }), ...errors },
      async handler({ params, query, caller }) {
        const events = await service.pinHistory(caller, { topic: params.topic, ...query });
        return { topic: params.topic, events: events.map(toPinEventView) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic/resolve',
      operationId: 'resolve',
      summary: 'The version an identity gets now, or got at an instant',
      params: topicParams,
      query: resolveQuery,
      responses: {
        200: z.object({
          topic: z.string(),
          target: z
            .object({
              version: z.number().int(),
              pinned: z.boolean(),
              scope: z.string(),
              record: versionView.optional(),
            })
            .nullable(),
        }),
        ...errors,
      },
      async handler({ params, query, caller }) {
        const { at, ...identity } = query;
        const result = await service.resolve(caller, { topic: params.topic, identity, at });
        const target = result.target;
        return {
          topic: result.topic,
          target: target
            ? {
                version: target.version,
                pinned: target.pinned,
                scope: target.scope,
                ...(target.record ? { record: toVersionView(target.record, { inlineData: false }) } : {}),
              }
            : null,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/topics/:topic/consumers',
      operationId: 'consumers',
      summary:
        'Version distribution of the nodes consuming a topic, and the nodes lagging behind their target',
      params: topicParams,
      responses: { 200: consumerStatusView, ...errors },
      async handler({ params, caller }) {
        const status = await service.consumers(caller, params);
        const iso = (ms: number) => new Date(ms).toISOString();
        return {
          ...status,
          lagging: status.lagging.map((n) => ({ ...n, since: iso(n.since), lastSeen: iso(n.lastSeen) })),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/poll',
      operationId: 'poll',
      summary: 'Updates for the topics a node consumes (204 when none); waitMs holds the request until one',
      body: pollBody,
      responses: { 200: z.object({ updates: z.array(pollUpdateView) }), 204: undefined, 400: errorView },
      validatedByService: true,
      async handler({ body, caller, reply }) {
        const updates = await pollUntilAnswered(service, caller, body, reply.raw);
        if (updates.length === 0) return reply.code(204).send();
        return reply.type('application/json; charset=utf-8').send(pollResponseBody(updates).json);
      },
    }),
  ];
}
