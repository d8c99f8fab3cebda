import { MalformedRequestError, PayloadTooLargeError } from '@meshpress/client';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Caller } from '../core/caller.js';
import { asMeshpressError, ERROR_STATUS } from '../core/error-status.js';
import { callerName, requestIdFrom } from '../core/request-id.js';
import type { MeshpressService } from '../core/service.js';
import type { ServerMetrics } from '../metrics.js';
import { buildOpenApi } from './openapi.js';
import { registerRoute } from './route.js';
import { v1Routes } from './routes.js';

export interface RestAppOptions {
  readonly service: MeshpressService;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly version: string;
  readonly exposeOpenApi: boolean;
  /** Reports readiness for /healthz (e.g. false while draining). */
  readonly isReady: () => boolean;
}

/** The REST adapter: decodes requests, calls the service, encodes results and errors. */
export function buildRestApp(options: RestAppOptions): FastifyInstance {
  const { service, metrics } = options;
  // JSON bodies carry base64 payloads (4/3 of the bytes) plus the envelope.
  const bodyLimit = Math.ceil(service.maxPayloadBytes * 1.34) + 64 * 1024;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    requestIdLogLabel: 'requestId',
    disableRequestLogging: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: service.maxPayloadBytes },
    (_req, body, done) => done(null, body),
  );

  // Callback-style hooks: an async hook costs a promise and a microtask per request on the poll path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // While draining, answer in-flight requests (released long-polls among them) with Connection: close so
  // keep-alive sockets do not hold the shutdown open.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!options.isReady()) reply.header('connection', 'close');
    done(null, payload);
  });
  // Label lookups cost a hash per call; on the poll path they are resolved once.
  const durationOf = new Map<string, ReturnType<typeof metrics.requestDuration.labels>>();
  const pollOutcome = {
    update: metrics.polls.labels('rest', 'update'),
    none: metrics.polls.labels('rest', 'none'),
    error: metrics.polls.labels('rest', 'error'),
  };
  app.addHook('onResponse', (request, reply, done) => {
    const operation = request.routeOptions.url ?? 'unknown';
    let duration = durationOf.get(operation);
    if (!duration) durationOf.set(operation, (duration = metrics.requestDuration.labels('rest', operation)));
    duration.observe(reply.elapsedTime / 1000);
    if (operation === '/v1/poll')
      (reply.statusCode === 200
        ? pollOutcome.update
        : reply.statusCode === 204
          ? pollOutcome.none
          : pollOutcome.error
      ).inc();
    done();
  });

  const callerOf = (request: FastifyRequest): Caller => ({
    principal: callerName(request.headers['x-meshpress-principal']) ?? 'anonymous',
    app: callerName(request.headers['x-meshpress-app']),
    requestId: request.id,
  });

  const routes = v1Routes(service);
  for (const route of routes) registerRoute(app, route, callerOf);

  app.get('/healthz', async (_request, reply) => {
    const ready = options.isReady();
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ok' : 'draining', heldPolls: service.heldPolls });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  if (options.exposeOpenApi) {
    const document = buildOpenApi(routes, { title: 'meshpress', version: options.version });
    app.get('/openapi.json', async () => document);
  }

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?')[0]}` },
    });
  });

  app.setErrorHandler((rawError: FastifyError, request, reply) => {
    const error = asMeshpressError(fromFastify(rawError, request, service.maxPayloadBytes));
    const status = ERROR_STATUS[error.code].http;
    metrics.errors.inc({ code: error.code, transport: 'rest' });
    if (status >= 500) request.log.error({ err: rawError, code: error.code }, 'request failed');
    else request.log.info({ code: error.code, message: error.message }, 'request rejected');
    if (error.code === 'TOO_MANY_REQUESTS') {
      const retryAfterMs = (error.details as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 1000;
      reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    }
    reply.code(status).send({ error: error.toJSON() });
  });

  return app;
}

/** Fastify's own failures (malformed JSON, body too large, bad content type) in meshpress terms. */
function fromFastify(error: FastifyError, request: FastifyRequest, maxPayloadBytes: number): unknown {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MalformedRequestError(error.message, { cause: error });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(
        Number(request.headers['content-length'] ?? Number.NaN),
        maxPayloadBytes,
      );
    default:
      if (error.statusCode === 400 && error.name === 'SyntaxError')
        return new MalformedRequestError(error.message);
      return error;
  }
}
