const SLASH = 0x2f;

/**
 * Whether a request target is a path the policy can judge as the app will route it: origin-form
 * (`/path?query`, RFC 9112 §3.2.1) whose path does not start with `//`.
 *
 * Node's server also hands over the absolute form (`http://host/admin`), which policy paths (all
 * starting with `/`) never match while the app routes it by its path; the asterisk form of `OPTIONS *`,
 * which has no path to judge (and undici cannot send); and `//host/admin`, valid origin-form that
 * WHATWG URL parsing (`new URL(req.url, base)`, common in Node apps) reads as host `host`, path
 * `/admin`.
 */
export function isOriginFormPath(target: string): boolean {
  return target.charCodeAt(0) === SLASH && target.charCodeAt(1) !== SLASH;
}
