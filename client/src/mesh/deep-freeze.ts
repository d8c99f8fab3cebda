/**
 * Freezes a value and everything reachable from it, so a snapshot handed to many requests cannot be
 * changed by any of them. Only plain objects, arrays and functions are expected here.
 */
export function deepFreeze<T>(value: T): T {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null || Object.isFrozen(value))
    return value;
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value as object)) {
    deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
