import { deepFreeze } from './deep-freeze.js';
import { ANY_METHOD_MASK, methodBit, methodMask } from './methods.js';
import {
  ANY_PRINCIPAL,
  type MeshPolicyRule,
  type PolicyAction,
  type PolicyDocument,
} from './policy-schema.js';
import type { PolicySnapshot } from './snapshot-types.js';

/** One rule with its lists turned into sets and masks. Same shape for every rule. */
class CompiledRule {
  constructor(
    readonly action: PolicyAction,
    /** null: any principal, or none. */
    readonly principals: ReadonlySet<string> | null,
    readonly anyPrincipal: boolean,
    readonly methodMask: number,
    /** null: any path. */
    readonly exactPaths: ReadonlySet<string> | null,
    readonly prefixes: readonly string[],
  ) {}

  matches(principal: string | undefined, bit: number, path: string): boolean {
    if (this.principals !== null) {
      if (principal === undefined) return false;
      if (!this.anyPrincipal && !this.principals.has(principal)) return false;
    }
    if (this.methodMask !== ANY_METHOD_MASK && (this.methodMask & bit) === 0) return false;
    if (this.exactPaths === null) return true;
    if (this.exactPaths.has(path)) return true;
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) if (path.startsWith(prefixes[i]!)) return true;
    return false;
  }
}

function compileRule(rule: MeshPolicyRule): CompiledRule {
  const principals = rule.from.principals;
  const paths = rule.to.paths;
  return new CompiledRule(
    rule.action,
    principals ? new Set(principals) : null,
    principals?.includes(ANY_PRINCIPAL) ?? false,
    methodMask(rule.to.methods),
    paths ? new Set(paths.flatMap((p) => (p.exact === undefined ? [] : [p.exact]))) : null,
    paths ? paths.flatMap((p) => (p.prefix === undefined ? [] : [p.prefix])) : [],
  );
}

/**
 * Compiles a validated policy document into a deeply frozen snapshot. Rules are pre-sorted per source
 * app: each app named in any rule gets the list of rules that can apply to it (those naming it and
 * those naming no app), in document order; every other caller gets the rules naming no app.
 */
export function compilePolicy(doc: PolicyDocument): PolicySnapshot {
  const compiled = doc.rules.map(compileRule);
  const anyApp = compiled.filter((_, i) => doc.rules[i]!.from.apps === undefined);
  const byApp = new Map<string, CompiledRule[]>();
  for (const app of new Set(doc.rules.flatMap((r) => r.from.apps ?? []))) {
    byApp.set(
      app,
      compiled.filter((_, i) => {
        const apps = doc.rules[i]!.from.apps;
        return apps === undefined || apps.includes(app);
      }),
    );
  }
  const defaultAction = doc.defaultAction;
  const strict = doc.mtls.mode === 'STRICT';
  const ignorePrincipal = doc.mtls.mode === 'DISABLE';

  const decide = (
    sourceApp: string | undefined,
    principal: string | undefined,
    method: string,
    rawPath: string,
  ): PolicyAction => {
    const peer = ignorePrincipal || principal === '' ? undefined : principal;
    if (strict && peer === undefined) return 'DENY';
    const rules = (sourceApp === undefined ? undefined : byApp.get(sourceApp)) ?? anyApp;
    const query = rawPath.indexOf('?');
    const path = query < 0 ? rawPath : rawPath.slice(0, query);
    const bit = methodBit(method);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.matches(peer, bit, path)) return rule.action;
    }
    return defaultAction;
  };

  return deepFreeze({
    kind: 'mesh.policy.v1',
    empty: false,
    service: doc.service,
    mtlsMode: doc.mtls.mode,
    defaultAction,
    rules: structuredClone(doc.rules),
    decide,
  });
}

/** The policy snapshot before any document arrives (and after close): every request is denied. */
export const EMPTY_POLICY_SNAPSHOT: PolicySnapshot = deepFreeze({
  kind: 'mesh.policy.v1',
  empty: true,
  service: '',
  mtlsMode: 'STRICT',
  defaultAction: 'DENY',
  rules: [],
  decide: (): PolicyAction => 'DENY',
});
