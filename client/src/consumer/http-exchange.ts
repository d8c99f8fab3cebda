/** One HTTP answer, read at most once. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** The body as text; a plain string when it is in memory already (no promise per answer). */
  text(): string | Promise<string>;
  bytes(): Promise<Uint8Array>;
  /** Releases the connection without reading the body (a 204, say); resolves once it is free again. */
  discard(): Promise<void>;
}

export interface HttpCall {
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
  readonly signal: AbortSignal;
}

/** How the REST transport talks HTTP: undici pools by default, an injected fetch in tests. */
export interface HttpExchange {
  /** `base` is a server URL without a trailing slash; `path` starts with `/`. */
  send(base: string, path: string, call: HttpCall): Promise<HttpAnswer>;
  close(): Promise<void>;
}

/** Over a WHATWG fetch (the `fetch` option): kept for callers that bring their own dispatcher. */
export function fetchExchange(fetchImpl: typeof fetch): HttpExchange {
  return {
    async send(base, path, call) {
      const response = await fetchImpl(`${base}${path}`, {
        method: call.method,
        headers: call.headers,
        ...(call.body === undefined ? {} : { body: call.body }),
        signal: call.signal,
      });
      return {
        status: response.status,
        headers: response.headers,
        text: () => response.text(),
        bytes: async () => new Uint8Array(await response.arrayBuffer()),
        discard: async () => undefined,
      };
    },
    async close() {},
  };
}
