import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import {
  type HeaderLookup,
  type MeshVirtualNode,
  pickTarget,
  type RouteDecision,
  type RoutesSnapshot,
  type RouteTarget,
} from '../mesh/index.js';
import type { Cancellation } from './cancellation.js';
import {
  NO_ROUTES,
  noHealthyUpstream,
  overflow,
  type Rejection,
  rateLimited,
  routeNotFound,
} from './errors.js';
import { APP_HEADER, ATTEMPT_HEADER, PRINCIPAL_HEADER } from './headers.js';
import { localRefusal } from './local-refusal.js';
import type { NodeRegistry, NodeRuntime } from './node-registry.js';
import { classifyUpstreamError } from './retry-policy.js';
import {
  type AttemptResult,
  PER_TRY_TIMEOUT,
  type RetryOutcome,
  ROUTE_TIMEOUT,
  runWithRetries,
} from './retry-runner.js';
import {
  type AppliedVersion,
  INITIAL_ROUTES_STATE,
  nextRoutesState,
  type RoutesState,
} from './routes-state.js';
import type { RouteCounters, SidecarStats, TargetCounters } from './stats.js';
import type { Upstream, UpstreamResponse } from './upstream.js';

/** A request's decision, fixed at its start: everything after uses only `state`'s snapshot. */
export type OutboundPlan =
  | {
      readonly kind: 'forward';
      readonly state: RoutesState;
      readonly decision: RouteDecision;
      readonly target: RouteTarget;
    }
  | {
      readonly kind: 'rejected';
      readonly state: RoutesState;
      readonly rejection: Rejection;
      /** Set when a route matched (e.g. rate limited). */
      readonly decision?: RouteDecision;
    };

/** The parts of the downstream request that go upstream, minus the per-attempt headers. */
export interface OutboundRequest {
  readonly method: string;
  readonly path: string;
  /** Flat list, hop-by-hop and identity headers already removed. */
  readonly headers: readonly string[];
  /** A buffer can be sent by every attempt; a stream only once (routes that never retry). */
  readonly body: Buffer | Readable | undefined;
}

export interface OutboundProxyOptions {
  readonly clock: Clock;
  readonly random: () => number;
  readonly upstream: Upstream;
  readonly nodes: NodeRegistry;
  readonly stats: SidecarStats;
  /** Stamped as x-meshpress-app on every upstream request (the caller's claim is dropped). */
  readonly app?: string | undefined;
  /** Stamped as x-meshpress-principal when set. */
  readonly principal?: string | undefined;
}

const TIMEOUT_FAILURE: AttemptResult<never> = Object.freeze({ kind: 'failure', failure: 'timeout' });

/**
 * How long a discarded response body (one retried past) may keep arriving before it is abandoned with
 * its connection. Reading off the rest lets the connection be reused, which is worth it only when the
 * rest is about to arrive; an upstream that stalls mid-body would otherwise hold the connection and the
 * circuit slot (that the retry may be waiting for) until it closes the connection itself. Envoy resets
 * such a response at once.
 */
export const DISCARD_DRAIN_MS = 100;

/**
 * The outbound half of the sidecar, without HTTP plumbing: `plan` reads the current routes state once
 * and decides route, rate limit and target; `execute` runs the attempts on that plan's snapshot alone
 * (retries, per-try and route timeouts, circuit breaking, outlier ejection). A swap between or during
 * the two changes nothing for a request already planned.
 */
export class OutboundProxy {
  #state: RoutesState = INITIAL_ROUTES_STATE;
  readonly #o: OutboundProxyOptions;
  readonly #stamp: readonly string[];

  constructor(options: OutboundProxyOptions) {
    this.#o = options;
    this.#stamp = Object.freeze([
      ...(options.app === undefined ? [] : [APP_HEADER, options.app]),
      ...(options.principal === undefined ? [] : [PRINCIPAL_HEADER, options.principal]),
    ]);
  }

  /** The routes state in force now. */
  get state(): RoutesState {
    return this.#state;
  }

  /** Swaps in a new snapshot: one assignment. Requests already planned keep theirs. */
  swap(snapshot: RoutesSnapshot, applied: AppliedVersion): RoutesState {
    const state = nextRoutesState(this.#state, snapshot, applied, this.#o.clock);
    this.#state = state;
    this.#o.stats.swaps.routes++;
    this.#o.nodes.prune(snapshot);
    this.#o.upstream.retain(wantedPools(snapshot));
    return state;
  }

  /** Decides a request on the snapshot in force now: the one read of the routes state per request. */
  plan(method: string, path: string, headers: HeaderLookup): OutboundPlan {
    const state = this.#state;
    const snapshot = state.snapshot;
    if (snapshot.empty) return { kind: 'rejected', state, rejection: NO_ROUTES };
    const decision = snapshot.route(method, path, headers);
    if (decision === undefined) return { kind: 'rejected', state, rejection: routeNotFound(method, path) };
    const counters = this.#o.stats.route(decision.route);
    counters.requests++;
    const bucket = state.bucket;
    if (bucket !== undefined && !bucket.tryTake()) {
      counters.rateLimited++;
      return { kind: 'rejected', state, decision, rejection: rateLimited(bucket.msUntilToken()) };
    }
    return { kind: 'forward', state, decision, target: pickTarget(decision, this.#o.random()) };
  }

  /**
   * Runs a planned request's attempts. `controller` is the request's own: abort it (with CANCELLED)
   * when the caller goes away; the route timeout aborts it too.
   */
  execute(
    plan: Extract<OutboundPlan, { kind: 'forward' }>,
    request: OutboundRequest,
    controller: Cancellation,
  ): Promise<RetryOutcome<UpstreamResponse>> {
    const { decision, target } = plan;
    const routeCounters = this.#o.stats.route(decision.route);
    const targetCounters = this.#o.stats.target(target.virtualNode);
    targetCounters.requests++;
    return runWithRetries<UpstreamResponse>({
      clock: this.#o.clock,
      random: this.#o.random,
      timeoutMs: decision.timeoutMs,
      policy: decision.retryPolicy,
      controller,
      attempt: (attempt, attemptSignal) =>
        this.#attempt(target.node, targetCounters, request, attempt, attemptSignal),
      discard: this.#discard,
      onRetry: () => countRetry(routeCounters),
    });
  }

  async #attempt(
    node: MeshVirtualNode,
    counters: TargetCounters,
    request: OutboundRequest,
    attempt: number,
    signal: Cancellation,
  ): Promise<AttemptResult<UpstreamResponse>> {
    const runtime = this.#o.nodes.get(node.name);
    const admission = runtime.circuit.acquire(node.connectionPool);
    if (admission.kind === 'overflow') {
      counters.overflow++;
      return { kind: 'local', rejection: overflow(node.name, admission.limit) };
    }
    if (admission.kind === 'queued' && !(await admission.waiter.wait(signal))) return TIMEOUT_FAILURE;
    const endpoint = runtime.outliers.pick(node);
    if (endpoint === undefined) {
      runtime.circuit.release();
      counters.noHealthyUpstream++;
      return { kind: 'local', rejection: noHealthyUpstream(node.name) };
    }
    counters.attempts++;
    const headers = [...request.headers, ...this.#stamp, ATTEMPT_HEADER, String(attempt)];
    let response: UpstreamResponse;
    try {
      response = await this.#o.upstream.send(
        endpoint,
        node.connectionPool.maxConnections,
        { method: request.method, path: request.path, headers, body: request.body },
        signal,
      );
    } catch (error) {
      runtime.circuit.release();
      // Timeouts count against the endpoint; a caller that went away says nothing about it.
      if (signal.aborted) {
        if (signal.reason === PER_TRY_TIMEOUT || signal.reason === ROUTE_TIMEOUT)
          this.#error(runtime, node, endpoint, counters);
        return TIMEOUT_FAILURE;
      }
      // Refused by undici before sending: the caller's request is at fault, not the endpoint, and a
      // retry would be refused the same way.
      const refusal = localRefusal(error);
      if (refusal !== undefined) return { kind: 'local', rejection: refusal };
      this.#error(runtime, node, endpoint, counters);
      return { kind: 'failure', failure: classifyUpstreamError(error), error };
    }
    // The connection slot is held until the body is done with.
    response.body.onClose(runtime.circuit.releaser);
    if (response.statusCode >= 500) this.#error(runtime, node, endpoint, counters);
    else runtime.outliers.recordSuccess(endpoint);
    return { kind: 'response', status: response.statusCode, response };
  }

  /** Throws away a response that will not be used; bound once, as the runner's `discard`. */
  readonly #discard = (response: UpstreamResponse): void => {
    const body = response.body;
    body.discard();
    // Usually the whole body came with the headers and it is closed already.
    if (!body.closed) this.#o.clock.setTimeout(() => body.destroy(), DISCARD_DRAIN_MS);
  };

  #error(
    runtime: NodeRuntime,
    node: MeshVirtualNode,
    endpoint: Parameters<NodeRuntime['outliers']['recordError']>[0],
    counters: TargetCounters,
  ): void {
    counters.errors++;
    if (runtime.outliers.recordError(endpoint, node)) counters.ejections++;
  }
}

function countRetry(counters: RouteCounters): void {
  counters.retries++;
}

function* wantedPools(snapshot: RoutesSnapshot) {
  for (const node of snapshot.virtualNodes)
    for (const endpoint of node.endpoints)
      yield { endpoint, maxConnections: node.connectionPool.maxConnections };
}
