import { hash } from 'node:crypto';

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export function sha256Hex(data: Uint8Array): string {
  // The one-shot form: no Hash object per call (every subscriber verifies every update).
  return hash('sha256', data, 'hex');
}
