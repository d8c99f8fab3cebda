import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { HeaderLookup, MeshRetryPolicy } from '../mesh/index.js';
import { Cancellation } from './cancellation.js';
import { type Rejection, rejection } from './errors.js';
import {
  ATTEMPTS_HEADER,
  forwardedRequestHeaders,
  forwardedResponseHeaderList,
  headerValue,
  ROUTE_HEADER,
  ROUTES_VERSION_HEADER,
  TARGET_HEADER,
} from './headers.js';
import type { OutboundPlan, OutboundProxy } from './outbound-proxy.js';
import { hasBody, readBody, requestBodyStream } from './request-body.js';
import { writeRejection } from './respond.js';
import type { AttemptFailure } from './retry-policy.js';
import { CANCELLED } from './retry-runner.js';
import { type SidecarStats, statusClass } from './stats.js';

const BODY_TOO_LARGE = (limit: number) =>
  rejection(413, 'BODY_TOO_LARGE', `the request body exceeds ${limit} bytes`, { details: { limit } });
const BAD_REQUEST = rejection(400, 'BAD_REQUEST', 'the request body could not be read');
const ROUTE_TIMEOUT_REJECTION = rejection(504, 'UPSTREAM_TIMEOUT', 'the route timeout passed');

const FAILURE_REJECTIONS: Readonly<Record<AttemptFailure, Rejection>> = {
  timeout: rejection(504, 'UPSTREAM_TIMEOUT', 'the upstream did not answer within the per-try timeout'),
  'connect-failure': rejection(503, 'UPSTREAM_CONNECT_FAILURE', 'could not connect to the upstream'),
  reset: rejection(503, 'UPSTREAM_RESET', 'the upstream reset the connection before responding'),
  'refused-stream': rejection(503, 'UPSTREAM_RESET', 'the upstream refused the stream'),
};

export interface OutboundHandlerOptions {
  readonly proxy: OutboundProxy;
  readonly stats: SidecarStats;
  readonly maxRequestBodyBytes: number;
}

/** The headers that tell the caller which snapshot decided its request. */
function decisionHeaders(plan: OutboundPlan, attempts?: number): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const version = plan.state.versionHeader;
  if (version !== undefined) headers[ROUTES_VERSION_HEADER] = version;
  const decision = plan.decision;
  if (decision !== undefined) headers[ROUTE_HEADER] = decision.route;
  if (plan.kind === 'forward') headers[TARGET_HEADER] = plan.target.virtualNode;
  if (attempts !== undefined && attempts > 0) headers[ATTEMPTS_HEADER] = String(attempts);
  return headers;
}

/** The same for an upstream response, as a flat list. */
function decisionHeaderList(plan: Extract<OutboundPlan, { kind: 'forward' }>, attempts: number): string[] {
  const version = plan.state.versionHeader;
  const headers = version === undefined ? [] : [ROUTES_VERSION_HEADER, version];
  headers.push(ROUTE_HEADER, plan.decision.route, TARGET_HEADER, plan.target.virtualNode);
  if (attempts > 0) headers.push(ATTEMPTS_HEADER, String(attempts));
  return headers;
}

/**
 * HTTP plumbing of the outbound listener: plan (the snapshot read), take the body, execute, then stream
 * the chosen response back with the decision headers. Sidecar-generated answers use the meshpress
 * error shape and carry `x-meshpress-error`.
 *
 * A request body is buffered (up to `maxRequestBodyBytes`) when the route may retry, so that a retry
 * can send it again; on a route that makes one attempt only it is streamed upstream as it arrives.
 */
export async function handleOutbound(
  o: OutboundHandlerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  const headers = req.headers;
  const lookup: HeaderLookup = (name) => headerValue(headers, name);
  const plan = o.proxy.plan(method, path, lookup);

  if (plan.kind === 'rejected') {
    req.resume();
    respondRejected(o.stats, res, plan, plan.rejection);
    return;
  }

  const caller = new Cancellation();
  // `on`, not `once`: 'close' comes once, and `once` would wrap the listener for every request.
  res.on('close', () => {
    if (!res.writableFinished) caller.abort(CANCELLED);
  });
  let body: Buffer | Readable | undefined;
  let streamed: Readable | undefined;
  if (!hasBody(req)) req.resume();
  else if (!mayRetry(plan.decision.retryPolicy)) {
    streamed = requestBodyStream(req);
    body = streamed;
  } else {
    const read = await readBody(req, o.maxRequestBodyBytes);
    if (read.kind !== 'ok') {
      // An unread body would be parsed as the next request: this connection cannot be reused.
      res.shouldKeepAlive = false;
      respondRejected(
        o.stats,
        res,
        plan,
        read.kind === 'too-large' ? BODY_TOO_LARGE(o.maxRequestBodyBytes) : BAD_REQUEST,
      );
      return;
    }
    body = read.body;
  }

  const outcome = await o.proxy.execute(
    plan,
    {
      method,
      path,
      headers: forwardedRequestHeaders(
        req.rawHeaders,
        headerValue(headers, 'connection'),
        true,
        streamed !== undefined,
      ),
      body,
    },
    caller,
  );
  // A body that never went upstream (refused, timed out while queued) is read off and thrown away.
  if (streamed !== undefined && outcome.kind !== 'response') streamed.destroy();
  const routeCounters = o.stats.route(plan.decision.route);

  switch (outcome.kind) {
    case 'response': {
      const { response } = outcome;
      if (res.destroyed) {
        response.body.destroy();
        outcome.settle();
        return;
      }
      routeCounters.responses[statusClass(outcome.status)]++;
      res.writeHead(
        outcome.status,
        forwardedResponseHeaderList(response.headers, decisionHeaderList(plan, outcome.attempts)),
      );
      response.body.pipeTo(res, outcome.settle);
      return;
    }
    case 'local':
      respondRejected(o.stats, res, plan, outcome.rejection, outcome.attempts);
      return;
    case 'failure':
      if (outcome.failure === 'timeout') routeCounters.timeouts++;
      respondRejected(o.stats, res, plan, FAILURE_REJECTIONS[outcome.failure], outcome.attempts);
      return;
    case 'timeout':
      routeCounters.timeouts++;
      respondRejected(o.stats, res, plan, ROUTE_TIMEOUT_REJECTION, outcome.attempts);
      return;
    case 'cancelled':
      // Nobody is listening: make sure the connection goes away.
      res.destroy();
      return;
  }
}

/** Whether a request on a route with this policy may be sent more than once. */
function mayRetry(policy: MeshRetryPolicy | undefined): boolean {
  return policy !== undefined && policy.maxRetries > 0;
}

function respondRejected(
  stats: SidecarStats,
  res: ServerResponse,
  plan: OutboundPlan,
  r: Rejection,
  attempts?: number,
): void {
  stats.reject(r.code);
  if (plan.decision !== undefined) stats.route(plan.decision.route).responses[statusClass(r.status)]++;
  writeRejection(res, r, decisionHeaders(plan, attempts));
}
