import type { z } from 'zod';
import { type FieldIssue, ValidationError } from '../core/errors.js';
import { DOCUMENT_KINDS, type DocumentKind } from '../core/model.js';
import { type PolicyDocument, policyDocumentSchema } from './policy-schema.js';
import { type RoutesDocument, routesDocumentSchema } from './routes-schema.js';
import { checkPolicySemantics, checkRoutesSemantics } from './semantic-checks.js';

export type MeshDocument = RoutesDocument | PolicyDocument;

/** zod issues as field issues; an unknown key is reported at its own path (`router.routes.0.foo`). */
function schemaIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: 'unknown field' }));
    return [{ path: base.join('.') || '(root)', message: issue.message }];
  });
}

function fail(kind: string, issues: FieldIssue[]): never {
  const first = issues[0];
  const more = issues.length > 1 ? ` and ${issues.length - 1} more` : '';
  throw new ValidationError(`invalid ${kind} document (${first?.path}: ${first?.message}${more})`, issues);
}

/**
 * Validates a decoded document of the given kind: shape (strict: unknown fields are errors), then the
 * cross-field rules. Returns the typed document (with schema defaults applied) or throws a
 * ValidationError whose `issues` name the path of each problem.
 */
export function validateDocument(kind: 'mesh.routes.v1', value: unknown): RoutesDocument;
export function validateDocument(kind: 'mesh.policy.v1', value: unknown): PolicyDocument;
export function validateDocument(kind: DocumentKind, value: unknown): MeshDocument;
export function validateDocument(kind: DocumentKind, value: unknown): MeshDocument {
  if (kind === 'mesh.routes.v1') {
    const parsed = routesDocumentSchema.safeParse(value);
    if (!parsed.success) fail(kind, schemaIssues(parsed.error));
    const issues = checkRoutesSemantics(parsed.data);
    if (issues.length > 0) fail(kind, issues);
    return parsed.data;
  }
  if (kind === 'mesh.policy.v1') {
    const parsed = policyDocumentSchema.safeParse(value);
    if (!parsed.success) fail(kind, schemaIssues(parsed.error));
    const issues = checkPolicySemantics(parsed.data);
    if (issues.length > 0) fail(kind, issues);
    return parsed.data;
  }
  return fail(String(kind), [
    { path: 'kind', message: `unknown document kind (one of ${DOCUMENT_KINDS.join(', ')})` },
  ]);
}
