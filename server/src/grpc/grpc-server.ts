import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { loadMeshpressProto } from '@meshpress/client';
import type { Logger } from 'pino';
import type { MeshpressService } from '../core/service.js';
import type { AppConcurrencyLimiter } from '../limits/app-concurrency-limiter.js';
import type { ServerMetrics } from '../metrics.js';
import { safeDeserializer } from './errors.js';
import { meshpressHandlers } from './handlers.js';
import { MeshpressHealth } from './health.js';

/** Room for a publish request's envelope (scopes, metadata, s3 locations) around the largest payload. */
export const REQUEST_ENVELOPE_BYTES = 1024 * 1024;

export interface GrpcServerOptions {
  readonly service: MeshpressService;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly host: string;
  /** 0 lets the OS choose; the chosen port is returned. */
  readonly port: number;
  readonly limiter?: AppConcurrencyLimiter | undefined;
}

export interface RunningGrpcServer {
  readonly port: number;
  /** Health answer for '' and meshpress.v1.Meshpress: SERVING, or NOT_SERVING while draining. */
  setServing(serving: boolean): void;
  /**
   * Stops accepting calls and waits for in-flight ones up to `graceMs`, then cancels what is left.
   * Idempotent: later calls return the first call's promise.
   */
  close(graceMs: number): Promise<void>;
}

/** The gRPC adapter: meshpress.v1.Meshpress plus the standard health service, on one port. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { service, metrics, logger } = options;
  const server = new Server({
    // A payload at the service's limit must reach the service, which answers PAYLOAD_TOO_LARGE with the
    // stable code for anything bigger; grpc-js itself refuses (RESOURCE_EXHAUSTED) beyond the envelope.
    'grpc.max_receive_message_length': service.maxPayloadBytes + REQUEST_ENVELOPE_BYTES,
  });
  server.addService(
    withSafeDeserializers(loadMeshpressProto().service),
    meshpressHandlers({ metrics, logger, limiter: options.limiter }, service),
  );
  const health = new MeshpressHealth();
  health.addTo(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${bracketed(options.host)}:${options.port}`,
      ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    );
  });
  logger.info({ host: options.host, port }, 'grpc listening');

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      health.setServing(false);
      const force = setTimeout(() => {
        logger.warn({ graceMs }, 'grpc calls still running after the grace period; cancelling them');
        server.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    return closing;
  };

  return { port, setServing: (serving) => health.setServing(serving), close };
}

/** Malformed request bytes become a MALFORMED_REQUEST answer in the handler instead of a bare INTERNAL. */
function withSafeDeserializers(service: ServiceDefinition): ServiceDefinition {
  const safe: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service))
    safe[name] = { ...method, requestDeserialize: safeDeserializer(method.requestDeserialize) };
  return safe as ServiceDefinition;
}

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
