import type { AtomicState, AtomicSubscription } from '../consumer/atomic-subscription.js';
import { MeshpressClient, type ReadyReport } from '../consumer/client.js';
import type { ClientLogger } from '../consumer/logger.js';
import { silentLogger } from '../consumer/logger.js';
import type { Clock } from '../core/clock.js';
import {
  compileMeshPayload,
  EMPTY_POLICY_SNAPSHOT,
  EMPTY_ROUTES_SNAPSHOT,
  type PolicySnapshot,
  type RoutesSnapshot,
} from '../mesh/index.js';
import { clientServers, type SidecarConfig } from './config.js';
import { SidecarCore } from './core.js';
import { closeAll, type Listener, listen, stopAccepting } from './listeners.js';
import type { AppliedVersion } from './routes-state.js';
import type { Upstream } from './upstream.js';

export interface SidecarDeps {
  readonly logger?: ClientLogger;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Replaces the undici upstream (tests). */
  readonly upstream?: Upstream;
}

/** A running sidecar: its listeners, its core and its meshpress client. */
export interface RunningSidecar {
  readonly core: SidecarCore;
  readonly client: MeshpressClient;
  readonly startup: ReadyReport;
  /** Undefined when the outbound proxy is off (no routes topic). */
  readonly outboundUrl: string | undefined;
  /** Undefined when the inbound guard is off (no policy topic). */
  readonly inboundUrl: string | undefined;
  readonly adminUrl: string;
  /**
   * Graceful stop: /healthz turns 503, listeners stop accepting, requests in flight get
   * `drainTimeoutMs` to finish, then the client and every connection pool close. Idempotent.
   */
  close(): Promise<{ drained: boolean }>;
}

const applied = <T>(state: AtomicState<T>): AppliedVersion => ({
  version: state.version,
  pinned: state.pinned,
  source: state.source,
});

/**
 * Starts the sidecar: subscribes to the routes and policy topics (long-poll by default), waits for the
 * first versions (at most `startupTimeoutMs`; without them the routes snapshot is empty and the policy
 * denies everything), then opens the listeners. Each applied version is swapped into the core in one
 * assignment.
 */
export async function startSidecar(config: SidecarConfig, deps: SidecarDeps = {}): Promise<RunningSidecar> {
  const logger = deps.logger ?? silentLogger;
  const identity = {
    app: config.app,
    ...(config.cluster === undefined ? {} : { cluster: config.cluster }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.node === undefined ? {} : { node: config.node }),
    ...(config.env === undefined ? {} : { env: config.env }),
  };
  const core = new SidecarCore({
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.upstream ? { upstream: deps.upstream } : {}),
    upstreamKeepAliveMs: config.upstreamKeepAliveMs,
    upstreamConnectTimeoutMs: config.upstreamConnectTimeoutMs,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    app: config.app,
    principal: config.principal,
    localApp:
      config.appPort === undefined
        ? undefined
        : {
            host: config.appHost,
            port: config.appPort,
            timeoutMs: config.inboundTimeoutMs,
            maxConnections: config.appMaxConnections,
            keepAliveTimeoutMs: config.upstreamKeepAliveMs,
          },
    identity,
    topics: { routes: config.routesTopic, policy: config.policyTopic },
  });

  const client = new MeshpressClient({
    identity,
    servers: clientServers(config),
    pollMode: config.pollMode,
    longPollWaitMs: config.longPollWaitMs,
    pollIntervalMs: config.pollIntervalMs,
    startupTimeoutMs: config.startupTimeoutMs,
    ...(config.principal === undefined ? {} : { principal: config.principal }),
    ...(config.cacheDir === undefined ? {} : { cacheDir: config.cacheDir }),
    ...(deps.clock ? { clock: deps.clock } : {}),
    logger,
  });

  const listeners: Listener[] = [];
  try {
    // One swap path for both documents: each topic compiles into its snapshot and replaces it whole.
    const follow = <T>(
      topic: string,
      decode: (bytes: Uint8Array) => T,
      defaultValue: T,
      swap: (value: T, version: AppliedVersion) => void,
      what: string,
    ): void => {
      const sub: AtomicSubscription<T> = client.subscribeAtomic(topic, { decode, defaultValue });
      sub.onChange((state, previous) => {
        if (state.closed) return;
        swap(state.value, applied(state));
        logger.info(
          {
            topic,
            version: state.version,
            previous: previous.version,
            pinned: state.pinned,
            source: state.source,
          },
          `${what} snapshot swapped`,
        );
      });
    };
    if (config.routesTopic !== undefined)
      follow<RoutesSnapshot>(
        config.routesTopic,
        (bytes) => compileMeshPayload('mesh.routes.v1', bytes),
        EMPTY_ROUTES_SNAPSHOT,
        (value, version) => core.setRoutes(value, version),
        'routes',
      );
    if (config.policyTopic !== undefined)
      follow<PolicySnapshot>(
        config.policyTopic,
        (bytes) => compileMeshPayload('mesh.policy.v1', bytes),
        EMPTY_POLICY_SNAPSHOT,
        (value, version) => core.setPolicy(value, version),
        'policy',
      );
    const startup = await client.start();
    if (!startup.ready)
      logger.warn({ subscriptions: startup.subscriptions }, 'started before every topic had a version');

    const outbound =
      config.routesTopic === undefined
        ? undefined
        : await listen(
            core.handleOutbound,
            config.listenHost,
            config.outboundPort,
            config.listenerKeepAliveMs,
          );
    if (outbound) listeners.push(outbound);
    const inbound =
      config.policyTopic === undefined
        ? undefined
        : await listen(core.handleInbound, config.listenHost, config.inboundPort, config.listenerKeepAliveMs);
    if (inbound) listeners.push(inbound);
    const admin = await listen(core.handleAdmin, config.listenHost, config.adminPort);

    let closing: Promise<{ drained: boolean }> | undefined;
    return {
      core,
      client,
      startup,
      outboundUrl: outbound?.url,
      inboundUrl: inbound?.url,
      adminUrl: admin.url,
      close() {
        closing ??= (async () => {
          core.startDraining();
          const stopped = Promise.all(listeners.map(stopAccepting));
          const drained = await core.idle(config.drainTimeoutMs);
          if (!drained) logger.warn({ inFlight: core.inFlight }, 'drain timeout: closing connections in use');
          for (const l of listeners) closeAll(l);
          await stopped;
          await client.close();
          await core.close();
          const adminStopped = stopAccepting(admin);
          closeAll(admin);
          await adminStopped;
          return { drained };
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const l of listeners) closeAll(l);
    await Promise.all(listeners.map(stopAccepting));
    await client.close();
    await core.close();
    throw error;
  }
}
