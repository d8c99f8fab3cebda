/** A location inside a document as the rest of meshpress writes field paths: `routes.0.match`. */
export function documentPath(path: readonly (string | number)[]): string {
  return path.length === 0 ? '(root)' : path.join('.');
}
