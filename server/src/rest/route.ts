import { parseOrThrow } from '@meshpress/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Caller } from '../core/caller.js';

export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly caller: Caller;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * One REST operation. The zod schemas are the single source of truth: they validate the request (each
 * bad field reported by its name in the operation's input, as the gRPC adapter does) and generate the OpenAPI
 * document.
 */
export interface RouteSpec<
  P extends Schema | undefined = Schema | undefined,
  Q extends Schema | undefined = Schema | undefined,
  B extends Schema | undefined = Schema | undefined,
> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Documented responses: status → schema (undefined = no JSON body). */
  readonly responses: Readonly<Record<number, Schema | undefined>>;
  /** Accepts raw (non-JSON) bodies too; the handler reads `request.body` as a Buffer. */
  readonly rawBody?: boolean;
  /**
   * The body schema documents the operation, but the service validates the body itself (the poll hot
   * path), so it is not parsed twice; the handler receives the decoded JSON as is.
   */
  readonly validatedByService?: boolean;
  handler(ctx: RouteContext<Out<P>, Out<Q>, Out<B>>): Promise<unknown>;
}

export function defineRoute<
  P extends Schema | undefined,
  Q extends Schema | undefined,
  B extends Schema | undefined,
>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

export function registerRoute(
  app: FastifyInstance,
  spec: RouteSpec,
  callerOf: (req: FastifyRequest) => Caller,
): void {
  app.route({
    method: spec.method,
    url: spec.url,
    handler: async (request, reply) => {
      const params = spec.params ? parseOrThrow(spec.params, request.params, 'path parameters') : undefined;
      const query = spec.query ? parseOrThrow(spec.query, request.query, 'query') : undefined;
      const body = spec.validatedByService
        ? request.body
        : spec.body && !Buffer.isBuffer(request.body)
          ? parseOrThrow(spec.body, request.body ?? {}, 'request body')
          : undefined;
      return spec.handler({ params, query, body, caller: callerOf(request), request, reply });
    },
  });
}
