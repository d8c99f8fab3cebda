import { IntegrityError, UnavailableError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { sha256Hex } from '../core/sha256.js';
import type { RestClient } from './rest-client.js';
import type { S3Transfer } from './s3-transfer.js';

/**
 * The payload bytes of a version, wherever they are, verified against the record's size and sha256:
 * inline data when the record carries it, S3 directly when the publisher has S3 settings (the server is
 * asked when S3 cannot answer), else the server's `…/data`.
 */
export async function fetchVersionData(
  rest: RestClient,
  s3: S3Transfer | undefined,
  record: VersionRecord,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const pointer = record.pointer;
  let data: Uint8Array;
  // History listings omit inline data (decoded as empty bytes): a size mismatch means "not carried".
  if (pointer.kind === 'direct' && pointer.data.byteLength === record.size) data = pointer.data;
  else if (pointer.kind === 's3' && s3) {
    try {
      data = await s3.download(pointer.locations, record.sha256, signal);
    } catch (s3Error) {
      if (!(s3Error instanceof UnavailableError)) throw s3Error;
      try {
        data = await fromServer(rest, record, signal);
      } catch (serverError) {
        throw new UnavailableError(
          `${s3Error.message}; the server could not serve it either: ${(serverError as Error).message}`,
          { cause: serverError },
        );
      }
    }
  } else data = await fromServer(rest, record, signal);
  verify(record, data);
  return data;
}

async function fromServer(
  rest: RestClient,
  record: VersionRecord,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const { data } = await rest.bytes({
    method: 'GET',
    path: `/v1/topics/${encodeURIComponent(record.topic)}/versions/${record.version}/data`,
    topic: record.topic,
    version: record.version,
    signal,
  });
  return data;
}

function verify(record: VersionRecord, data: Uint8Array): void {
  const where = `${record.topic}@${record.version}`;
  if (data.byteLength !== record.size)
    throw new IntegrityError(
      `payload of ${where} has ${data.byteLength} bytes, its record says ${record.size}`,
      {
        expected: record.size,
        actual: data.byteLength,
      },
    );
  const actual = sha256Hex(data);
  if (actual !== record.sha256)
    throw new IntegrityError(`payload of ${where} does not match its sha256`, {
      expected: record.sha256,
      actual,
    });
}
