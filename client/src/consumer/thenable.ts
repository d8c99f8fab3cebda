/**
 * Whether `value` is something `await` would wait for (a promise or any object or function with a `then`
 * method). User callbacks (decoders, listeners) are usually synchronous; checking first lets the client
 * apply their result in the same turn instead of spending promise hops on every update.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
