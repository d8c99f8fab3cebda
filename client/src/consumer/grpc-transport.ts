import {
  type CallOptions,
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import type { z } from 'zod';
import { type MeshpressError, MisdirectedError, UnavailableError, ValidationError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { toFieldIssues } from '../core/validation.js';
import { errorFromWire } from '../core/wire-error.js';
import { meshpressClientConstructor } from '../wire/grpc-contract.js';
import {
  fromPollResponse,
  fromVersionMessage,
  listVersionsResponseMessage,
  pollResponseMessage,
  versionDataChunkMessage,
} from './grpc-views.js';
import type { CallerHeaders, PollRequest, PollTransport, PollUpdate } from './transport.js';

const ERROR_CODE_KEY = 'meshpress-error-code';
const ERROR_DETAILS_KEY = 'meshpress-error-details';

export interface GrpcTransportOptions {
  /** `host:port` of meshpress servers; the next one is used after a failure. */
  readonly addresses: readonly string[];
  /** TLS with the system roots (grpcs://); plaintext otherwise. */
  readonly tls?: boolean | undefined;
  readonly caller?: CallerHeaders | undefined;
  /**
   * Ceiling of grpc-js's own reconnect backoff (its default is 120 s). A channel waiting to reconnect
   * fails calls at once, so this bounds how long after the server returns the client notices it; keep
   * it at or below the poll interval. Default 5 s.
   */
  readonly maxReconnectBackoffMs?: number | undefined;
}

export const DEFAULT_GRPC_MAX_RECONNECT_BACKOFF_MS = 5_000;

type Callback = (error: ServiceError | null, response?: unknown) => void;
type UnaryMethod = (
  request: unknown,
  metadata: Metadata,
  options: CallOptions,
  callback: Callback,
) => ClientUnaryCall;
type StreamMethod = (
  request: unknown,
  metadata: Metadata,
  options?: CallOptions,
) => ClientReadableStream<unknown>;

function channelOptions(maxReconnectBackoffMs: number) {
  return {
    // Poll responses carry inline payloads (up to 1 MiB each) for every topic that changed: no 4 MiB cap.
    'grpc.max_receive_message_length': -1,
    // Long-polls sit idle for a minute; keepalive notices a dead peer (or a silent NAT drop) well before.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.initial_reconnect_backoff_ms': Math.min(1_000, maxReconnectBackoffMs),
    'grpc.max_reconnect_backoff_ms': maxReconnectBackoffMs,
  };
}

/** The consumer side of meshpress.v1.Meshpress: Poll, GetVersionData, ListVersions. The default transport. */
export class GrpcTransport implements PollTransport {
  readonly #addresses: readonly string[];
  readonly #tls: boolean;
  readonly #caller: CallerHeaders;
  readonly #channelOptions: ReturnType<typeof channelOptions>;
  readonly #clients = new Map<string, Client>();
  #next = 0;
  #closed = false;

  constructor(options: GrpcTransportOptions) {
    if (options.addresses.length === 0) throw new RangeError('GrpcTransport needs at least one address');
    this.#addresses = options.addresses;
    this.#tls = options.tls ?? false;
    this.#caller = options.caller ?? {};
    this.#channelOptions = channelOptions(
      options.maxReconnectBackoffMs ?? DEFAULT_GRPC_MAX_RECONNECT_BACKOFF_MS,
    );
  }

  async poll(request: PollRequest): Promise<PollUpdate[]> {
    const message = {
      identity: { ...request.identity },
      topics: request.topics.map((t) =>
        t.currentVersion === undefined
          ? { topic: t.topic }
          : { topic: t.topic, currentVersion: t.currentVersion },
      ),
      ...(request.waitMs === undefined ? {} : { waitMs: request.waitMs }),
    };
    const response = await this.#unary('Poll', message, request.signal);
    return fromPollResponse(decode(pollResponseMessage, response, 'Poll response'));
  }

  async fetchData(topic: string, version: number, signal: AbortSignal): Promise<Uint8Array> {
    const { client, index } = this.#client();
    const method = (client as unknown as Record<string, StreamMethod>).GetVersionData!.bind(client);
    const call = method({ topic, version }, this.#metadata());
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    const chunks: Uint8Array[] = [];
    let expected = 0;
    try {
      for await (const raw of call) {
        const chunk = decode(versionDataChunkMessage, raw, 'GetVersionData chunk');
        if (chunk.offset !== expected)
          throw new UnavailableError(`GetVersionData chunk at offset ${chunk.offset}, expected ${expected}`);
        chunks.push(chunk.data);
        expected += chunk.data.byteLength;
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw this.#failure(error, 'GetVersionData', index);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    return concat(chunks, expected);
  }

  async history(
    topic: string,
    before: number | undefined,
    limit: number,
    signal: AbortSignal,
  ): Promise<VersionRecord[]> {
    const response = await this.#unary(
      'ListVersions',
      { topic, limit, ...(before === undefined ? {} : { before }) },
      signal,
    );
    return decode(listVersionsResponseMessage, response, 'ListVersions response').versions.map(
      fromVersionMessage,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #unary(name: string, request: unknown, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const { client, index } = this.#client();
    const method = (client as unknown as Record<string, UnaryMethod>)[name]!.bind(client);
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = method(request, this.#metadata(), {}, (error, response) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) reject(signal.reason);
        else if (error) reject(this.#failure(error, name, index));
        else resolve(response);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #client(): { client: Client; index: number } {
    if (this.#closed) throw new UnavailableError('gRPC transport is closed');
    const index = this.#next % this.#addresses.length;
    const address = this.#addresses[index]!;
    let client = this.#clients.get(address);
    if (!client) {
      const Meshpress = meshpressClientConstructor();
      client = new Meshpress(
        address,
        this.#tls ? credentials.createSsl() : credentials.createInsecure(),
        this.#channelOptions,
      );
      this.#clients.set(address, client);
    }
    return { client, index };
  }

  #discard(address: string): void {
    const client = this.#clients.get(address);
    if (!client) return;
    this.#clients.delete(address);
    client.close();
  }

  #metadata(): Metadata {
    const metadata = new Metadata();
    if (this.#caller.app) metadata.set('x-meshpress-app', this.#caller.app);
    if (this.#caller.principal) metadata.set('x-meshpress-principal', this.#caller.principal);
    return metadata;
  }

  /**
   * The meshpress error the trailers name. Transport-level failures, and servers that say they cannot
   * serve the call (MISDIRECTED: an instance of another role; UNAVAILABLE, CLOSED: shutting down), move
   * later calls to the next address.
   */
  #failure(error: unknown, what: string, index: number): MeshpressError {
    const service = error as Partial<ServiceError>;
    const code = service.metadata?.get(ERROR_CODE_KEY)[0];
    if (typeof code === 'string') {
      const raw = service.metadata?.get(ERROR_DETAILS_KEY)[0];
      let details: unknown;
      try {
        details = typeof raw === 'string' ? JSON.parse(raw) : undefined;
      } catch {
        details = undefined;
      }
      const reported = errorFromWire(code, service.details ?? `${what} failed`, details);
      if (reported instanceof MisdirectedError || reported instanceof UnavailableError)
        this.#next = index + 1;
      return reported;
    }
    if (error instanceof UnavailableError) return error;
    this.#next = index + 1;
    // A channel that failed waits out grpc-js's own reconnect backoff and fails calls meanwhile; a fresh
    // one connects on the next call, so the poller's backoff alone decides when the server is tried again.
    this.#discard(this.#addresses[index]!);
    const name = service.code === undefined ? 'unknown' : (status[service.code] ?? String(service.code));
    return new UnavailableError(`gRPC ${what} failed: ${name}: ${service.details ?? String(error)}`, {
      cause: error,
    });
  }
}

function decode<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new UnavailableError(`server sent an invalid ${what}`, {
    cause: new ValidationError(`invalid ${what}`, toFieldIssues(result.error)),
  });
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return new Uint8Array(chunks[0]!);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
