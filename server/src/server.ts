import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@meshpress/client';
import pino, { type Logger } from 'pino';
import { openBlobStore, openChangeBus, openConsumerStatus, openLeadership, openStore } from './backends.js';
import type { BlobStore } from './blob/blob-store.js';
import type { ChangeBus } from './bus/change-bus.js';
import { parseServerConfig, type ServerConfig } from './config.js';
import type { Authorizer } from './core/caller.js';
import type { DocumentValidator } from './core/document-validator.js';
import { MeshpressService } from './core/service.js';
import { startGrpcServer } from './grpc/index.js';
import { AppConcurrencyLimiter, limiterOptionsFromConfig } from './limits/index.js';
import { ServerMetrics } from './metrics.js';
import { buildRestApp } from './rest/app.js';
import type { ConfigStore } from './store/config-store.js';
import { type FallbackWriter, startFallbackWriter } from './tasks/fallback-writer.js';
import { type Janitor, startJanitor } from './tasks/janitor.js';
import type { Leadership } from './tasks/leadership.js';
import { SERVER_VERSION } from './version.js';

/** Parts a caller may supply instead of the embedded defaults (tests, distributed mode). */
export interface ServerParts {
  readonly store?: ConfigStore;
  readonly blobs?: BlobStore;
  readonly bus?: ChangeBus;
  readonly leadership?: Leadership;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly authorizer?: Authorizer;
  readonly documentValidator?: DocumentValidator;
}

export interface RunningServer {
  readonly config: ServerConfig;
  /** e.g. http://127.0.0.1:8080 */
  readonly httpUrl: string;
  readonly httpPort: number;
  /** gRPC target, e.g. 127.0.0.1:9090 */
  readonly grpcAddress: string;
  readonly grpcPort: number;
  readonly service: MeshpressService;
  readonly metrics: ServerMetrics;
  /** Present when this instance runs the tasks role with the janitor enabled. */
  readonly janitor: Janitor | undefined;
  /** Per-app concurrency limiter; undefined when MESHPRESS_LIMIT_ENABLED=false. */
  readonly limiter: AppConcurrencyLimiter | undefined;
  /** Present when this instance runs the tasks role. */
  readonly fallbackWriter: FallbackWriter | undefined;
  /**
   * Graceful shutdown: stop accepting, release held long-polls, let in-flight requests finish (up to the
   * grace period), then close the stores. Idempotent.
   */
  close(): Promise<void>;
}

/** Starts a meshpress server. With no parts given it runs the embedded default under `config.dataDir`. */
export async function startServer(
  configInput: Partial<ServerConfig> = {},
  parts: ServerParts = {},
): Promise<RunningServer> {
  const config = parseServerConfig(configInput);
  const logger =
    parts.logger ??
    pino({ level: config.logLevel, base: { service: 'meshpress' }, redact: ['req.headers.authorization'] });
  const clock = parts.clock ?? systemClock;
  const instanceId = config.instanceId ?? randomUUID();
  const deps = { instanceId, clock, logger };
  // Everything opened so far, closed in reverse order when a later step fails: a start that fails leaves
  // no listener bound, no connection open and no timer running. Parts the caller handed in are included,
  // as close() would close them.
  const opened: (() => unknown)[] = [];
  const track = <T>(value: T, close: (value: T) => unknown): T => {
    opened.push(() => close(value));
    return value;
  };
  try {
    const store = track(parts.store ?? (await openStore(config, clock)), (s) => s.close());
    const blobs = track(parts.blobs ?? openBlobStore(config), (b) => b.close());
    const bus = track(parts.bus ?? openChangeBus(config, deps), (b) => b.close());
    const leadership = track(parts.leadership ?? openLeadership(config, deps), (l) => l.close?.());
    const consumerStatus = track(openConsumerStatus(config, deps), (c) => c.close());
    const metrics = new ServerMetrics({ defaultMetrics: true });

    const service = track(
      new MeshpressService({
        store,
        blobs,
        bus,
        clock,
        logger,
        metrics,
        instanceId,
        authorizer: parts.authorizer,
        documentValidator: parts.documentValidator,
        inlineLimitBytes: config.inlineLimitBytes,
        maxPayloadBytes: config.maxPayloadBytes,
        refreshIntervalMs: config.refreshIntervalMs,
        cacheReverifyAfterMs: config.cacheReverifyAfterMs,
        consumerStatus,
        consumerLagGraceMs: config.consumerLagGraceMs,
        roles: config.roles,
      }),
      (s) => s.close(),
    );

    let draining = false;
    const limiterOptions = limiterOptionsFromConfig(config);
    const limiter = limiterOptions ? new AppConcurrencyLimiter({ ...limiterOptions, clock }) : undefined;
    const rest = track(
      buildRestApp({
        service,
        metrics,
        logger,
        version: SERVER_VERSION,
        exposeOpenApi: config.exposeOpenApi,
        requestTimeoutMs: config.requestTimeoutMs,
        isReady: () => !draining,
        limiter,
      }),
      (r) => r.close(),
    );
    await rest.listen({ host: config.host, port: config.httpPort });
    const address = rest.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;
    const grpc = track(
      await startGrpcServer({
        service,
        metrics,
        logger,
        host: config.host,
        port: config.grpcPort,
        limiter,
      }),
      (g) => g.close(0),
    );

    const fallbackWriter: FallbackWriter | undefined = config.roles.includes('tasks')
      ? track(
          startFallbackWriter({
            store,
            blobs,
            clock,
            logger,
            leadership,
            instanceId,
            intervalMs: config.fallbackIntervalMs,
            key: config.fallbackKey,
          }),
          (w) => w.close(),
        )
      : undefined;

    const janitor: Janitor | undefined =
      config.roles.includes('tasks') && config.janitorEnabled
        ? track(
            startJanitor({
              store,
              blobs,
              clock,
              logger,
              leadership,
              instanceId,
              intervalMs: config.janitorIntervalMs,
            }),
            (j) => j.close(),
          )
        : undefined;

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        draining = true;
        grpc.setServing(false);
        service.close();
        const graceful = Promise.all([rest.close(), grpc.close(config.shutdownGraceMs)]);
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
        await Promise.race([graceful, timeout]);
        await Promise.all([fallbackWriter?.close(), janitor?.close()]);
        await Promise.allSettled([
          bus.close(),
          consumerStatus.close(),
          leadership.close?.(),
          blobs.close(),
          store.close(),
        ]);
        logger.info('meshpress stopped');
      })();
      return closing;
    };

    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      config,
      httpUrl: `http://${host}:${httpPort}`,
      httpPort,
      grpcAddress: `${host}:${grpc.port}`,
      grpcPort: grpc.port,
      service,
      metrics,
      fallbackWriter,
      janitor,
      limiter,
      close,
    };
  } catch (err) {
    for (const close of opened.reverse()) {
      try {
        await close();
      } catch (cleanupErr) {
        logger.warn({ err: cleanupErr }, 'cleanup after a failed start failed');
      }
    }
    throw err;
  }
}
