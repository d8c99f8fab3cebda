import { MalformedRequestError } from '../core/errors.js';
import { documentPath } from './document-path.js';

/**
 * Parses JSON text into a value, with a MalformedRequestError naming the problem. Also refused, where
 * JSON.parse would silently publish something else: a key twice in one object (the last would win), a
 * number beyond the double range (Infinity, then null), an integer a double cannot hold exactly. A
 * leading byte order mark is ignored.
 */
export function parseJsonDocument(text: string): unknown {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (cause) {
    throw new MalformedRequestError(
      `the JSON document does not parse: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  }
  checkLossless(source);
  return value;
}

interface Frame {
  /** Keys seen so far, for an object; undefined for an array. */
  readonly keys: Set<string> | undefined;
  /** The member's key, or the element's index. */
  at: string | number;
  expectingKey: boolean;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;

/** Walks text JSON.parse accepted, so only what JSON.parse hides needs checking. */
function checkLossless(text: string): void {
  const stack: Frame[] = [];
  const path = () => stack.map((f) => f.at);
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const top = stack[stack.length - 1];
    if (c === '{' || c === '[') {
      stack.push({
        keys: c === '{' ? new Set() : undefined,
        at: c === '{' ? '' : 0,
        expectingKey: c === '{',
      });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === ',') {
      if (top?.keys) top.expectingKey = true;
      else if (top) top.at = (top.at as number) + 1;
      i++;
    } else if (c === ':') {
      top!.expectingKey = false;
      i++;
    } else if (c === '"') {
      STRING.lastIndex = i;
      const token = STRING.exec(text)![0];
      if (top?.keys && top.expectingKey) {
        const key = JSON.parse(token) as string;
        top.at = key;
        if (top.keys.has(key))
          throw refused(`key '${key}' appears twice in ${documentPath(path().slice(0, -1))}`);
        top.keys.add(key);
      }
      i += token.length;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text)!;
      checkNumber(match[0], match[1] === undefined && match[2] === undefined, path());
      i += match[0].length;
    } else i++; // whitespace, true, false, null
  }
}

function checkNumber(token: string, integer: boolean, path: (string | number)[]): void {
  const value = Number(token);
  if (!Number.isFinite(value))
    throw refused(
      `${documentPath(path)}: ${token} is beyond the range of a JSON number (it would become ${value}, then null)`,
    );
  if (integer && BigInt(value) !== BigInt(token))
    throw refused(
      `${documentPath(path)}: the integer ${token} cannot be held exactly by a JSON number (it would become ${BigInt(value)}); quote it`,
    );
}

function refused(reason: string): MalformedRequestError {
  return new MalformedRequestError(`the JSON document is refused: ${reason}`);
}
