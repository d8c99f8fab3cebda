import { parseOrThrow, SHA256_PATTERN } from '@meshpress/client';
import { z } from 'zod';
import { payloadKey } from './blob-store.js';

/**
 * Object keys are relative, slash-separated paths. The same rules apply to every backend so a key that
 * works against S3 also works against a directory, where `..` or an absolute path would escape the root.
 */
export const objectKeySchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((key) => !key.startsWith('/'), 'must be relative (no leading /)')
  .refine((key) => !key.includes('\\'), 'must use / as separator')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  .refine((key) => !/[\u0000-\u001f\u007f]/.test(key), 'must not contain control characters')
  .refine(
    (key) => key.split('/').every((part) => part !== '' && part !== '.' && part !== '..'),
    'must not contain empty, "." or ".." segments',
  );

export const sha256Schema = z.string().regex(SHA256_PATTERN, 'must be 64 lowercase hex characters');

export function parseObjectKey(key: unknown, what = 'object key'): string {
  return parseOrThrow(objectKeySchema, key, what, 'key');
}

export function parseSha256(sha256: unknown): string {
  return parseOrThrow(sha256Schema, sha256, 'sha256', 'sha256');
}

/** Whether `key` is the content-addressed payload key (`<prefix>blobs/<sha256>`) of some digest. */
export function isPayloadKey(key: string, prefix = ''): boolean {
  if (!key.startsWith(prefix)) return false;
  const digest = key.slice(prefix.length + payloadKey('').length);
  return SHA256_PATTERN.test(digest) && key === prefix + payloadKey(digest);
}

/** The key this store gives the digest's payload, or undefined when `sha256` is not a digest. */
export function ownedPayloadKey(sha256: string, prefix = ''): string | undefined {
  return SHA256_PATTERN.test(sha256) ? prefix + payloadKey(sha256) : undefined;
}
