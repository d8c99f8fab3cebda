import type { FieldIssue } from '../core/errors.js';
import { DEFAULT_MESH_ROUTE_TIMEOUT_MS } from './defaults.js';
import { parseMeshEndpointUrl } from './endpoint-schema.js';
import type { PolicyDocument } from './policy-schema.js';
import { compareRoutePrecedence } from './route-precedence.js';
import type { MeshRoute, RoutesDocument } from './routes-schema.js';
import { compileHeaderRegex } from './safe-regex.js';

/** Reports each later occurrence of a key already seen, naming where it first appeared. */
function duplicates<T>(
  items: readonly T[],
  key: (item: T) => string,
  path: (index: number) => string,
  what: string,
  issues: FieldIssue[],
): void {
  const first = new Map<string, number>();
  items.forEach((item, index) => {
    const k = key(item);
    const seen = first.get(k);
    if (seen === undefined) first.set(k, index);
    else issues.push({ path: path(index), message: `duplicate ${what} '${k}' (first at ${path(seen)})` });
  });
}

/**
 * Checks a routes document that passed the schema for what a schema cannot express. Every issue names
 * the exact field, e.g. `router.routes.3.action.weightedTargets.0.virtualNode`.
 */
export function checkRoutesSemantics(doc: RoutesDocument): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const routes = doc.router.routes;
  duplicates(
    doc.virtualNodes,
    (n) => n.name,
    (i) => `virtualNodes.${i}.name`,
    'virtual node name',
    issues,
  );
  duplicates(
    routes,
    (r) => r.name,
    (i) => `router.routes.${i}.name`,
    'route name',
    issues,
  );

  doc.virtualNodes.forEach((node, n) => {
    duplicates(node.endpoints, endpointKey, (i) => `virtualNodes.${n}.endpoints.${i}`, 'endpoint', issues);
  });

  const nodeNames = new Set(doc.virtualNodes.map((n) => n.name));
  routes.forEach((route, r) => {
    const at = `router.routes.${r}`;
    const targets = route.action.weightedTargets;
    targets.forEach((target, t) => {
      if (!nodeNames.has(target.virtualNode))
        issues.push({
          path: `${at}.action.weightedTargets.${t}.virtualNode`,
          message: `virtual node '${target.virtualNode}' is not defined in virtualNodes`,
        });
    });
    duplicates(
      targets,
      (t) => t.virtualNode,
      (t) => `${at}.action.weightedTargets.${t}.virtualNode`,
      'target',
      issues,
    );
    if (targets.every((t) => t.weight === 0))
      issues.push({
        path: `${at}.action.weightedTargets`,
        message: 'at least one target needs a weight above 0',
      });

    duplicates(route.match.methods ?? [], String, (i) => `${at}.match.methods.${i}`, 'method', issues);
    route.match.headers?.forEach((header, h) => {
      if (header.regex === undefined) return;
      const compiled = compileHeaderRegex(header.regex);
      if (typeof compiled === 'string')
        issues.push({ path: `${at}.match.headers.${h}.regex`, message: compiled });
    });

    const retry = route.retryPolicy;
    if (retry) {
      duplicates(retry.retryOn, String, (i) => `${at}.retryPolicy.retryOn.${i}`, 'retry event', issues);
      const timeout = route.timeoutMs ?? DEFAULT_MESH_ROUTE_TIMEOUT_MS;
      if (retry.perTryTimeoutMs > timeout)
        issues.push({
          path: `${at}.retryPolicy.perTryTimeoutMs`,
          message: `perTryTimeoutMs (${retry.perTryTimeoutMs}) exceeds the route timeout (${timeout}${route.timeoutMs === undefined ? ', the default' : ''})`,
        });
      const backoff = retry.backoff;
      if (backoff?.maxIntervalMs !== undefined && backoff.maxIntervalMs < backoff.baseIntervalMs)
        issues.push({
          path: `${at}.retryPolicy.backoff.maxIntervalMs`,
          message: 'maxIntervalMs is below baseIntervalMs',
        });
    }
  });

  shadowedRoutes(routes, issues);
  return issues;
}

function endpointKey(e: {
  host?: string | undefined;
  port?: number | undefined;
  url?: string | undefined;
}): string {
  const parsed = e.url === undefined ? undefined : parseMeshEndpointUrl(e.url);
  return parsed ? `${parsed.host}:${parsed.port}` : `${e.host}:${e.port}`;
}

/** A route whose match is identical to one tried before it can never be chosen: almost always a mistake. */
function shadowedRoutes(routes: readonly MeshRoute[], issues: FieldIssue[]): void {
  const order = routes.map((route, index) => ({ route, index }));
  order.sort((a, b) => compareRoutePrecedence(a.route, a.index, b.route, b.index));
  const seen = new Map<string, number>();
  for (const { route, index } of order) {
    const key = matchKey(route);
    const earlier = seen.get(key);
    if (earlier === undefined) seen.set(key, index);
    else
      issues.push({
        path: `router.routes.${index}.match`,
        message: `route can never match: route '${routes[earlier]!.name}' (router.routes.${earlier}) has the same match and is tried first`,
      });
  }
}

function matchKey(route: MeshRoute): string {
  const m = route.match;
  const headers = (m.headers ?? [])
    .map((h) =>
      JSON.stringify([h.name.toLowerCase(), h.exact, h.prefix, h.regex, h.present, h.invert ?? false]),
    )
    .sort();
  return JSON.stringify([m.path, m.prefix, [...new Set(m.methods ?? [])].sort(), headers]);
}

/** Checks a policy document that passed the schema: unique names and lists, rules that could ever match. */
export function checkPolicySemantics(doc: PolicyDocument): FieldIssue[] {
  const issues: FieldIssue[] = [];
  duplicates(
    doc.rules,
    (r) => r.name,
    (i) => `rules.${i}.name`,
    'rule name',
    issues,
  );
  doc.rules.forEach((rule, r) => {
    const at = `rules.${r}`;
    duplicates(rule.from.apps ?? [], String, (i) => `${at}.from.apps.${i}`, 'app', issues);
    duplicates(rule.from.principals ?? [], String, (i) => `${at}.from.principals.${i}`, 'principal', issues);
    duplicates(rule.to.methods ?? [], String, (i) => `${at}.to.methods.${i}`, 'method', issues);
    duplicates(
      rule.to.paths ?? [],
      (p) => (p.exact === undefined ? `prefix ${p.prefix}` : `exact ${p.exact}`),
      (i) => `${at}.to.paths.${i}`,
      'path',
      issues,
    );
    if (doc.mtls.mode === 'DISABLE' && rule.from.principals)
      issues.push({
        path: `${at}.from.principals`,
        message: 'principals never match when mtls.mode is DISABLE (no peer certificate is verified)',
      });
  });
  return issues;
}
