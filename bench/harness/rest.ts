/** Minimal REST calls the benchmarks use to set up state (global fetch; not measured). */

export async function restCall(
  baseUrl: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
  return { status: response.status, json };
}

export async function putTopic(baseUrl: string, topic: string): Promise<void> {
  await restCall(baseUrl, 'PUT', `/v1/topics/${topic}`, { retention: { maxVersions: 1000 } });
}

/** Publishes a small JSON document; returns the version number. */
export async function publishDocument(
  baseUrl: string,
  topic: string,
  document: unknown,
  scopes: readonly string[] = ['*'],
): Promise<number> {
  const { json } = await restCall(baseUrl, 'POST', `/v1/topics/${topic}/versions`, {
    payload: { document },
    scopes,
  });
  return (json as { version: number }).version;
}

/** Runs `fn` over `items` with at most `limit` in flight (setup loops stay bounded by the item count). */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
