import { randomUUID } from 'node:crypto';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller-supplied request id when it is well formed (so logs correlate across hops), else makes one. */
export function requestIdFrom(supplied: unknown): string {
  return typeof supplied === 'string' && REQUEST_ID_PATTERN.test(supplied) ? supplied : randomUUID();
}

const PRINCIPAL_PATTERN = /^[A-Za-z0-9._:@/-]{1,128}$/;

/** A header/metadata value usable as principal or app name, or undefined when absent or malformed. */
export function callerName(value: unknown): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return typeof text === 'string' && PRINCIPAL_PATTERN.test(text) ? text : undefined;
}
