import { IntegrityError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { sha256Hex } from '../core/sha256.js';

/** Throws IntegrityError unless `data` is exactly the payload the record describes (size, then sha256). */
export function verifyPayload(record: VersionRecord, data: Uint8Array, source: string): void {
  const where = `${record.topic} v${record.version} from ${source}`;
  if (data.byteLength !== record.size)
    throw new IntegrityError(`${where}: ${data.byteLength} bytes, the record says ${record.size}`, {
      topic: record.topic,
      version: record.version,
      source,
      expectedSize: record.size,
      actualSize: data.byteLength,
    });
  const actual = sha256Hex(data);
  if (actual !== record.sha256)
    throw new IntegrityError(`${where}: sha256 ${actual} does not match the record's ${record.sha256}`, {
      topic: record.topic,
      version: record.version,
      source,
      expected: record.sha256,
      actual,
    });
}

/** Whether `data` is exactly the payload the record describes (size, then sha256). */
export function payloadMatches(record: VersionRecord, data: Uint8Array): boolean {
  return data.byteLength === record.size && sha256Hex(data) === record.sha256;
}
