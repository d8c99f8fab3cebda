import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  EMPTY_POLICY_SNAPSHOT,
  type PolicyDocumentInput,
  validateDocument,
} from '../../../client/src/mesh/index.js';
import { policyDoc, tweak } from './fixtures.js';
import { issuesOf, pathsOf } from './support.js';

const KIND = 'mesh.policy.v1';
const compile = (doc: PolicyDocumentInput) => compilePolicy(validateDocument(KIND, doc));
const BILLING = 'spiffe://prod/ns/billing/sa/billing';

describe('mesh.policy.v1 validation', () => {
  it('accepts a document and defaults defaultAction to DENY', () => {
    const doc = validateDocument(KIND, policyDoc());
    expect(doc.defaultAction).toBe('DENY');
    expect(doc.rules).toHaveLength(4);
  });

  it('rejects bad shapes with the path of each problem', () => {
    const doc = tweak(policyDoc(), (d) => {
      (d.mtls as { mode: string }).mode = 'OPTIONAL';
      (d.rules[0]!.action as string) = 'MAYBE';
      d.rules[1]!.from.apps = [];
      d.rules[2]!.to.paths = [{ prefix: '/a', exact: '/a' }];
      (d.rules[3]!.from as Record<string, unknown>).namespaces = ['x'];
      d.rules[3]!.from.principals = ['has space'];
    });
    expect(pathsOf(KIND, doc).sort()).toEqual(
      [
        'mtls.mode',
        'rules.0.action',
        'rules.1.from.apps',
        'rules.2.to.paths.0',
        'rules.3.from.namespaces',
        'rules.3.from.principals.0',
      ].sort(),
    );
  });

  it('rejects duplicate rule names and duplicate list entries', () => {
    const doc = tweak(policyDoc(), (d) => {
      d.rules[1]!.name = 'no-admin-from-web';
      d.rules[1]!.from.apps = ['web', 'web'];
      d.rules[2]!.to.paths = [{ exact: '/refunds' }, { exact: '/refunds' }];
      d.rules[2]!.to.methods = ['POST', 'POST'];
    });
    expect(pathsOf(KIND, doc)).toEqual([
      'rules.1.name',
      'rules.1.from.apps.1',
      'rules.2.to.methods.1',
      'rules.2.to.paths.1',
    ]);
  });

  it('rejects principals when mTLS is disabled, since they could never match', () => {
    const doc = tweak(policyDoc(), (d) => (d.mtls.mode = 'DISABLE'));
    expect(issuesOf(KIND, doc).map((i) => i.path)).toEqual([
      'rules.2.from.principals',
      'rules.3.from.principals',
    ]);
  });
});

describe('PolicySnapshot.decide', () => {
  const policy = compile(policyDoc());

  it('lets the first matching rule in document order decide', () => {
    // web GET /admin/x: rule 0 (DENY) comes before rule 1 (ALLOW).
    expect(policy.decide('web', undefined, 'GET', '/admin/users')).toBe('DENY');
    expect(policy.decide('web', undefined, 'GET', '/items')).toBe('ALLOW');
    expect(policy.decide('mobile-bff', undefined, 'GET', '/admin/users')).toBe('ALLOW');
  });

  it('falls back to the default action when no rule matches', () => {
    expect(policy.decide('web', undefined, 'POST', '/items')).toBe('DENY');
    expect(policy.decide('unknown-app', undefined, 'GET', '/items')).toBe('DENY');
    expect(policy.decide(undefined, undefined, 'GET', '/items')).toBe('DENY');
    const open = compile(tweak(policyDoc(), (d) => (d.defaultAction = 'ALLOW')));
    expect(open.decide('unknown-app', undefined, 'DELETE', '/anything')).toBe('ALLOW');
  });

  it('requires every given source list to contain the caller', () => {
    expect(policy.decide('billing', BILLING, 'POST', '/charges/42')).toBe('ALLOW');
    expect(policy.decide('billing', 'spiffe://prod/ns/other/sa/x', 'POST', '/charges/42')).toBe('DENY');
    expect(policy.decide('billing', undefined, 'POST', '/charges/42')).toBe('DENY');
    expect(policy.decide('web', BILLING, 'POST', '/charges/42')).toBe('DENY');
  });

  it('matches exact and prefix paths, ignoring the query string', () => {
    expect(policy.decide('billing', BILLING, 'POST', '/refunds')).toBe('ALLOW');
    expect(policy.decide('billing', BILLING, 'POST', '/refunds?id=1')).toBe('ALLOW');
    expect(policy.decide('billing', BILLING, 'POST', '/refunds/1')).toBe('DENY');
    expect(policy.decide('billing', BILLING, 'PUT', '/refunds')).toBe('DENY');
  });

  it("treats the '*' principal as any verified peer, from any app", () => {
    expect(policy.decide('anything', 'spiffe://prod/ns/ops/sa/x', 'DELETE', '/status')).toBe('ALLOW');
    expect(policy.decide(undefined, 'spiffe://prod/ns/ops/sa/x', 'GET', '/status')).toBe('ALLOW');
    expect(policy.decide('anything', undefined, 'GET', '/status')).toBe('DENY');
    expect(policy.decide('anything', '', 'GET', '/status')).toBe('DENY');
  });

  it('treats unknown methods as matching only rules without a method list', () => {
    expect(policy.decide('web', undefined, 'PROPFIND', '/items')).toBe('DENY');
    expect(policy.decide('x', 'spiffe://a', 'PROPFIND', '/status')).toBe('ALLOW');
  });

  it('denies requests without a principal before any rule in STRICT mode', () => {
    const strict = compile(tweak(policyDoc(), (d) => (d.mtls.mode = 'STRICT')));
    expect(strict.decide('web', undefined, 'GET', '/items')).toBe('DENY');
    expect(strict.decide('web', 'spiffe://prod/ns/web/sa/web', 'GET', '/items')).toBe('ALLOW');
  });

  it('ignores principals in DISABLE mode', () => {
    const disabled = compile(
      tweak(policyDoc(), (d) => {
        d.mtls.mode = 'DISABLE';
        d.rules = d.rules.filter((r) => !r.from.principals);
      }),
    );
    expect(disabled.decide('web', 'spiffe://whoever', 'GET', '/items')).toBe('ALLOW');
    expect(disabled.mtlsMode).toBe('DISABLE');
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(policy)).toBe(true);
    expect(() => {
      (policy as unknown as { defaultAction: string }).defaultAction = 'ALLOW';
    }).toThrow(TypeError);
    expect(() => {
      (policy.rules[0]!.from.apps as string[]).push('evil');
    }).toThrow(TypeError);
    expect(policy.decide('web', undefined, 'POST', '/items')).toBe('DENY');
  });

  it('does not freeze or share the caller document', () => {
    const doc = validateDocument(KIND, policyDoc());
    const snapshot = compilePolicy(doc);
    doc.rules[1]!.action = 'DENY';
    expect(Object.isFrozen(doc)).toBe(false);
    expect(snapshot.rules[1]!.action).toBe('ALLOW');
    expect(snapshot.decide('web', undefined, 'GET', '/items')).toBe('ALLOW');
  });
});

describe('EMPTY_POLICY_SNAPSHOT', () => {
  it('denies everything and says it is empty', () => {
    expect(EMPTY_POLICY_SNAPSHOT.empty).toBe(true);
    expect(EMPTY_POLICY_SNAPSHOT.decide('web', 'spiffe://x', 'GET', '/')).toBe('DENY');
    expect(Object.isFrozen(EMPTY_POLICY_SNAPSHOT)).toBe(true);
  });
});
