import { createServer } from 'node:http';
import { MalformedRequestError, PayloadTooLargeError, parseOrThrow } from '@meshpress/client';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { requestIdFrom } from '../core/request-id.js';
import type { MeshpressService } from '../core/service.js';
import type { AppConcurrencyLimiter } from '../limits/app-concurrency-limiter.js';
import { installRestLimiter } from '../limits/rest-limiter.js';
import type { ServerMetrics } from '../metrics.js';
import { callerFromHeaders } from './caller-headers.js';
import { failedRequest } from './failed-request.js';
import { buildOpenApi } from './openapi.js';
import { PollFastPath } from './poll-fast-path.js';
import { MAX_PATH_PARAM_LENGTH } from './request-schemas.js';
import { connectionsCheckingInterval, requestTimeoutSchema } from './request-timeout.js';
import { registerRoute } from './route.js';
import { badUrl, paramTooLong } from './router-errors.js';
import { v1Routes } from './routes.js';

export interface RestAppOptions {
  readonly service: MeshpressService;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly version: string;
  readonly exposeOpenApi: boolean;
  /** Reports readiness for /healthz (e.g. false while draining). */
  readonly isReady: () => boolean;
  /** Per-app concurrency limits; undefined leaves every caller unlimited. */
  readonly limiter?: AppConcurrencyLimiter | undefined;
  /** How long a request may take to arrive in full (see DEFAULT_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number | undefined;
}

/** The REST adapter: decodes requests, calls the service, encodes results and errors. */
export function buildRestApp(options: RestAppOptions): FastifyInstance {
  const { service, metrics } = options;
  const requestTimeout = parseOrThrow(
    requestTimeoutSchema,
    options.requestTimeoutMs,
    'REST options',
    'requestTimeoutMs',
  );
  const routes = v1Routes(service);
  const routeUrls = routes.map((route) => route.url);
  // JSON bodies carry base64 payloads (4/3 of the bytes) plus the envelope.
  const bodyLimit = Math.ceil(service.maxPayloadBytes * 1.34) + 64 * 1024;
  const pollFastPath = new PollFastPath({
    service,
    metrics,
    logger: options.logger,
    limiter: options.limiter,
    isReady: options.isReady,
  });
  const app = Fastify({
    // Polls are answered before Fastify routes them (see PollFastPath); everything else goes to Fastify.
    serverFactory: (fastifyHandler, settings) => {
      // The timeouts Fastify applies to the servers it creates itself (its defaults unless set below).
      const timeouts = settings as {
        keepAliveTimeout: number;
        requestTimeout: number;
        connectionTimeout: number;
      };
      // Given at creation, so Node also checks for expired requests often enough to honour a short one.
      const server = createServer(
        {
          requestTimeout: timeouts.requestTimeout,
          connectionsCheckingInterval: connectionsCheckingInterval(timeouts.requestTimeout),
        },
        (request, response) => {
          if (!pollFastPath.handle(request, response)) fastifyHandler(request, response);
        },
      );
      server.keepAliveTimeout = timeouts.keepAliveTimeout;
      server.setTimeout(timeouts.connectionTimeout);
      return server;
    },
    // Covers receiving the request only (a held long-poll has been received in full); see request-timeout.ts.
    requestTimeout,
    // Every valid topic and scope must reach its route (find-my-way's default stops at 100 characters).
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Failures met while routing (no route runs, so no hook either) answer in the meshpress format too.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      if (!options.isReady()) reply.header('connection', 'close');
      answerFailure(fromRouter(error, request.url, routeUrls), request, reply);
    },
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: false }),
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
  const pollOutcome = metrics.pollOutcomes('rest');
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

  if (options.limiter) installRestLimiter(app, options.limiter);
  for (const route of routes)
    registerRoute(app, route, (request) => callerFromHeaders(request.headers, request.id));

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
    answerFailure(fromFastify(rawError, request, service.maxPayloadBytes), request, reply);
  });

  function answerFailure(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const failure = failedRequest(error, metrics, request.log);
    if (failure.retryAfter !== undefined) reply.header('retry-after', failure.retryAfter);
    reply.code(failure.status).send(failure.body);
  }

  return app;
}

/** The router's own failures, met before any route or hook runs. */
function fromRouter(error: FastifyError, url: string, routeUrls: readonly string[]): unknown {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return badUrl();
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return paramTooLong(url, routeUrls, MAX_PATH_PARAM_LENGTH);
    default:
      return error;
  }
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
