import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { type Clock, systemClock } from '../core/clock.js';
import { identityValueSchema } from '../core/names.js';
import { parseOrThrow } from '../core/validation.js';
import type { PolicySnapshot, RoutesSnapshot } from '../mesh/index.js';
import { adminView, healthView } from './admin.js';
import {
  DEFAULT_INBOUND_TIMEOUT_MS,
  DEFAULT_LOCAL_APP_MAX_CONNECTIONS,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
  DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS,
  DEFAULT_UPSTREAM_KEEP_ALIVE_MS,
  stampedPrincipalSchema,
} from './config.js';
import { DRAINING } from './errors.js';
import { InboundGuard, type PolicyState } from './inbound-guard.js';
import { NodeRegistry } from './node-registry.js';
import { handleOutbound, type OutboundHandlerOptions } from './outbound-handler.js';
import { OutboundProxy } from './outbound-proxy.js';
import { writeJson, writeRejection } from './respond.js';
import type { AppliedVersion, RoutesState } from './routes-state.js';
import { SidecarStats } from './stats.js';
import { UndiciUpstream } from './undici-upstream.js';
import type { Upstream } from './upstream.js';

const isClock = (v: unknown): v is Clock =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Clock).now === 'function' &&
  typeof (v as Clock).setTimeout === 'function';

export const sidecarCoreOptionsSchema = z
  .object({
    clock: z.custom<Clock>(isClock, 'expected a Clock').default(systemClock),
    random: z
      .custom<() => number>((v) => typeof v === 'function', 'expected a function')
      .default(() => Math.random),
    /** The wire to upstreams; UndiciUpstream when absent. */
    upstream: z
      .custom<Upstream>((v) => typeof (v as Upstream)?.send === 'function', 'expected an Upstream')
      .optional(),
    upstreamKeepAliveMs: z.number().int().min(1).default(DEFAULT_UPSTREAM_KEEP_ALIVE_MS),
    upstreamConnectTimeoutMs: z.number().int().min(1).default(DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS),
    maxRequestBodyBytes: z.number().int().min(1).default(DEFAULT_MAX_REQUEST_BODY_BYTES),
    /** Stamped on outbound requests as x-meshpress-app / x-meshpress-principal. */
    app: identityValueSchema.optional(),
    principal: stampedPrincipalSchema.optional(),
    /** Where the inbound guard forwards allowed requests; without it the guard denies everything. */
    localApp: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65_535),
        timeoutMs: z.number().int().min(1).default(DEFAULT_INBOUND_TIMEOUT_MS),
        maxConnections: z.number().int().min(1).default(DEFAULT_LOCAL_APP_MAX_CONNECTIONS),
        keepAliveTimeoutMs: z.number().int().min(1).default(DEFAULT_UPSTREAM_KEEP_ALIVE_MS),
      })
      .strict()
      .optional(),
    /** Shown by the admin endpoint. */
    identity: z.record(z.string(), z.string()).default({}),
    topics: z.object({ routes: z.string().optional(), policy: z.string().optional() }).strict().default({}),
  })
  .strict();

export type SidecarCoreOptions = z.input<typeof sidecarCoreOptionsSchema>;

/**
 * The sidecar without its listeners or its meshpress client: outbound proxy, inbound guard, admin
 * views, counters and node state. Snapshots come in through `setRoutes` / `setPolicy` (the subscription
 * wiring in startSidecar, or a test directly); requests come in through the three handlers.
 */
export class SidecarCore {
  readonly stats = new SidecarStats();
  readonly nodes: NodeRegistry;
  readonly outbound: OutboundProxy;
  readonly inbound: InboundGuard;
  readonly upstream: Upstream;
  readonly clock: Clock;
  readonly #o: z.output<typeof sidecarCoreOptionsSchema>;
  readonly #ownsUpstream: boolean;
  readonly #startedAt: number;
  readonly #outboundOptions: OutboundHandlerOptions;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];
  #draining = false;
  #closing: Promise<void> | undefined;

  constructor(options: SidecarCoreOptions = {}) {
    const o = parseOrThrow(sidecarCoreOptionsSchema, options, 'sidecar core options');
    this.#o = o;
    this.clock = o.clock;
    this.#startedAt = o.clock.now();
    this.nodes = new NodeRegistry(o.clock);
    this.#ownsUpstream = o.upstream === undefined;
    this.upstream =
      o.upstream ??
      new UndiciUpstream({
        keepAliveTimeoutMs: o.upstreamKeepAliveMs,
        connectTimeoutMs: o.upstreamConnectTimeoutMs,
      });
    this.outbound = new OutboundProxy({
      clock: o.clock,
      random: o.random,
      upstream: this.upstream,
      nodes: this.nodes,
      stats: this.stats,
      app: o.app,
      principal: o.principal,
    });
    this.inbound = new InboundGuard(this.stats, o.localApp);
    this.#outboundOptions = {
      proxy: this.outbound,
      stats: this.stats,
      maxRequestBodyBytes: o.maxRequestBodyBytes,
    };
  }

  setRoutes(snapshot: RoutesSnapshot, applied: AppliedVersion): RoutesState {
    return this.outbound.swap(snapshot, applied);
  }

  setPolicy(snapshot: PolicySnapshot, applied: AppliedVersion): PolicyState {
    return this.inbound.swap(snapshot, applied);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Requests being served by the outbound and inbound handlers. */
  get inFlight(): number {
    return this.#inFlight;
  }

  readonly handleOutbound = (req: IncomingMessage, res: ServerResponse): void => {
    if (!this.#admit(req, res)) return;
    handleOutbound(this.#outboundOptions, req, res).catch((error: unknown) => this.#fail(res, error));
  };

  readonly handleInbound = (req: IncomingMessage, res: ServerResponse): void => {
    if (!this.#admit(req, res)) return;
    this.inbound.handle(req, res).catch((error: unknown) => this.#fail(res, error));
  };

  readonly handleAdmin = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      writeJson(res, 405, {
        error: { code: 'METHOD_NOT_ALLOWED', message: 'the admin endpoint is read-only' },
      });
      return;
    }
    if (path === '/healthz') {
      writeJson(res, this.#draining ? 503 : 200, healthView(this));
      return;
    }
    if (path === '/admin' || path === '/admin/') {
      writeJson(res, 200, adminView(this, this.#o.identity, this.#o.topics, this.#startedAt));
      return;
    }
    writeJson(res, 404, { error: { code: 'NOT_FOUND', message: 'GET /admin or GET /healthz' } });
  };

  /** From now on: /healthz answers 503 and every response closes its connection. */
  startDraining(): void {
    this.#draining = true;
  }

  /** Resolves when no request is in flight, or after `timeoutMs`; true when drained. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(false), timeoutMs);
      this.#idleWaiters.push(() => {
        this.clock.clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Closes upstream connection pools (waiting for requests on them). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#draining = true;
      await Promise.all([this.#ownsUpstream ? this.upstream.close() : undefined, this.inbound.close()]);
    })();
    return this.#closing;
  }

  #admit(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#draining) res.shouldKeepAlive = false;
    if (this.#closing) {
      req.resume();
      writeRejection(res, DRAINING);
      return false;
    }
    this.#inFlight++;
    // `on`, not `once`: 'close' comes once, and `once` wraps the listener for every request.
    res.on('close', () => {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const wake of waiters) wake();
      }
    });
    return true;
  }

  #fail(res: ServerResponse, error: unknown): void {
    // A bug, not an upstream failure: answer if still possible, never crash the proxy.
    if (!res.headersSent && !res.destroyed) {
      res.shouldKeepAlive = false;
      writeJson(res, 500, {
        error: { code: 'INTERNAL', message: String((error as Error)?.message ?? error) },
      });
    } else res.destroy();
  }
}
