import { z } from 'zod';
import {
  DEFAULT_LONG_POLL_WAIT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  MAX_LONG_POLL_WAIT_MS,
  MIN_POLL_INTERVAL_MS,
} from '../consumer/options.js';
import { identityValueSchema, topicNameSchema } from '../core/names.js';
import { parseOrThrow } from '../core/validation.js';

/** Envoy/Istio's conventional ports: outbound capture 15001, inbound 15006, admin 15000. */
export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_INBOUND_PORT = 15006;
export const DEFAULT_ADMIN_PORT = 15000;
/** Request bodies are buffered (so retries can resend them) up to this size. */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;
/** On SIGTERM, requests in flight get this long to finish. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Inactivity timeout of calls to the local app (the inbound side has no route timeout). */
export const DEFAULT_INBOUND_TIMEOUT_MS = 15_000;
/** Below Node's 5 s server keep-alive, so the sidecar closes idle upstream connections first. */
export const DEFAULT_UPSTREAM_KEEP_ALIVE_MS = 4_000;
/**
 * How long the listeners keep an idle downstream connection. Node's 5 s default would make callers
 * reconnect after every lull; proxies keep connections far longer (Envoy: 1 h).
 */
export const DEFAULT_LISTENER_KEEP_ALIVE_MS = 60_000;
/** Envoy's cluster connect timeout default. */
export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_LOCAL_APP_MAX_CONNECTIONS = 1024;

/**
 * A principal the outbound proxy can stamp as `x-meshpress-principal`: what a policy can name (SPIFFE IDs
 * and similar: visible ASCII, no spaces, starting with a letter or digit) and a header can carry. undici
 * refuses a header value with a control character, which failed every outbound request.
 */
export const stampedPrincipalSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][\x21-\x7e]{0,127}$/,
    'principals are 1-128 visible ASCII characters (no spaces or control characters) starting with a letter or digit',
  );

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().min(1);
const serverAddress = z.string().trim().min(1);

export const sidecarConfigSchema = z
  .object({
    /** meshpress service addresses: `http(s)://host:port` (REST) or `host:port` / `grpc(s)://host:port` (gRPC). */
    servers: z.array(serverAddress).min(1, 'at least one meshpress server is required'),
    /** `auto` reads the transport from each address; `rest` / `grpc` insist on one (bare host:port is fine). */
    transport: z.enum(['auto', 'rest', 'grpc']).default('auto'),
    app: identityValueSchema,
    cluster: identityValueSchema.optional(),
    region: identityValueSchema.optional(),
    node: identityValueSchema.optional(),
    env: identityValueSchema.optional(),
    /** A mesh.routes.v1 topic: enables the outbound proxy. */
    routesTopic: topicNameSchema.optional(),
    /** A mesh.policy.v1 topic: enables the inbound guard (with appPort). */
    policyTopic: topicNameSchema.optional(),
    listenHost: z.string().min(1).default('127.0.0.1'),
    outboundPort: port.default(DEFAULT_OUTBOUND_PORT),
    inboundPort: port.default(DEFAULT_INBOUND_PORT),
    adminPort: port.default(DEFAULT_ADMIN_PORT),
    /** The local app the inbound guard forwards allowed requests to. */
    appHost: z.string().min(1).default('127.0.0.1'),
    appPort: z.coerce.number().int().min(1).max(65_535).optional(),
    appMaxConnections: positiveInt.default(DEFAULT_LOCAL_APP_MAX_CONNECTIONS),
    pollMode: z.enum(['long-poll', 'interval']).default('long-poll'),
    longPollWaitMs: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_LONG_POLL_WAIT_MS)
      .default(DEFAULT_LONG_POLL_WAIT_MS),
    // The client library's floor, checked here so that the flag is named (it also caps retry delays).
    pollIntervalMs: z.coerce.number().int().min(MIN_POLL_INTERVAL_MS).default(DEFAULT_POLL_INTERVAL_MS),
    /** Sent to the meshpress service, and stamped on outbound requests as x-meshpress-principal. */
    principal: stampedPrincipalSchema.optional(),
    cacheDir: z.string().min(1).optional(),
    startupTimeoutMs: z.coerce.number().int().min(0).default(DEFAULT_STARTUP_TIMEOUT_MS),
    maxRequestBodyBytes: positiveInt.default(DEFAULT_MAX_REQUEST_BODY_BYTES),
    drainTimeoutMs: z.coerce.number().int().min(0).default(DEFAULT_DRAIN_TIMEOUT_MS),
    inboundTimeoutMs: positiveInt.default(DEFAULT_INBOUND_TIMEOUT_MS),
    upstreamKeepAliveMs: positiveInt.default(DEFAULT_UPSTREAM_KEEP_ALIVE_MS),
    listenerKeepAliveMs: positiveInt.default(DEFAULT_LISTENER_KEEP_ALIVE_MS),
    upstreamConnectTimeoutMs: positiveInt.default(DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.routesTopic === undefined && c.policyTopic === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['routesTopic'],
        message: 'give a routes topic, a policy topic, or both',
      });
    if (c.policyTopic !== undefined && c.appPort === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['appPort'],
        message: 'required with a policy topic: the inbound guard forwards to the local app',
      });
    c.servers.forEach((address, i) => {
      const problem = transportProblem(address, c.transport);
      if (problem) ctx.addIssue({ code: 'custom', path: ['servers', i], message: problem });
    });
  });

export type SidecarConfig = z.output<typeof sidecarConfigSchema>;
export type SidecarConfigInput = z.input<typeof sidecarConfigSchema>;

export function parseSidecarConfig(input: unknown): SidecarConfig {
  return parseOrThrow(sidecarConfigSchema, input, 'sidecar configuration');
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

function transportProblem(address: string, transport: SidecarConfig['transport']): string | undefined {
  const scheme = SCHEME.exec(address)?.[1]?.toLowerCase();
  if (transport === 'rest' && scheme !== undefined && scheme !== 'http' && scheme !== 'https')
    return `'${address}' is not a REST address (http:// or https://)`;
  if (transport === 'grpc' && (scheme === 'http' || scheme === 'https'))
    return `'${address}' is a REST address; gRPC takes host:port, grpc:// or grpcs://`;
  return undefined;
}

/** The addresses as MeshpressClient reads them: the scheme decides the transport. */
export function clientServers(config: SidecarConfig): string[] {
  if (config.transport !== 'rest') return config.servers;
  return config.servers.map((a) => (SCHEME.test(a) ? a : `http://${a}`));
}
