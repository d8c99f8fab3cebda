import type { MeshRetryEvent } from '../mesh/index.js';

/** How an attempt failed without an upstream response. */
export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout' | 'refused-stream';

/**
 * Whether a response status is retried under `retryOn` (Envoy's semantics): `5xx` any 5xx,
 * `gateway-error` 502/503/504, `retriable-4xx` 409.
 */
export function isRetriableStatus(status: number, retryOn: readonly MeshRetryEvent[]): boolean {
  for (const event of retryOn) {
    if (event === '5xx' && status >= 500 && status <= 599) return true;
    if (event === 'gateway-error' && (status === 502 || status === 503 || status === 504)) return true;
    if (event === 'retriable-4xx' && status === 409) return true;
  }
  return false;
}

/**
 * Whether a failure without a response is retried. As in Envoy, `5xx` and `gateway-error` also cover
 * failures that the proxy itself would answer with 503/504 (connect failure, reset, per-try timeout);
 * `reset` covers resets and per-try timeouts ("no response at all"); `connect-failure` and
 * `refused-stream` only their own event.
 */
export function isRetriableFailure(failure: AttemptFailure, retryOn: readonly MeshRetryEvent[]): boolean {
  for (const event of retryOn) {
    switch (event) {
      case '5xx':
      case 'gateway-error':
        return true;
      case 'reset':
        if (failure === 'reset' || failure === 'timeout') return true;
        break;
      case 'connect-failure':
        if (failure === 'connect-failure') return true;
        break;
      case 'refused-stream':
        if (failure === 'refused-stream') return true;
        break;
      case 'retriable-4xx':
        break;
    }
  }
  return false;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** Classifies an upstream client error (undici or Node socket codes) that ended an attempt early. */
export function classifyUpstreamError(error: unknown): AttemptFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CONNECT_CODES.has(code)) return 'connect-failure';
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  }
  // Everything else (UND_ERR_SOCKET "other side closed", ECONNRESET, EPIPE, ...) lost the exchange midway.
  return 'reset';
}
