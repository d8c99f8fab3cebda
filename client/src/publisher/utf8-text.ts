import { MalformedRequestError } from '../core/errors.js';

// fatal: a Latin-1 file would otherwise turn into U+FFFD characters and be published changed.
// ignoreBOM false (the default) drops a leading byte order mark, which JSON.parse refuses.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The text of a document's bytes; MalformedRequestError when they are not UTF-8. */
export function decodeUtf8Text(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new MalformedRequestError(
      `the ${what} input is not valid UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)`,
      { cause },
    );
  }
}
