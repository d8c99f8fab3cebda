import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  compileRoutes,
  NO_HEADERS,
  validateDocument,
} from '../../../client/src/mesh/index.js';

const markdown = readFileSync(new URL('../../../docs/mesh-documents.md', import.meta.url), 'utf8');
/** Whole documents among the page's JSON blocks (other blocks hold fragments, some several per block). */
const documents = [...markdown.matchAll(/```json\n([\s\S]*?)```/g)].flatMap((m) => {
  try {
    const value = JSON.parse(m[1]!) as { kind?: unknown };
    return typeof value.kind === 'string' ? [value] : [];
  } catch {
    return [];
  }
});

describe('docs/mesh-documents.md examples', () => {
  it('holds one complete example of each kind', () => {
    expect(documents.map((d) => d.kind).sort()).toEqual(['mesh.policy.v1', 'mesh.routes.v1']);
  });

  it('the routes example validates and routes as the text says', () => {
    const snap = compileRoutes(
      validateDocument(
        'mesh.routes.v1',
        documents.find((d) => d.kind === 'mesh.routes.v1'),
      ),
    );
    const beta = (name: string) => (name === 'x-beta' ? 'yes' : undefined);
    expect(snap.route('GET', '/items/1', NO_HEADERS)?.route).toBe('items-canary');
    expect(snap.route('POST', '/items/1', beta)?.route).toBe('items-beta');
    expect(snap.route('POST', '/items/1', NO_HEADERS)?.route).toBe('catch-all');
    expect(snap.route('GET', '/healthz', NO_HEADERS)?.route).toBe('health');
  });

  it('the policy example validates and decides as the text says', () => {
    const policy = compilePolicy(
      validateDocument(
        'mesh.policy.v1',
        documents.find((d) => d.kind === 'mesh.policy.v1'),
      ),
    );
    const web = 'spiffe://prod/ns/web/sa/web';
    expect(policy.decide('web', web, 'GET', '/admin/users')).toBe('DENY');
    expect(policy.decide('web', web, 'GET', '/items')).toBe('ALLOW');
    expect(policy.decide('web', undefined, 'GET', '/items')).toBe('DENY');
    expect(policy.decide('billing', 'spiffe://prod/ns/billing/sa/billing', 'POST', '/refunds')).toBe('ALLOW');
  });
});
