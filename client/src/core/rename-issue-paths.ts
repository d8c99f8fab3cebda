import { ValidationError } from './errors.js';

/**
 * Service validation names fields as the service inputs do; an adapter whose request nests or names a few
 * fields differently (the server's gRPC messages and REST query, the client's options) renames the paths to what the caller actually
 * sent. Anything but a ValidationError passes through unchanged.
 */
export function renameIssuePaths(err: unknown, rename: (path: string) => string): unknown {
  if (!(err instanceof ValidationError)) return err;
  const issues = err.issues.map((issue) => ({ path: rename(issue.path), message: issue.message }));
  const before = err.issues[0];
  const after = issues[0];
  const message = before && after ? err.message.replace(`(${before.path}:`, `(${after.path}:`) : err.message;
  return new ValidationError(message, issues, { cause: err.cause });
}
