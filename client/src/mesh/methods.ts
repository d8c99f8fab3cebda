import { MESH_HTTP_METHODS, type MeshHttpMethod } from './names.js';

/** Every method bit set: a route or rule without a method list accepts any method, even unknown ones. */
export const ANY_METHOD_MASK = -1;

const METHOD_BITS: ReadonlyMap<string, number> = new Map(MESH_HTTP_METHODS.map((m, i) => [m, 1 << i]));

/** The bit of a request method; 0 for a method no document can list (it then matches only "any method"). */
export function methodBit(method: string): number {
  return METHOD_BITS.get(method) ?? 0;
}

export function methodMask(methods: readonly MeshHttpMethod[] | undefined): number {
  if (!methods) return ANY_METHOD_MASK;
  let mask = 0;
  for (const m of methods) mask |= methodBit(m);
  return mask;
}
