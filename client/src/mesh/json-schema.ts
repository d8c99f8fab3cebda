import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import type { DocumentKind } from '../core/model.js';
import { policyDocumentSchema } from './policy-schema.js';
import { routesDocumentSchema } from './routes-schema.js';

/**
 * JSON Schema (draft 2020-12) of a document kind, as publishers write it (fields with defaults are
 * optional). It covers shape only; the cross-field rules of validateDocument (targets naming defined
 * nodes, unique names, safe regexes, timeouts) are enforced at publish time. A fresh object per call.
 */
export function meshDocumentJsonSchema(kind: DocumentKind): Record<string, unknown> {
  const schema =
    kind === 'mesh.routes.v1'
      ? routesDocumentSchema
      : kind === 'mesh.policy.v1'
        ? policyDocumentSchema
        : undefined;
  if (!schema)
    throw new ValidationError(`unknown document kind '${String(kind)}'`, [
      { path: 'kind', message: 'unknown document kind' },
    ]);
  return z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
