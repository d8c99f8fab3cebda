/** Who sent a request, from headers (REST) or metadata (gRPC). Never trusted for more than the authorizer allows. */
export interface Caller {
  /** Authenticated or asserted principal (user, pipeline); `anonymous` when absent. */
  readonly principal: string;
  /** The calling application, used to key rate limits. */
  readonly app?: string | undefined;
  /** Correlates logs of one request. */
  readonly requestId: string;
}

export type Action =
  | 'topic.write'
  | 'topic.read'
  | 'version.publish'
  | 'version.read'
  | 'scope.add'
  | 'pin.write'
  | 'consume';

/**
 * The single access-control hook every operation passes through, REST and gRPC alike. Throw
 * ForbiddenError (or UnauthenticatedError) to refuse.
 */
export interface Authorizer {
  authorize(caller: Caller, action: Action, topic?: string): void | Promise<void>;
}

export const allowAll: Authorizer = { authorize: () => undefined };
