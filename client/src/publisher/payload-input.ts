import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { yamlToJson } from './yaml-document.js';

/** What `MeshpressAdmin.publish` accepts as a payload. */
export type PublishPayload =
  | string
  | Uint8Array
  | { readonly file: string }
  | { readonly document: unknown }
  | { readonly yaml: string };

export const publishPayloadSchema = z.union([
  z.string(),
  z.instanceof(Uint8Array),
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ document: z.unknown() }).strict(),
  z.object({ yaml: z.string() }).strict(),
]);

/**
 * A payload reduced to the bytes that will be stored (and hashed), plus how to carry them inline:
 * `text` and `document` fit the JSON publish envelope as they are; `bytes` go as a raw body (or base64
 * when their content type is one the server parses itself).
 */
export interface PreparedPayload {
  readonly data: Uint8Array;
  readonly contentType: string;
  readonly form: 'text' | 'document' | 'bytes';
  /** The JSON value, for `document` (stringifies to exactly `data`). */
  readonly document?: unknown;
  /** The text, for `text` (its UTF-8 encoding is `data`). */
  readonly text?: string;
}

export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';
export const JSON_CONTENT_TYPE = 'application/json';
export const BYTES_CONTENT_TYPE = 'application/octet-stream';

const BY_EXTENSION: Readonly<Record<string, string>> = {
  '.json': JSON_CONTENT_TYPE,
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.txt': TEXT_CONTENT_TYPE,
};

export async function preparePayload(
  payload: PublishPayload,
  contentType?: string,
): Promise<PreparedPayload> {
  const input = parseOrThrow(publishPayloadSchema, payload, 'payload', 'payload');
  if (typeof input === 'string') {
    return {
      data: Buffer.from(input, 'utf8'),
      contentType: contentType ?? TEXT_CONTENT_TYPE,
      form: 'text',
      text: input,
    };
  }
  if (input instanceof Uint8Array)
    return { data: input, contentType: contentType ?? BYTES_CONTENT_TYPE, form: 'bytes' };
  if ('file' in input) {
    const data = await readPayloadFile(input.file);
    return { data, contentType: contentType ?? contentTypeForPath(input.file), form: 'bytes' };
  }
  if ('yaml' in input) return documentPayload(await yamlToJson(input.yaml), contentType);
  return documentPayload(input.document, contentType);
}

/** The content type a file's extension suggests (.json, .yaml/.yml, .txt), else application/octet-stream. */
export function contentTypeForPath(path: string): string {
  return BY_EXTENSION[extname(path).toLowerCase()] ?? BYTES_CONTENT_TYPE;
}

function documentPayload(value: unknown, contentType: string | undefined): PreparedPayload {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, refuseNonFinite);
  } catch (cause) {
    if (cause instanceof NonFiniteNumber)
      throw new ValidationError(`the document cannot be written as JSON (${cause.message})`, [
        { path: 'payload.document', message: cause.message },
      ]);
    throw new ValidationError('the document cannot be written as JSON', [
      { path: 'payload.document', message: cause instanceof Error ? cause.message : String(cause) },
    ]);
  }
  if (text === undefined)
    throw new ValidationError('the document cannot be written as JSON', [
      {
        path: 'payload.document',
        message: 'expected a JSON value (object, array, string, number, boolean, null)',
      },
    ]);
  // Re-read so the envelope carries plain JSON data that stringifies on the server to the same bytes.
  return {
    data: Buffer.from(text, 'utf8'),
    contentType: contentType ?? JSON_CONTENT_TYPE,
    form: 'document',
    document: JSON.parse(text),
  };
}

class NonFiniteNumber extends Error {}

/** A JSON.stringify replacer: NaN and the infinities would silently become null. */
function refuseNonFinite(key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new NonFiniteNumber(
      `${value}${key === '' ? '' : ` under key '${key}'`} is not a JSON number (it would become null)`,
    );
  return value;
}

async function readPayloadFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ValidationError(`cannot read payload file '${path}' (${code})`, [
      { path: 'payload.file', message: `cannot read '${path}': ${code}` },
    ]);
  }
}
