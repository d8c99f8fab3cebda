import type { Metadata } from '@grpc/grpc-js';
import type { Caller } from '../core/caller.js';
import { callerName, requestIdFrom } from '../core/request-id.js';

/** The caller of a gRPC request, from the same keys REST reads as headers. */
export function callerFromMetadata(metadata: Metadata): Caller {
  return {
    principal: callerName(metadata.get('x-meshpress-principal')) ?? 'anonymous',
    app: callerName(metadata.get('x-meshpress-app')),
    requestId: requestIdFrom(metadata.get('x-request-id')[0]),
  };
}
