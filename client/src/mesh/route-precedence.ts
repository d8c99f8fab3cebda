import { DEFAULT_MESH_ROUTE_PRIORITY } from './defaults.js';
import type { MeshRoute } from './routes-schema.js';

/**
 * Route precedence: lower `priority` first (routes without one come after all that have one); at equal
 * priority an exact `path` before any `prefix`; among prefixes the longer first; then document order.
 */
export function compareRoutePrecedence(a: MeshRoute, ai: number, b: MeshRoute, bi: number): number {
  return (
    (a.priority ?? DEFAULT_MESH_ROUTE_PRIORITY) - (b.priority ?? DEFAULT_MESH_ROUTE_PRIORITY) ||
    (a.match.path === undefined ? 1 : 0) - (b.match.path === undefined ? 1 : 0) ||
    (b.match.prefix?.length ?? 0) - (a.match.prefix?.length ?? 0) ||
    ai - bi
  );
}
