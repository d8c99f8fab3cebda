import type { z } from 'zod';
import { UsageError } from './usage-error.js';

/**
 * Validates flag values with a schema whose keys are the flags' names (`--limit`), so each problem names
 * the flag to fix. A bad flag is a usage error (exit 2), not a validation failure of the data.
 */
export function parseFlags<S extends z.ZodType>(schema: S, raw: unknown, command: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const flag = issue.path.map(String).join('.') || 'arguments';
    return `${flag}: ${issue.message}`;
  });
  throw new UsageError(
    problems.length === 1 ? problems[0]! : 'invalid options',
    command,
    problems.length > 1 ? problems : [],
  );
}

/** `key=value` pairs (metadata, S3 buckets), refusing entries without `=`. */
export function keyValuePairs(entries: readonly string[], flag: string, command: string): [string, string][] {
  return entries.map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag}: '${entry}' is not key=value`, command);
    return [entry.slice(0, eq), entry.slice(eq + 1)];
  });
}
