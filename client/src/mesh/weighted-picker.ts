import { ValidationError } from '../core/errors.js';

/**
 * Walker/Vose alias table over integer weights: one uniform draw picks an index in O(1). Built with
 * integer arithmetic (weights scaled by n, columns of height `total`), so the probabilities it encodes
 * are exactly weight / total, with no floating-point drift.
 */
export interface AliasTable {
  /** Number of columns (= number of weights). */
  readonly size: number;
  /** Sum of the weights; the height of every column. */
  readonly total: number;
  /** Column j picks j for its first `cut[j]` units of height and `alias[j]` for the rest. */
  readonly cut: readonly number[];
  readonly alias: readonly number[];
}

export function buildAliasTable(weights: readonly number[]): AliasTable {
  const n = weights.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!Number.isSafeInteger(w) || w < 0) invalid(`weights.${i}`, 'weights are non-negative integers');
    total += w;
  }
  if (n === 0) invalid('weights', 'at least one weight is required');
  if (total <= 0) invalid('weights', 'the weights must sum to more than 0');
  if (!Number.isSafeInteger(total * n)) invalid('weights', 'the weights are too large');

  const scaled = weights.map((w) => w * n);
  const cut = new Array<number>(n).fill(total);
  const alias = Array.from({ length: n }, (_, i) => i);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((s, i) => {
    (s < total ? small : large).push(i);
  });
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large.pop()!;
    cut[s] = scaled[s]!;
    alias[s] = l;
    scaled[l] = scaled[l]! - (total - scaled[s]!);
    (scaled[l]! < total ? small : large).push(l);
  }
  // Integer arithmetic leaves nothing in `small` here; whatever is left fills its own column.
  return Object.freeze({ size: n, total, cut: Object.freeze(cut), alias: Object.freeze(alias) });
}

function invalid(path: string, message: string): never {
  throw new ValidationError(`invalid weights (${message})`, [{ path, message }]);
}

/**
 * Picks an index with probability weight / total. `rnd` is a uniform number in [0, 1) supplied by the
 * caller (Math.random in production, a seeded generator in tests); values outside are clamped.
 */
export function aliasPick(table: AliasTable, rnd: number): number {
  const n = table.size;
  if (n === 1) return 0;
  const u = rnd > 0 ? rnd * n : 0;
  let column = Math.floor(u);
  if (column >= n) column = n - 1;
  return (u - column) * table.total < table.cut[column]! ? column : table.alias[column]!;
}

/** The probability the table assigns to each index (for inspection and tests). */
export function aliasProbabilities(table: AliasTable): number[] {
  return aliasNumerators(table).map((units) => units / (table.size * table.total));
}

/** Each index's share in units of 1 / (size * total): exactly weight * size when the table is right. */
export function aliasNumerators(table: AliasTable): number[] {
  const units = new Array<number>(table.size).fill(0);
  for (let j = 0; j < table.size; j++) {
    units[j]! += table.cut[j]!;
    units[table.alias[j]!]! += table.total - table.cut[j]!;
  }
  return units;
}
