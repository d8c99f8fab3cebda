import { z } from 'zod';
import { type Clock, systemClock } from '../core/clock.js';
import { ValidationError } from '../core/errors.js';
import { identitySchema } from '../core/names.js';
import { displayUrl, serverUrlProblem } from '../core/safe-url.js';
import { parseOrThrow } from '../core/validation.js';
import type { FallbackCacheReader } from '../fallback/types.js';
import type { ClientLogger } from './logger.js';
import type { ClientMetrics } from './metrics.js';
import type { PollTransport } from './transport.js';

/** Gutenberg's default: every node asks once every 30 s. */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;
/** Each wait between polls is spread ±10 % so a fleet does not poll in waves. */
export const DEFAULT_POLL_JITTER = 0.1;
/** How long the server may hold a long-poll (the server caps it at 120 s). */
export const DEFAULT_LONG_POLL_WAIT_MS = 60_000;
/**
 * After a long-poll that brought an update, the next one goes out after a random delay up to this.
 * A publish answers every held poll of its topic at once, so without it the whole fleet asks again in
 * the same instant, while the server is still answering the rest of the fleet.
 */
export const DEFAULT_LONG_POLL_RESPREAD_MS = 1_000;
export const MAX_LONG_POLL_RESPREAD_MS = 30_000;
/** Budget of one request, on top of the long-poll wait. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Budget of one download attempt (one S3 copy, or the service). */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 30_000;
/** Ceiling of the first retry delay; doubles per consecutive failure. */
export const DEFAULT_RETRY_BASE_MS = 500;
/** No retry waits longer than this (nor longer than the poll interval). */
export const DEFAULT_RETRY_CAP_MS = 30_000;
/** Consecutive failed polls after which subscriptions without a value turn to the fallback sources. */
export const DEFAULT_MAX_RETRIES = 3;
/** startup waits at most this long for every subscription's first value. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 5_000;
/** Older versions tried when a subscription's first version will not download or decode. */
export const DEFAULT_STARTUP_HISTORY_DEPTH = 3;
/** The server's cap on a long-poll wait. */
export const MAX_LONG_POLL_WAIT_MS = 120_000;
/**
 * The shortest long-poll wait: a server answering "nothing new" after a wait of 0 would be asked again at
 * once, forever (a busy loop). Use interval mode to poll without holding.
 */
export const MIN_LONG_POLL_WAIT_MS = 1_000;
/** Longest poll interval (and retry delay): beyond an hour a node would hardly follow its configuration. */
export const MAX_POLL_INTERVAL_MS = 3_600_000;
/**
 * The shortest poll interval. It also caps every retry delay: below a second a failing service would be
 * asked again several times a second, forever, by every node of the fleet.
 */
export const MIN_POLL_INTERVAL_MS = 1_000;
/**
 * The smallest retry base: 0 makes every retry delay 0 (a failed poll is sent again at once, in a loop),
 * and so does a base that small for the first attempts. The delay doubles from there up to the cap.
 */
export const MIN_RETRY_BASE_MS = 10;
/**
 * The smallest retry cap: with full jitter a failing service is asked again every cap / 2 on average, for
 * as long as the outage lasts; below a second that is a busy loop across a fleet.
 */
export const MIN_RETRY_CAP_MS = 1_000;
/** Longest startup bound, request budget and download budget. */
export const MAX_STARTUP_TIMEOUT_MS = 600_000;
export const MAX_REQUEST_TIMEOUT_MS = 600_000;
export const MAX_DOWNLOAD_TIMEOUT_MS = 3_600_000;

const isTransport = (value: unknown): value is PollTransport =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as PollTransport).poll === 'function' &&
  typeof (value as PollTransport).fetchData === 'function' &&
  typeof (value as PollTransport).history === 'function' &&
  typeof (value as PollTransport).close === 'function';

const isFallbackReader = (value: unknown): value is FallbackCacheReader =>
  typeof value === 'object' && value !== null && typeof (value as FallbackCacheReader).lookup === 'function';

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Clock).now === 'function' &&
  typeof (value as Clock).setTimeout === 'function' &&
  typeof (value as Clock).clearTimeout === 'function';

const isLogger = (value: unknown): value is ClientLogger =>
  typeof value === 'object' &&
  value !== null &&
  ['debug', 'info', 'warn', 'error'].every(
    (m) => typeof (value as Record<string, unknown>)[m] === 'function',
  );

const isMetrics = (value: unknown): value is ClientMetrics =>
  typeof value === 'object' &&
  value !== null &&
  ['poll', 'updateApplied', 'versionRejected', 'fallbackUsed', 'trackSecondsSinceLastSuccessfulPoll'].every(
    (m) => typeof (value as Record<string, unknown>)[m] === 'function',
  );

const ms = z.number().int().min(0);
const positiveMs = z.number().int().min(1);

/**
 * A server address. `http://` and `https://` URLs use REST; `grpc://host:port`, `grpcs://host:port`
 * (TLS) or a bare `host:port` use gRPC, the default transport.
 */
const serverAddress = z.string().min(1);

export const clientOptionsSchema = z
  .object({
    /** Who this node is: resolution, scopes and pins are decided on it. */
    identity: identitySchema,
    /** One or more addresses of the same service (see serverAddress); all must use the same transport. */
    servers: z.union([serverAddress, z.array(serverAddress).min(1)]).optional(),
    /** A ready-made transport (instead of `servers`); the caller closes it. */
    transport: z.custom<PollTransport>(isTransport, 'expected a PollTransport').optional(),
    /** Sent as `x-meshpress-principal`. */
    principal: z.string().min(1).max(128).optional(),
    /** Sent as `x-meshpress-app` (rate limits are keyed on it); `identity.app` when absent. */
    callerApp: z.string().min(1).max(128).optional(),
    /** `interval` polls every pollIntervalMs; `long-poll` keeps a request held at the server for fast propagation. */
    pollMode: z.enum(['interval', 'long-poll']).default('interval'),
    /** Interval mode: the wait between polls; in both modes, the longest retry delay (MIN_POLL_INTERVAL_MS ..). */
    pollIntervalMs: ms
      .min(MIN_POLL_INTERVAL_MS, {
        error: `must be at least ${MIN_POLL_INTERVAL_MS} ms (it also caps every retry delay: less would retry a failing service in a loop)`,
      })
      .max(MAX_POLL_INTERVAL_MS)
      .default(DEFAULT_POLL_INTERVAL_MS),
    /** Fraction of the interval each wait is randomly spread by (0 .. 0.5). */
    pollJitter: z.number().min(0).max(0.5).default(DEFAULT_POLL_JITTER),
    /** How long the server may hold a long-poll (MIN_LONG_POLL_WAIT_MS .. MAX_LONG_POLL_WAIT_MS). */
    longPollWaitMs: ms
      .min(MIN_LONG_POLL_WAIT_MS, {
        error: `must be at least ${MIN_LONG_POLL_WAIT_MS} ms (use pollMode 'interval' to poll without holding)`,
      })
      .max(MAX_LONG_POLL_WAIT_MS)
      .default(DEFAULT_LONG_POLL_WAIT_MS),
    /** Long-poll mode: after an answer that brought an update, the next poll waits a random 0 .. this many ms. */
    longPollRespreadMs: ms.max(MAX_LONG_POLL_RESPREAD_MS).default(DEFAULT_LONG_POLL_RESPREAD_MS),
    requestTimeoutMs: positiveMs.max(MAX_REQUEST_TIMEOUT_MS).default(DEFAULT_REQUEST_TIMEOUT_MS),
    downloadTimeoutMs: positiveMs.max(MAX_DOWNLOAD_TIMEOUT_MS).default(DEFAULT_DOWNLOAD_TIMEOUT_MS),
    /** Ceiling of the first retry delay, doubled per consecutive failure (MIN_RETRY_BASE_MS ..). */
    retryBaseMs: ms
      .min(MIN_RETRY_BASE_MS, {
        error: `must be at least ${MIN_RETRY_BASE_MS} ms (a base of 0 retries a failed poll at once, in a loop)`,
      })
      .max(MAX_POLL_INTERVAL_MS)
      .default(DEFAULT_RETRY_BASE_MS),
    /** No retry delay exceeds this (MIN_RETRY_CAP_MS ..). */
    retryCapMs: ms
      .min(MIN_RETRY_CAP_MS, {
        error: `must be at least ${MIN_RETRY_CAP_MS} ms (a smaller cap retries a failing service several times a second, forever)`,
      })
      .max(MAX_POLL_INTERVAL_MS)
      .default(DEFAULT_RETRY_CAP_MS),
    maxRetries: z.number().int().min(1).default(DEFAULT_MAX_RETRIES),
    startupTimeoutMs: ms.max(MAX_STARTUP_TIMEOUT_MS).default(DEFAULT_STARTUP_TIMEOUT_MS),
    startupHistoryDepth: z.number().int().min(0).max(100).default(DEFAULT_STARTUP_HISTORY_DEPTH),
    /** Directory of the local disk cache (last applied version per topic); none when absent. */
    cacheDir: z.string().min(1).optional(),
    /** Reader of the S3 fallback cache, consulted when the service cannot be reached; the caller closes it. */
    fallback: z.custom<FallbackCacheReader>(isFallbackReader, 'expected a FallbackCacheReader').optional(),
    /** How payloads are fetched from S3. */
    s3: z
      .object({
        /** Preferred region (its copy is tried first); `identity.region` when absent. */
        region: z.string().min(1).optional(),
        endpoint: z.url().optional(),
        forcePathStyle: z.boolean().optional(),
        credentials: z
          .object({
            accessKeyId: z.string().min(1),
            secretAccessKey: z.string().min(1),
            sessionToken: z.string().min(1).optional(),
          })
          .optional(),
        maxAttempts: z.number().int().min(1).max(10).optional(),
      })
      .strict()
      .default({}),
    clock: z.custom<Clock>(isClock, 'expected a Clock').default(systemClock),
    /** Uniform random source in [0, 1) for jitter; injected by tests. */
    random: z
      .custom<() => number>((v) => typeof v === 'function', 'expected a function')
      .default(() => Math.random),
    logger: z.custom<ClientLogger>(isLogger, 'expected a pino-compatible logger').optional(),
    metrics: z.custom<ClientMetrics>(isMetrics, 'expected ClientMetrics').optional(),
  })
  .strict()
  .refine((o) => (o.servers === undefined) !== (o.transport === undefined), {
    message: 'give exactly one of `servers` and `transport`',
    path: ['servers'],
  });

export type MeshpressClientOptions = z.input<typeof clientOptionsSchema>;
export type ParsedClientOptions = z.output<typeof clientOptionsSchema>;

export function parseClientOptions(options: MeshpressClientOptions): ParsedClientOptions {
  return parseOrThrow(clientOptionsSchema, options, 'MeshpressClient options');
}

/** A parsed server address list: the transport kind and what it connects to. */
export type ServerTarget =
  | { readonly kind: 'rest'; readonly urls: readonly string[] }
  | { readonly kind: 'grpc'; readonly addresses: readonly string[]; readonly tls: boolean };

export function serverTarget(servers: string | readonly string[]): ServerTarget {
  const list = typeof servers === 'string' ? [servers] : servers;
  const parsed = list.map(parseAddress);
  const kinds = new Set(parsed.map((p) => `${p.kind}${p.kind === 'grpc' ? p.tls : ''}`));
  if (kinds.size > 1)
    throw invalidServers('servers', 'all servers must use the same transport (and TLS setting)');
  const first = parsed[0]!;
  return first.kind === 'rest'
    ? { kind: 'rest', urls: parsed.map((p) => p.target) }
    : { kind: 'grpc', addresses: parsed.map((p) => p.target), tls: first.tls };
}

function parseAddress(address: string): { kind: 'rest' | 'grpc'; target: string; tls: boolean } {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address)?.[1]?.toLowerCase();
  // Messages show addresses through displayUrl: never a password someone put in one.
  if (scheme === 'http' || scheme === 'https') {
    try {
      new URL(address);
    } catch {
      throw invalidServers('servers', `'${displayUrl(address)}' is not a URL`);
    }
    const problem = serverUrlProblem(address);
    if (problem) throw invalidServers('servers', `'${displayUrl(address)}' ${problem}`);
    return { kind: 'rest', target: address, tls: scheme === 'https' };
  }
  if (scheme === 'grpc' || scheme === 'grpcs')
    return {
      kind: 'grpc',
      target: hostPort(address.slice(scheme.length + 3), address),
      tls: scheme === 'grpcs',
    };
  if (scheme !== undefined) throw invalidServers('servers', `unsupported scheme in '${displayUrl(address)}'`);
  return { kind: 'grpc', target: hostPort(address, address), tls: false };
}

function hostPort(text: string, original: string): string {
  const trimmed = text.replace(/\/+$/, '');
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(trimmed))
    throw invalidServers('servers', `'${displayUrl(original)}' is not host:port`);
  return trimmed;
}

function invalidServers(path: string, message: string): ValidationError {
  return new ValidationError(`invalid MeshpressClient options (${path}: ${message})`, [{ path, message }]);
}
