import { expect } from 'vitest';
import { type FieldIssue, ValidationError } from '../../../client/src/core/errors.js';
import type { DocumentKind } from '../../../client/src/core/model.js';
import { validateDocument } from '../../../client/src/mesh/index.js';

/** The issues validateDocument reports for `value` (fails the test if it accepts it). */
export function issuesOf(kind: DocumentKind, value: unknown): FieldIssue[] {
  try {
    validateDocument(kind, value);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('VALIDATION_FAILED');
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected the document to be rejected');
}

export function pathsOf(kind: DocumentKind, value: unknown): string[] {
  return issuesOf(kind, value).map((i) => i.path);
}
