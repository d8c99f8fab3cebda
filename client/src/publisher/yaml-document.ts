import { MalformedRequestError } from '../core/errors.js';
import { documentPath } from './document-path.js';

// yaml's own default; named here because merge keys expand aliases too.
const MAX_ALIAS_COUNT = 100;

/**
 * Parses YAML text (one document) into the JSON value it describes. Refused, as MalformedRequestError,
 * rather than published changed: an empty document (null), numbers JSON cannot carry (.inf, .nan,
 * integers a double cannot hold), values JSON has no form for (binary, sets, timestamps), collection
 * keys, unresolved tags. Merge keys (`<<: *defaults`) are applied, as YAML 1.1 tools do.
 */
export async function yamlToJson(text: string): Promise<unknown> {
  // Loaded on first use, so commands that never see YAML start faster.
  const { isCollection, isScalar, parseDocument, visit } = await import('yaml');
  let value: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: true, intAsBigInt: true });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw problem;
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null && contents.source === ''))
      throw new MalformedRequestError('the YAML document is empty (an explicit null is written null or ~)');
    // yaml would stringify such a key ("[ a, b ]") with a process warning on stderr.
    visit(doc, {
      Pair(_, pair) {
        if (isCollection(pair.key))
          throw new MalformedRequestError(
            `the YAML document has a key that is not a scalar (${String(pair.key)}): JSON keys are strings`,
          );
      },
    });
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    if (cause instanceof MalformedRequestError) throw cause;
    const reason = cause instanceof Error ? cause.message.split('\n')[0]!.replace(/:$/, '') : String(cause);
    throw new MalformedRequestError(`the YAML document does not parse: ${reason}`, { cause });
  }
  return jsonValue(value, []);
}

/** `value` with its integers as numbers, or a MalformedRequestError naming what JSON would change. */
function jsonValue(value: unknown, path: (string | number)[]): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') {
    const number = Number(value);
    if (BigInt(number) !== value)
      throw refused(
        path,
        `the integer ${value} cannot be held exactly by a JSON number (it would become ${BigInt(number)}); quote it`,
      );
    return number;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw refused(path, `${value} is not a JSON number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => jsonValue(item, [...path, i]));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    // defineProperty: a `__proto__` key stays data instead of setting the prototype.
    for (const [key, item] of Object.entries(value))
      Object.defineProperty(out, key, {
        value: jsonValue(item, [...path, key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  const kind = value instanceof Uint8Array ? 'binary data' : (value?.constructor?.name ?? typeof value);
  throw refused(path, `a ${kind} value has no JSON form`);
}

function refused(path: (string | number)[], reason: string): MalformedRequestError {
  return new MalformedRequestError(`the YAML document is refused at ${documentPath(path)}: ${reason}`);
}
