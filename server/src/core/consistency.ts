import { SHA256_PATTERN, sha256Hex, type VersionRecord } from '@meshpress/client';

/**
 * The consistency check run before a version is served: committed, pointer well formed and complete,
 * a sha256, and at least one publish scope. An incomplete publish (a crash part-way, replication lag
 * between the record, its scopes and its commit marker) fails it and is never handed to a consumer.
 */
export function isServable(record: VersionRecord | undefined, scopeCount: number): record is VersionRecord {
  if (!record || record.committedAt === undefined || scopeCount < 1) return false;
  if (!SHA256_PATTERN.test(record.sha256) || record.size < 0) return false;
  const pointer = record.pointer;
  switch (pointer.kind) {
    case 'direct':
      return pointer.data.byteLength === record.size && sha256Hex(pointer.data) === record.sha256;
    case 's3':
      return (
        pointer.locations.length > 0 &&
        pointer.locations.every((l) => l.region && l.bucket && l.key.length > 0)
      );
    case 'local':
      return pointer.key.length > 0;
    default:
      return false;
  }
}
