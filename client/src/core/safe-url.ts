/**
 * Server URLs end up in error messages, logs and CLI output. Credentials in them (`http://user:secret@…`)
 * would be printed there, so options refuse them, and messages show a URL's origin and path only.
 */

/** Origin and path of `url`: never its user info, query or fragment. Best effort for strings that are not URLs. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.origin !== 'null') return `${parsed.origin}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    // Not a URL: strip what could be secret from the text itself.
  }
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i, '$1').replace(/[?#].*$/s, '');
}

/**
 * Why `url` cannot be a meshpress server's base URL, or undefined when it can: it must not carry
 * credentials (meshpress callers identify themselves with headers; a password in a URL would be
 * printed), nor a query or fragment (request paths are appended to it).
 */
export function serverUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined; // the caller's own URL check reports it
  }
  if (parsed.username !== '' || parsed.password !== '')
    return 'must not contain a user name or password (they would appear in logs and error messages)';
  if (parsed.search !== '' || parsed.hash !== '') return 'must not contain a query or fragment';
  return undefined;
}
