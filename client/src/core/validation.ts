import type { z } from 'zod';
import { type FieldIssue, ValidationError } from './errors.js';

/** Converts zod issues to `{ path, message }`, prefixing each path with `prefix` when given. */
export function toFieldIssues(error: z.ZodError, prefix?: string): FieldIssue[] {
  return error.issues.map((issue) => {
    const parts = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
    return { path: parts.join('.') || '(root)', message: issue.message };
  });
}

/** Parses `value` with `schema` or throws a ValidationError naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix?: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toFieldIssues(result.error, prefix);
  const first = issues[0];
  const summary = first ? `${first.path}: ${first.message}` : 'invalid';
  throw new ValidationError(`invalid ${what} (${summary})`, issues);
}
