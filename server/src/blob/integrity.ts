import { IntegrityError, sha256Hex } from '@meshpress/client';

/** Throws IntegrityError unless `data` hashes to `expected`; `what` names the bytes in the message. */
export function assertDigest(data: Uint8Array, expected: string, what: string): void {
  const actual = sha256Hex(data);
  if (actual !== expected) {
    throw new IntegrityError(`${what}: sha256 is ${actual}, expected ${expected}`, {
      expected,
      actual,
      size: data.byteLength,
    });
  }
}
