import type { CompiledHeaderMatcher, HeaderLookup } from './header-matcher.js';
import { ANY_METHOD_MASK, methodBit } from './methods.js';
import type { RouteDecision } from './snapshot-types.js';

/** A route as the matcher sees it: rank, method mask and header conditions, plus its frozen decision. */
export class CompiledRoute {
  constructor(
    readonly rank: number,
    readonly methodMask: number,
    readonly headers: readonly CompiledHeaderMatcher[],
    readonly decision: RouteDecision,
  ) {
    Object.freeze(this);
  }

  /** Method and header conditions (the path was matched by the table). */
  accepts(bit: number, headers: HeaderLookup): boolean {
    if (this.methodMask !== ANY_METHOD_MASK && (this.methodMask & bit) === 0) return false;
    const matchers = this.headers;
    for (let i = 0; i < matchers.length; i++) if (!matchers[i]!.matches(headers)) return false;
    return true;
  }
}

/**
 * Radix-tree node: `label` is the edge text leading here; `routes` those whose prefix ends here, by rank.
 * Children are built in a Map, then flattened into a jump table indexed by first character minus
 * `childBase`: the first characters of siblings are usually close together (digits, letters), and an
 * array index beats a Map lookup on the request path.
 */
class RadixNode {
  label: string;
  routes: CompiledRoute[] | null = null;
  children: Map<number, RadixNode> | null = null;
  childBase = 0;
  childTable: (RadixNode | null)[] | null = null;

  constructor(label: string) {
    this.label = label;
  }

  finish(): void {
    if (this.children === null) return;
    const codes = [...this.children.keys()];
    this.childBase = Math.min(...codes);
    const table = new Array<RadixNode | null>(Math.max(...codes) - this.childBase + 1).fill(null);
    for (const [code, child] of this.children) {
      table[code - this.childBase] = child;
      child.finish();
    }
    this.childTable = table;
    this.children = null;
  }
}

const NO_RANK = Number.MAX_SAFE_INTEGER;

/**
 * Finds the best route for a request without allocating: one Map lookup for exact paths, one walk down a
 * radix tree of prefixes (each step compares an edge label in place with startsWith), and in each
 * candidate list only routes ranked before the best found so far are tested.
 */
export class RouteTable {
  readonly #exact = new Map<string, CompiledRoute[]>();
  readonly #root = new RadixNode('');

  /** `routes` must come in rank order, so every candidate list is sorted by rank. */
  constructor(
    routes: readonly { route: CompiledRoute; path?: string | undefined; prefix?: string | undefined }[],
  ) {
    for (const { route, path, prefix } of routes) {
      if (path !== undefined) {
        const list = this.#exact.get(path);
        if (list) list.push(route);
        else this.#exact.set(path, [route]);
      } else if (prefix !== undefined) this.#insertPrefix(prefix, route);
    }
    this.#root.finish();
  }

  #insertPrefix(prefix: string, route: CompiledRoute): void {
    let node = this.#root;
    let pos = 0;
    while (pos < prefix.length) {
      const first = prefix.charCodeAt(pos);
      node.children ??= new Map();
      let child = node.children.get(first);
      if (!child) {
        child = new RadixNode(prefix.slice(pos));
        node.children.set(first, child);
        node = child;
        pos = prefix.length;
        break;
      }
      let common = 0;
      const label = child.label;
      while (
        common < label.length &&
        pos + common < prefix.length &&
        label.charCodeAt(common) === prefix.charCodeAt(pos + common)
      )
        common++;
      if (common < label.length) {
        const middle = new RadixNode(label.slice(0, common));
        child.label = label.slice(common);
        middle.children = new Map([[child.label.charCodeAt(0), child]]);
        node.children.set(first, middle);
        child = middle;
      }
      pos += common;
      node = child;
    }
    if (node.routes) node.routes.push(route);
    else node.routes = [route];
  }

  find(method: string, rawPath: string, headers: HeaderLookup): RouteDecision | undefined {
    const query = rawPath.indexOf('?');
    const path = query < 0 ? rawPath : rawPath.slice(0, query);
    const bit = methodBit(method);
    const exact = this.#exact.get(path);
    const best = exact === undefined ? undefined : firstAccepting(exact, bit, headers, NO_RANK);

    return descend(this.#root, path, 0, bit, headers, best)?.decision;
  }
}

/**
 * Walks down the radix tree along `path`, then tests candidate lists on the way back up: deepest
 * (longest prefix, usually the best rank) first, so shallower lists are mostly skipped by the rank
 * check. Recursion rather than a scratch stack keeps it re-entrant and allocation-free.
 */
function descend(
  node: RadixNode,
  path: string,
  pos: number,
  bit: number,
  headers: HeaderLookup,
  bestSoFar: CompiledRoute | undefined,
): CompiledRoute | undefined {
  let best = bestSoFar;
  const table = node.childTable;
  if (table !== null && pos < path.length) {
    const slot = path.charCodeAt(pos) - node.childBase;
    const child = slot >= 0 && slot < table.length ? table[slot]! : null;
    // The slot already matched the label's first character.
    if (child !== null && (child.label.length === 1 || path.startsWith(child.label, pos)))
      best = descend(child, path, pos + child.label.length, bit, headers, best);
  }
  const routes = node.routes;
  if (routes !== null) {
    const bestRank = best === undefined ? NO_RANK : best.rank;
    if (routes[0]!.rank < bestRank) {
      const found = firstAccepting(routes, bit, headers, bestRank);
      if (found !== undefined) best = found;
    }
  }
  return best;
}

function firstAccepting(
  routes: readonly CompiledRoute[],
  bit: number,
  headers: HeaderLookup,
  bestRank: number,
): CompiledRoute | undefined {
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    if (route.rank >= bestRank) return undefined;
    if (route.accepts(bit, headers)) return route;
  }
  return undefined;
}
