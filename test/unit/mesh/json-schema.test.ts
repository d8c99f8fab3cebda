import { describe, expect, it } from 'vitest';
import { meshDocumentJsonSchema } from '../../../client/src/mesh/index.js';
import { policyDoc, routesDoc } from './fixtures.js';

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
};

/**
 * The subset of JSON Schema the export uses, checked by hand: enough to prove the schema describes the
 * documents validateDocument accepts and rejects what it must. Returns the paths that violate it.
 */
function violations(schema: Schema, value: unknown, path = ''): string[] {
  const out: string[] = [];
  if (schema.const !== undefined && value !== schema.const) out.push(`${path} const`);
  if (schema.enum && !schema.enum.includes(value)) out.push(`${path} enum`);
  if (schema.type === 'string' && schema.pattern && !new RegExp(schema.pattern, 'u').test(String(value)))
    out.push(`${path} pattern`);
  if (schema.type === 'integer' && !Number.isInteger(value)) out.push(`${path} integer`);
  if (schema.maximum !== undefined && (value as number) > schema.maximum) out.push(`${path} maximum`);
  if (schema.type === 'array')
    for (const [i, v] of (value as unknown[]).entries())
      out.push(...violations(schema.items!, v, `${path}/${i}`));
  if (schema.type === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) out.push(`${path}/${key} required`);
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties?.[key];
      if (!sub) {
        if (schema.additionalProperties === false) out.push(`${path}/${key} additional`);
      } else out.push(...violations(sub, v, `${path}/${key}`));
    }
    if (schema.oneOf) {
      const holding = schema.oneOf.filter((alt) => (alt.required ?? []).every((k) => k in obj));
      if (holding.length !== 1) out.push(`${path} oneOf`);
    }
  }
  return out;
}

describe('meshDocumentJsonSchema', () => {
  const routes = meshDocumentJsonSchema('mesh.routes.v1') as Schema & Record<string, unknown>;
  const policy = meshDocumentJsonSchema('mesh.policy.v1') as Schema & Record<string, unknown>;

  it('is a draft 2020-12 object schema pinned to its kind, closed to unknown fields', () => {
    expect(routes.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(routes.properties!.kind!.const).toBe('mesh.routes.v1');
    expect(policy.properties!.kind!.const).toBe('mesh.policy.v1');
    expect(routes.additionalProperties).toBe(false);
    expect(routes.required).toEqual(
      expect.arrayContaining(['kind', 'virtualService', 'router', 'virtualNodes']),
    );
  });

  it('describes the valid fixtures with no violations', () => {
    expect(violations(routes, routesDoc())).toEqual([]);
    expect(violations(policy, policyDoc())).toEqual([]);
  });

  it('flags what validateDocument rejects: unknown fields, both prefix and path, bad enums and names', () => {
    const doc = routesDoc();
    (doc.router.routes[0] as Record<string, unknown>).extra = 1;
    doc.router.routes[3]!.match.prefix = '/h';
    (doc.router.routes[1]!.match.methods as string[]) = ['FETCH'];
    doc.virtualNodes[0]!.name = 'has space';
    expect(violations(routes, doc).sort()).toEqual(
      [
        '/router/routes/0/extra additional',
        '/router/routes/3/match oneOf',
        '/router/routes/1/match/methods/0 enum',
        '/virtualNodes/0/name pattern',
      ].sort(),
    );
  });

  it('describes publisher input: defaulted fields are optional and carry their default', () => {
    expect(policy.required).not.toContain('defaultAction');
    expect(policy.properties!.defaultAction).toMatchObject({ default: 'DENY', enum: ['ALLOW', 'DENY'] });
  });

  it('returns a fresh object per call', () => {
    const a = meshDocumentJsonSchema('mesh.routes.v1');
    a.title = 'changed';
    expect(meshDocumentJsonSchema('mesh.routes.v1').title).toBe('mesh.routes.v1');
  });
});
