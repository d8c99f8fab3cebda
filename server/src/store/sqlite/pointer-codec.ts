import { type DataPointer, InternalError } from '@meshpress/client';
import { z } from 'zod';

/** How a DataPointer is laid out in the `versions` row: direct payloads as a BLOB, the others as JSON. */
export interface EncodedPointer {
  readonly pointer_kind: DataPointer['kind'];
  readonly pointer_json: string | null;
  readonly pointer_data: Buffer | null;
}

const s3LocationsSchema = z.array(z.object({ region: z.string(), bucket: z.string(), key: z.string() }));
const localSchema = z.object({ key: z.string() });

export function encodePointer(pointer: DataPointer): EncodedPointer {
  switch (pointer.kind) {
    case 'direct':
      // Copy: the caller may reuse its buffer, and better-sqlite3 binds Buffers, not bare Uint8Arrays.
      return { pointer_kind: 'direct', pointer_json: null, pointer_data: Buffer.from(pointer.data) };
    case 's3':
      return {
        pointer_kind: 's3',
        pointer_json: JSON.stringify(
          pointer.locations.map((l) => ({ region: l.region, bucket: l.bucket, key: l.key })),
        ),
        pointer_data: null,
      };
    case 'local':
      return {
        pointer_kind: 'local',
        pointer_json: JSON.stringify({ key: pointer.key }),
        pointer_data: null,
      };
  }
}

export function decodePointer(row: {
  readonly pointer_kind: string;
  readonly pointer_json: string | null;
  readonly pointer_data: Buffer | null;
}): DataPointer {
  switch (row.pointer_kind) {
    case 'direct':
      if (row.pointer_data === null) throw new InternalError('stored direct pointer has no payload');
      // A plain Uint8Array copy: callers compare and hand out bytes without Buffer's pooled backing store.
      return { kind: 'direct', data: new Uint8Array(row.pointer_data) };
    case 's3':
      return { kind: 's3', locations: parseJson(s3LocationsSchema, row.pointer_json) };
    case 'local':
      return { kind: 'local', key: parseJson(localSchema, row.pointer_json).key };
    default:
      throw new InternalError(`stored pointer has unknown kind '${row.pointer_kind}'`);
  }
}

function parseJson<T>(schema: z.ZodType<T>, text: string | null): T {
  const result = text === null ? undefined : schema.safeParse(JSON.parse(text));
  if (!result?.success) throw new InternalError('stored pointer is malformed');
  return result.data;
}
