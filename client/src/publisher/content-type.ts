/**
 * RFC 7231 media type (`type/subtype; name=value`), printable ASCII only. A content type travels as an
 * HTTP header (raw publishes, every download through the server): one fetch cannot send, a copy-pasted
 * typographic quote or a control character, would otherwise surface as "cannot reach the server".
 */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

/** The server stores at most this many characters. */
export const MAX_CONTENT_TYPE_LENGTH = 255;

/** Why `value` is not a content type meshpress can carry, or undefined when it is one. */
export function contentTypeProblem(value: string): string | undefined {
  if (value.length === 0) return 'expected a media type such as application/json';
  if (value.length > MAX_CONTENT_TYPE_LENGTH) return `longer than ${MAX_CONTENT_TYPE_LENGTH} characters`;
  const odd = [...value].find((c) => c < ' ' || c > '~');
  if (odd !== undefined)
    return `${JSON.stringify(value)} contains ${JSON.stringify(odd)} (U+${odd.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}): only printable ASCII is allowed`;
  if (!MEDIA_TYPE.test(value))
    return `${JSON.stringify(value)} is not a media type: expected type/subtype, then optional ; name=value parameters`;
  return undefined;
}
