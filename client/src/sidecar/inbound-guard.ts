import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { EMPTY_POLICY_SNAPSHOT, type PolicySnapshot } from '../mesh/index.js';
import { Cancellation } from './cancellation.js';
import { forbidden, rejection } from './errors.js';
import {
  APP_HEADER,
  forwardedRequestHeaders,
  forwardedResponseHeaderList,
  headerValue,
  POLICY_VERSION_HEADER,
  PRINCIPAL_HEADER,
} from './headers.js';
import { localRefusal } from './local-refusal.js';
import { hasBody, requestBodyStream } from './request-body.js';
import { isOriginFormPath } from './request-target.js';
import { writeRejection } from './respond.js';
import { classifyUpstreamError } from './retry-policy.js';
import type { AppliedVersion } from './routes-state.js';
import type { SidecarStats } from './stats.js';
import { UpstreamExchange } from './upstream-exchange.js';

const noop = () => undefined;
const NO_HEADERS: readonly string[] = [];

/** The policy in force, as one frozen value swapped in one assignment. */
export interface PolicyState {
  readonly snapshot: PolicySnapshot;
  readonly version: number | undefined;
  readonly pinned: boolean;
  readonly source: string;
  readonly versionHeader: string | undefined;
}

export const INITIAL_POLICY_STATE: PolicyState = Object.freeze({
  snapshot: EMPTY_POLICY_SNAPSHOT,
  version: undefined,
  pinned: false,
  source: 'default',
  versionHeader: undefined,
});

export interface LocalAppOptions {
  readonly host: string;
  readonly port: number;
  /** Header and body inactivity timeout of a call to the local app. */
  readonly timeoutMs: number;
  readonly maxConnections: number;
  readonly keepAliveTimeoutMs: number;
}

const LOCAL_CONNECT_FAILURE = rejection(
  503,
  'UPSTREAM_CONNECT_FAILURE',
  'could not connect to the local app',
);
const LOCAL_RESET = rejection(503, 'UPSTREAM_RESET', 'the local app reset the connection before responding');
const LOCAL_TIMEOUT = rejection(504, 'UPSTREAM_TIMEOUT', 'the local app did not answer in time');
const INVALID_TARGET = rejection(
  400,
  'INVALID_REQUEST_TARGET',
  "the request target must be a path starting with a single '/' (origin-form): absolute-form targets, OPTIONS * and //-paths are not forwarded",
);

/**
 * The inbound half: each request is checked against the policy snapshot read once at its start (source
 * app from `x-meshpress-app`, principal from `x-meshpress-principal` until mTLS supplies a verified
 * one); denied requests get 403, allowed ones are streamed to the local app.
 */
export class InboundGuard {
  #state: PolicyState = INITIAL_POLICY_STATE;
  readonly #pool: Pool | undefined;
  readonly #stats: SidecarStats;
  #closed = false;

  constructor(stats: SidecarStats, app: LocalAppOptions | undefined) {
    this.#stats = stats;
    this.#pool =
      app === undefined
        ? undefined
        : new Pool(`http://${app.host.includes(':') ? `[${app.host}]` : app.host}:${app.port}`, {
            connections: app.maxConnections,
            pipelining: 1,
            keepAliveTimeout: app.keepAliveTimeoutMs,
            headersTimeout: app.timeoutMs,
            bodyTimeout: app.timeoutMs,
          });
  }

  get state(): PolicyState {
    return this.#state;
  }

  swap(snapshot: PolicySnapshot, applied: AppliedVersion): PolicyState {
    const state: PolicyState = Object.freeze({
      snapshot,
      version: applied.version,
      pinned: applied.pinned ?? false,
      source: applied.source ?? (applied.version === undefined ? 'default' : 'service'),
      versionHeader: applied.version === undefined ? undefined : String(applied.version),
    });
    this.#state = state;
    this.#stats.swaps.policy++;
    return state;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const state = this.#state;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const app = headerValue(req.headers, APP_HEADER);
    const principal = headerValue(req.headers, PRINCIPAL_HEADER);
    const extra: OutgoingHttpHeaders = {};
    let own: readonly string[] = NO_HEADERS;
    if (state.versionHeader !== undefined) {
      extra[POLICY_VERSION_HEADER] = state.versionHeader;
      own = [POLICY_VERSION_HEADER, state.versionHeader];
    }

    // The policy must judge the path the app will route on; a target that is not one is refused, not
    // rewritten, so the app never sees a request the policy did not judge as it arrived.
    if (!isOriginFormPath(path)) {
      this.#stats.inbound.badRequests++;
      req.resume();
      writeRejection(res, INVALID_TARGET, extra);
      return;
    }
    if (state.snapshot.decide(app, principal, method, path) === 'DENY' || this.#pool === undefined) {
      this.#stats.inbound.denied++;
      req.resume();
      writeRejection(res, forbidden(app, method, pathOnly(path), state.snapshot.empty), extra);
      return;
    }
    this.#stats.inbound.allowed++;

    const caller = new Cancellation();
    // `on`, not `once`: 'close' comes once, and `once` would wrap the listener for every request.
    res.on('close', () => {
      if (!res.writableFinished) caller.abort();
    });
    // As on the outbound port: streamed with the caller's framing, through a stream undici may destroy
    // without dropping the caller's connection.
    let body: Readable | undefined;
    if (hasBody(req)) body = requestBodyStream(req);
    else req.resume();
    try {
      // The outbound proxy's exchange: headers byte for byte, the body piped with back-pressure.
      const exchange = new UpstreamExchange(caller, noop);
      this.#pool.dispatch(
        {
          method: method as 'GET',
          path,
          headers: forwardedRequestHeaders(
            req.rawHeaders,
            headerValue(req.headers, 'connection'),
            false,
            body !== undefined,
          ),
          body: body ?? null,
        },
        exchange,
      );
      const response = await exchange.response;
      if (res.destroyed) {
        response.body.destroy();
        return;
      }
      res.writeHead(response.statusCode, forwardedResponseHeaderList(response.headers, own));
      response.body.pipeTo(res, noop);
    } catch (error) {
      // Whatever the app did not read is read off and thrown away (requestBodyStream).
      body?.destroy();
      if (caller.aborted) return;
      const refusal = localRefusal(error);
      if (refusal !== undefined) {
        this.#stats.inbound.badRequests++;
        writeRejection(res, refusal, extra);
        return;
      }
      this.#stats.inbound.upstreamErrors++;
      const failure = classifyUpstreamError(error);
      res.shouldKeepAlive = false;
      writeRejection(
        res,
        failure === 'connect-failure'
          ? LOCAL_CONNECT_FAILURE
          : failure === 'timeout'
            ? LOCAL_TIMEOUT
            : LOCAL_RESET,
        extra,
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool?.close().catch(() => this.#pool?.destroy());
  }
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}
