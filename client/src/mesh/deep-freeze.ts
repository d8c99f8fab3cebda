/**
 * Freezes a value and everything reachable from it, so a snapshot handed to many requests cannot be
 * changed by any of them. Only plain data (objects, arrays) and functions are expected here, all with
 * string keys; a value already frozen is taken to be frozen deeply (everything here freezes bottom-up).
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || Object.isFrozen(value))
    return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
  } else {
    const record = value as Record<string, unknown>;
    for (const key in record) if (Object.hasOwn(record, key)) deepFreeze(record[key]);
  }
  return Object.freeze(value);
}
