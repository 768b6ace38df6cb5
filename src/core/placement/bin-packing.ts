/**
 * One-dimensional bin packing by patterns (Gilmore and Gomory): shares of a device are items, a
 * device is a bin, and a pattern is how many items of each size one bin holds. The linear
 * relaxation, min Σ x_p subject to Σ_p a_ip·x_p = nᵢ, is solved by column generation: the basis
 * holds one pattern per size, and each new pattern is the one its items' dual prices value most,
 * found by an exact knapsack. Sizes come in a few dozen values, so this takes milliseconds.
 *
 * Two uses: the simulator's packing floor (how many devices some shares need at the least), and
 * the placement policy's prices of a device's free rest (what the shares expected could still make
 * of it; see `restValues`).
 *
 * Every bound here is safe whatever the floating-point arithmetic does: Farley's bound, Σ nᵢyᵢ over
 * the best pattern's Σ aᵢyᵢ, holds for any prices y ≥ 0, so the simplex only steers y.
 */

/** Item sizes, in whole units of a bin of `capacity` units (1 … capacity − 1), and their counts or weights. */
export interface Items {
  readonly size: readonly number[];
  readonly count: readonly number[];
}

export interface Relaxation {
  /** No packing of the items uses fewer bins than this (Farley's bound; fractional). */
  readonly bound: number;
  /**
   * Each size's price in bins, ≥ 0, scaled so that no bin's items are worth more than 1: a size
   * priced near its share of a bin packs well, one priced near 1 wastes the rest of its bin.
   */
  readonly prices: readonly number[];
  /** The last basis: one pattern (items of each size) per row, and how many bins of each it uses. */
  readonly patterns: readonly (readonly number[])[];
  readonly bins: readonly number[];
}

const MAX_ITERATIONS = 5000;
/** Patterns improving the relaxation by less than this are not entered (the bound is safe anyway). */
const EPSILON = 1e-9;

/**
 * The best value of a bin of each capacity r = 0 … capacity from items of the given prices: V[r] =
 * max Σ aᵢ·priceᵢ with Σ aᵢ·sizeᵢ ≤ r, at most `most[i]` of size i. `taken[i][r]` says how many of
 * size i the best bin of rest r holds, for reading a pattern back.
 */
function knapsack(sizes: readonly number[], prices: readonly number[], most: readonly number[], capacity: number): { value: Float64Array; taken: Int32Array[] } {
  let value = new Float64Array(capacity + 1);
  const taken: Int32Array[] = [];
  sizes.forEach((size, i) => {
    const price = Math.max(0, prices[i] ?? 0);
    const next = Float64Array.from(value);
    const take = new Int32Array(capacity + 1);
    const limit = Math.min(most[i] ?? 0, Math.floor(capacity / size));
    if (price > 0) {
      for (let r = size; r <= capacity; r++) {
        for (let k = 1; k <= limit && k * size <= r; k++) {
          const v = (value[r - k * size] ?? 0) + k * price;
          if (v > (next[r] ?? 0)) {
            next[r] = v;
            take[r] = k;
          }
        }
      }
    }
    value = next;
    taken.push(take);
  });
  return { value, taken };
}

function patternAt(sizes: readonly number[], taken: readonly Int32Array[], rest: number): number[] {
  const pattern = new Array<number>(sizes.length).fill(0);
  let r = rest;
  for (let i = sizes.length - 1; i >= 0; i--) {
    const k = taken[i]?.[r] ?? 0;
    pattern[i] = k;
    r -= k * (sizes[i] ?? 0);
  }
  return pattern;
}

/** Solves M·x = b by Gaussian elimination with partial pivoting (M is m × m, small). */
function solveLinear(matrix: readonly (readonly number[])[], b: readonly number[]): number[] {
  const m = b.length;
  const a = matrix.map((row, i) => [...row, b[i] ?? 0]);
  for (let c = 0; c < m; c++) {
    let pivot = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(a[r]?.[c] ?? 0) > Math.abs(a[pivot]?.[c] ?? 0)) pivot = r;
    const rowC = a[pivot] as number[];
    a[pivot] = a[c] as number[];
    a[c] = rowC;
    const p = rowC[c] ?? 1;
    for (let r = 0; r < m; r++) {
      const row = a[r] as number[];
      const f = r === c ? 0 : (row[c] ?? 0) / p;
      if (f !== 0) for (let j = c; j <= m; j++) row[j] = (row[j] ?? 0) - f * (rowC[j] ?? 0);
    }
  }
  return a.map((row, i) => (row[m] ?? 0) / (row[i] ?? 1));
}

function checkItems(items: Items, capacity: number): void {
  items.size.forEach((size, i) => {
    const count = items.count[i] ?? NaN;
    if (!Number.isInteger(size) || size <= 0 || size >= capacity || !(count > 0) || !Number.isFinite(count)) {
      throw new RangeError(`item ${String(size)} × ${String(count)}: a size is a whole number between 1 and ${String(capacity - 1)}, with a positive count`);
    }
  });
}

/**
 * The relaxation of packing `items` into bins of `capacity`. With `counted`, a bin holds no more of
 * a size than there are (counts are item counts); without, counts are weights of a distribution
 * and a bin may hold any number of each size.
 */
export function relaxation(items: Items, capacity: number, counted: boolean): Relaxation {
  checkItems(items, capacity);
  const { size, count } = items;
  const m = size.length;
  if (m === 0) return { bound: 0, prices: [], patterns: [], bins: [] };
  const most = counted ? count.map((c) => Math.floor(c)) : size.map((s) => Math.floor(capacity / s));
  let basis = size.map((s, i) => {
    const pattern = new Array<number>(m).fill(0);
    pattern[i] = Math.min(most[i] ?? 0, Math.floor(capacity / s));
    return pattern;
  });
  let bound = 0;
  let prices = new Array<number>(m).fill(0);
  let bins: number[] = [];
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    // B has the patterns as columns: B[i][p] = basis[p][i].
    const byRow = size.map((_, i) => basis.map((pattern) => pattern[i] ?? 0));
    bins = solveLinear(byRow, count);
    const y = solveLinear(basis, new Array<number>(m).fill(1)).map((v) => Math.max(0, v));
    const { value, taken } = knapsack(size, y, most, capacity);
    const best = value[capacity] ?? 0;
    if (best <= 0) break;
    const worth = count.reduce((sum, n, i) => sum + n * (y[i] ?? 0), 0) / best;
    if (worth >= bound) {
      bound = worth;
      prices = y.map((v) => v / best);
    }
    if (best <= 1 + EPSILON) break;
    const pattern = patternAt(size, taken, capacity);
    const direction = solveLinear(byRow, pattern);
    let leaving = -1;
    let step = Infinity;
    direction.forEach((d, j) => {
      if (d > EPSILON && (bins[j] ?? 0) / d < step) {
        step = (bins[j] ?? 0) / d;
        leaving = j;
      }
    });
    if (leaving < 0) break;
    basis = basis.map((p, j) => (j === leaving ? pattern : p));
  }
  return { bound, prices, patterns: basis, bins };
}

/**
 * V[r], r = 0 … capacity: the most a free rest of r units is worth at the given prices, filled with
 * any number of items of each size. With the relaxation's prices V[capacity] is 1, and placing an
 * item of size s into a rest r loses V[r] − price(s) − V[r − s] ≥ 0 of a bin: 0 where the item
 * belongs to a pattern the relaxation packs by, more where it leaves a rest the sizes fit badly.
 */
export function restValues(sizes: readonly number[], prices: readonly number[], capacity: number): Float64Array {
  return knapsack(
    sizes,
    prices,
    sizes.map((s) => Math.floor(capacity / s)),
    capacity,
  ).value;
}
