import type { IncomingHttpHeaders } from 'node:http';

/** The route that matched (outbound responses). */
export const ROUTE_HEADER = 'x-meshpress-route';
/** The virtual node the request was sent to (outbound responses). */
export const TARGET_HEADER = 'x-meshpress-target';
/** The routes version the request was decided on, from start to finish (outbound responses). */
export const ROUTES_VERSION_HEADER = 'x-meshpress-routes-version';
/** How many upstream attempts the response took (outbound responses). */
export const ATTEMPTS_HEADER = 'x-meshpress-attempts';
/** The policy version that allowed or denied the request (inbound responses). */
export const POLICY_VERSION_HEADER = 'x-meshpress-policy-version';
/** Set on every response the sidecar generates itself, so a caller can tell it from an upstream's. */
export const ERROR_HEADER = 'x-meshpress-error';
/** Which circuit-breaker limit refused the request (with ERROR_HEADER OVERFLOW). */
export const OVERFLOW_HEADER = 'x-meshpress-overflow';
/** The calling app: read by the inbound guard, stamped by the outbound proxy. */
export const APP_HEADER = 'x-meshpress-app';
/** The caller's principal: read by the inbound guard until mTLS supplies a verified one. */
export const PRINCIPAL_HEADER = 'x-meshpress-principal';
/** 1-based attempt number, sent upstream on each try (as Envoy's x-envoy-attempt-count). */
export const ATTEMPT_HEADER = 'x-meshpress-attempt';

/**
 * Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus the framing
 * headers the proxy recomputes. undici refuses some of them outright, and forwarding the others would
 * describe a connection the next hop is not on.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'content-length',
]);

/** Headers the outbound proxy sets itself: a caller must not be able to claim another app's identity. */
const STAMPED = new Set([APP_HEADER, PRINCIPAL_HEADER, ATTEMPT_HEADER]);

/** Names listed in a Connection header are hop-by-hop too. */
function connectionTokens(value: string | undefined): Set<string> | undefined {
  // The common values name no header: skip the split.
  if (!value || value === 'keep-alive' || value === 'close') return undefined;
  const tokens = value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0 && t !== 'close' && t !== 'keep-alive');
  return tokens.length ? new Set(tokens) : undefined;
}

/**
 * The request headers to send upstream, as undici's flat `[name, value, ...]` list, from Node's
 * `rawHeaders` (original case and order, repeated headers kept). Drops hop-by-hop and framing headers,
 * and, when `stampIdentity`, the identity headers the outbound proxy sets itself. `keepContentLength`
 * keeps the caller's content-length, for a body that is streamed (a buffered one is measured again).
 */
export function forwardedRequestHeaders(
  rawHeaders: readonly string[],
  connection: string | undefined,
  stampIdentity: boolean,
  keepContentLength = false,
): string[] {
  const extra = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) && !(keepContentLength && lower === 'content-length')) continue;
    if (extra?.has(lower)) continue;
    if (stampIdentity && STAMPED.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * Upstream response headers from a flat `[name, value, ...]` list, as a flat list for `writeHead`:
 * names lowercased, hop-by-hop ones (and those the Connection header names) dropped, repeats and
 * content-length kept; then `own`, the headers the sidecar sets itself (flat, lowercase names), which
 * replace any the upstream sent under the same names.
 */
export function forwardedResponseHeaderList(raw: readonly string[], own: readonly string[]): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
    if (lower !== 'content-length' && HOP_BY_HOP.has(lower)) continue;
    if (lower.startsWith('x-meshpress-') && namedIn(own, lower)) continue;
    out.push(lower, value);
  }
  const extra = connectionTokens(connection);
  if (extra === undefined) {
    for (const item of own) out.push(item);
    return out;
  }
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i]!;
    if (name === 'content-length' || !extra.has(name)) kept.push(name, out[i + 1]!);
  }
  for (const item of own) kept.push(item);
  return kept;
}

function namedIn(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true;
  return false;
}

/** One header value as route matching and policy see it: repeated headers joined with ", ". */
export function headerValue(headers: IncomingHttpHeaders, lowercaseName: string): string | undefined {
  const value = headers[lowercaseName];
  return Array.isArray(value) ? value.join(', ') : value;
}
