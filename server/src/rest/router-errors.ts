import { type FieldIssue, MalformedRequestError, ValidationError } from '@meshpress/client';

/**
 * Failures the router meets before any route runs, in meshpress terms. Without this Fastify answers them
 * itself (`414 FST_ERR_MAX_PARAM_LENGTH`, `400 FST_ERR_BAD_URL`) in a body clients cannot decode.
 */

/** The path is not valid percent-encoding (`%E0%A4`, `%zz`), so no parameter can be read from it. */
export function badUrl(): MalformedRequestError {
  return new MalformedRequestError('the request path is not valid percent-encoding');
}

/**
 * A path segment is longer than any valid parameter. The router does not say which parameter, so it is
 * found from the routes of the same shape: the issue then names it as a schema issue would (`scope`).
 */
export function paramTooLong(url: string, routeUrls: readonly string[], maxLength: number): ValidationError {
  const message = `Too big: expected string to have <=${maxLength} characters`;
  const segments = (url.split('?')[0] ?? '').split('/');
  const names = new Set<string>();
  for (const routeUrl of routeUrls) {
    const parts = routeUrl.split('/');
    if (parts.length !== segments.length) continue;
    const tooLong: string[] = [];
    const sameShape = parts.every((part, i) => {
      const segment = segments[i]!;
      if (!part.startsWith(':')) return part === segment;
      if (decodedLength(segment) > maxLength) tooLong.push(part.slice(1));
      return true;
    });
    if (sameShape) for (const name of tooLong) names.add(name);
  }
  const issues: FieldIssue[] =
    names.size > 0 ? [...names].map((path) => ({ path, message })) : [{ path: '(path)', message }];
  return new ValidationError(`invalid path parameters (${issues[0]!.path}: ${message})`, issues);
}

function decodedLength(segment: string): number {
  try {
    return decodeURIComponent(segment).length;
  } catch {
    return segment.length;
  }
}
