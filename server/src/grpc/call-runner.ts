import { performance } from 'node:perf_hooks';
import type { handleUnaryCall, Metadata, ServerUnaryCall, StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Caller } from '../core/caller.js';
import { asMeshpressError, ERROR_STATUS } from '../core/error-status.js';
import type { AppConcurrencyLimiter } from '../limits/app-concurrency-limiter.js';
import { withGrpcLimit } from '../limits/grpc-limit.js';
import type { ServerMetrics } from '../metrics.js';
import { callerFromMetadata } from './caller.js';
import { type MalformedMessage, requestIdTrailer, requireWellFormed, toGrpcStatus } from './errors.js';

export interface AdapterContext {
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** Per-app adaptive concurrency limit; none = unlimited. */
  readonly limiter?: AppConcurrencyLimiter | undefined;
}

/** What every call shares: its caller, its trailers, and how it is measured and how failures are reported. */
export class CallScope {
  readonly caller: Caller;
  readonly trailer: Metadata;
  readonly #started = performance.now();

  constructor(
    private readonly context: AdapterContext,
    readonly operation: string,
    metadata: Metadata,
  ) {
    this.caller = callerFromMetadata(metadata);
    this.trailer = requestIdTrailer(this.caller.requestId);
  }

  /** Any thrown value as a gRPC status, counted and logged (server faults as errors, rejections as info). */
  failure(err: unknown): Partial<StatusObject> {
    const error = asMeshpressError(err);
    this.context.metrics.errors.inc({ code: error.code, transport: 'grpc' });
    const fields = { requestId: this.caller.requestId, operation: this.operation, code: error.code };
    if (ERROR_STATUS[error.code].http >= 500)
      this.context.logger.error({ ...fields, err }, 'grpc call failed');
    else this.context.logger.info({ ...fields, message: error.message }, 'grpc call rejected');
    return toGrpcStatus(error, this.caller.requestId);
  }

  /** Latency is a duration, not an instant: measured on the monotonic timer, not the injected clock. */
  finished(): void {
    const seconds = (performance.now() - this.#started) / 1000;
    this.context.metrics.requestDuration.observe({ transport: 'grpc', operation: this.operation }, seconds);
  }
}

/** A unary handler that decodes, runs one service call and encodes; failures become statuses with trailers. */
export function unary<Req, Res>(
  context: AdapterContext,
  operation: string,
  run: (request: Req, scope: CallScope, call: ServerUnaryCall<Req | MalformedMessage, Res>) => Promise<Res>,
): handleUnaryCall<Req | MalformedMessage, Res> {
  return (call, callback) => {
    const scope = new CallScope(context, operation, call.metadata);
    const answer = async (): Promise<Res> => {
      const request = requireWellFormed(call.request, operation);
      if (!context.limiter) return run(request, scope, call);
      // A held long-poll occupies a slot on purpose; its duration says nothing about the server's latency.
      const held = operation === 'Poll' && ((request as { waitMs?: number | null }).waitMs ?? 0) > 0;
      return withGrpcLimit(context.limiter, scope.caller.app, () => run(request, scope, call), { held });
    };
    answer().then(
      (response) => {
        scope.finished();
        callback(null, response, scope.trailer);
      },
      (err: unknown) => {
        scope.finished();
        callback(scope.failure(err));
      },
    );
  };
}
