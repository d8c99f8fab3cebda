import { randomBytes } from 'node:crypto';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Random per process, so ids stay unique across instances and restarts. */
const PROCESS_PREFIX = `${randomBytes(6).toString('hex')}-`;
let issued = 0;

/**
 * Keeps a caller-supplied request id when it is well formed (so logs correlate across hops), else makes
 * one: this process's random prefix and a counter, e.g. `3f9a0c71be42-1a2b`. Not `randomUUID()`: Node
 * builds a UUID from about twenty concatenated pieces, and a held long-poll kept that tree of strings
 * alive (some 450 bytes, copied by every young-generation collection) until it was answered.
 */
export function requestIdFrom(supplied: unknown): string {
  if (typeof supplied === 'string' && REQUEST_ID_PATTERN.test(supplied)) return supplied;
  issued++;
  return PROCESS_PREFIX + issued.toString(36);
}

const PRINCIPAL_PATTERN = /^[A-Za-z0-9._:@/-]{1,128}$/;

/** A header/metadata value usable as principal or app name, or undefined when absent or malformed. */
export function callerName(value: unknown): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return typeof text === 'string' && PRINCIPAL_PATTERN.test(text) ? text : undefined;
}
