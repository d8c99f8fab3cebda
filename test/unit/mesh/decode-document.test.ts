import { describe, expect, it } from 'vitest';
import { MalformedRequestError, ValidationError } from '../../../client/src/core/errors.js';
import { compileMeshPayload, decodeMeshDocument, NO_HEADERS } from '../../../client/src/mesh/index.js';
import { policyDoc, routesDoc } from './fixtures.js';

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('decodeMeshDocument / compileMeshPayload', () => {
  it('turns payload bytes into a validated document or a ready snapshot', () => {
    expect(decodeMeshDocument('mesh.routes.v1', bytes(routesDoc())).virtualService).toBe(
      'inventory.prod.svc',
    );
    expect(decodeMeshDocument('mesh.policy.v1', JSON.stringify(policyDoc())).defaultAction).toBe('DENY');
    const routes = compileMeshPayload('mesh.routes.v1', bytes(routesDoc()));
    expect(routes.route('GET', '/healthz', NO_HEADERS)?.route).toBe('health');
    const policy = compileMeshPayload('mesh.policy.v1', bytes(policyDoc()));
    expect(policy.decide('web', undefined, 'GET', '/items')).toBe('ALLOW');
  });

  it('reports bytes that are not UTF-8 JSON as malformed, not as invalid', () => {
    expect(() => decodeMeshDocument('mesh.routes.v1', '{"kind":')).toThrow(MalformedRequestError);
    expect(() => decodeMeshDocument('mesh.routes.v1', new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(
      MalformedRequestError,
    );
  });

  it('reports a well-formed but invalid document with its paths', () => {
    const error = (() => {
      try {
        compileMeshPayload('mesh.policy.v1', bytes({ ...policyDoc(), mtls: {} }));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['mtls.mode']);
  });
});
