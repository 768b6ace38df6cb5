/**
 * The packing floor: how much GPU a set of GPU shares must leave unused however it is placed.
 *
 * Shares of one GPU (a 470-milli task, an 810-milli one) pack into GPUs like items into bins, and
 * what a partly used GPU has left is lost unless a share small enough arrives. Whatever a policy
 * does, the shares it places take at least as many GPUs as an optimal bin packing of them; the
 * GPUs' free remainder beyond the shares' sum is the floor. An optimal packing is NP-hard, but the
 * bound of the Gilmore–Gomory linear relaxation is close (within a bin or two on the traces here)
 * and cheap when shares come in a few dozen sizes: it is solved by column generation, each new
 * pattern found by an exact knapsack over the sizes.
 *
 * Every figure here is safe whatever the solver's numerics do: the lower bound is Farley's, Σ nᵢyᵢ
 * over the best pattern's Σ aᵢyᵢ, which holds for any y ≥ 0 (a dual feasible function), so the
 * simplex only steers y; and the packing is one built and checked here, not an estimate.
 */
import { MILLI } from './trace.js';

/** How many GPUs hold each share size: size in milli-GPU (1…capacity − 1) → count. */
export type ShareCounts = ReadonlyMap<number, number>;

export interface PackingFloor {
  /** Σ of the shares, milli-GPU. */
  readonly sharesMilli: number;
  /** No packing of the shares fits them in fewer GPUs. */
  readonly lowerBoundGpus: number;
  /** GPUs a packing found here uses (best of best-fit decreasing and the rounded relaxation). */
  readonly packedGpus: number;
}

/** A GPU-share size counted `count` times, for adding to a ShareCounts map. */
export function addShare(counts: Map<number, number>, milli: number, count = 1): void {
  counts.set(milli, (counts.get(milli) ?? 0) + count);
}

interface Sizes {
  readonly size: readonly number[];
  readonly count: readonly number[];
}

function sizesOf(counts: ShareCounts, capacity: number): Sizes {
  const entries = [...counts].filter(([, c]) => c > 0).sort((a, b) => b[0] - a[0]);
  for (const [size, count] of entries) {
    if (!Number.isInteger(size) || size <= 0 || size >= capacity || !Number.isInteger(count)) {
      throw new RangeError(`share ${String(size)} × ${String(count)}: a share is a whole number of milli-GPU between 1 and ${String(capacity - 1)}, counted a whole number of times`);
    }
  }
  return { size: entries.map(([s]) => s), count: entries.map(([, c]) => c) };
}

/** GPUs used by best-fit decreasing: each share, largest first, onto the GPU it leaves least room on. */
function bestFitDecreasing(sizes: Sizes, capacity: number): number {
  // roomCount[r] = GPUs opened so far with r milli left.
  const roomCount = new Int32Array(capacity + 1);
  let gpus = 0;
  sizes.size.forEach((size, i) => {
    for (let k = 0; k < (sizes.count[i] ?? 0); k++) {
      let room = size;
      while (room < capacity && roomCount[room] === 0) room++;
      if (room < capacity) roomCount[room] = (roomCount[room] ?? 0) - 1;
      else gpus++;
      roomCount[room - size] = (roomCount[room - size] ?? 0) + 1;
    }
  });
  return gpus;
}

/** The pattern (shares of each size on one GPU) of greatest Σ aᵢyᵢ: a bounded knapsack, exact. */
function bestPattern(sizes: Sizes, y: readonly number[], capacity: number): { value: number; pattern: number[] } {
  const m = sizes.size.length;
  let best = new Float64Array(capacity + 1);
  const taken: Int32Array[] = [];
  for (let i = 0; i < m; i++) {
    const size = sizes.size[i] ?? capacity;
    const weight = Math.max(0, y[i] ?? 0);
    const most = Math.min(sizes.count[i] ?? 0, Math.floor(capacity / size));
    const next = Float64Array.from(best);
    const take = new Int32Array(capacity + 1);
    if (weight > 0) {
      for (let room = size; room <= capacity; room++) {
        for (let k = 1; k <= most && k * size <= room; k++) {
          const value = (best[room - k * size] ?? 0) + k * weight;
          if (value > (next[room] ?? 0)) {
            next[room] = value;
            take[room] = k;
          }
        }
      }
    }
    best = next;
    taken.push(take);
  }
  const pattern = new Array<number>(m).fill(0);
  let room = capacity;
  for (let i = m - 1; i >= 0; i--) {
    const k = taken[i]?.[room] ?? 0;
    pattern[i] = k;
    room -= k * (sizes.size[i] ?? 0);
  }
  return { value: best[capacity] ?? 0, pattern };
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

const MAX_ITERATIONS = 5000;
/** Patterns whose reduced cost is under this are not worth entering (the bound is safe anyway). */
const EPSILON = 1e-9;

/**
 * Column generation on min Σ x_p subject to Σ_p a_ip·x_p = nᵢ: the basis holds one pattern per
 * size (m × m), starting from "as many of size i as fit". Returns the best Farley bound met, and
 * the last basis with its solution for rounding.
 */
function relaxation(sizes: Sizes, capacity: number): { bound: number; basis: number[][]; x: number[] } {
  const m = sizes.size.length;
  let basis = sizes.size.map((size, i) => {
    const pattern = new Array<number>(m).fill(0);
    pattern[i] = Math.min(sizes.count[i] ?? 0, Math.floor(capacity / size));
    return pattern;
  });
  let bound = 0;
  let x: number[] = [];
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    // B has the patterns as columns: B[i][p] = basis[p][i].
    const byRow = sizes.size.map((_, i) => basis.map((pattern) => pattern[i] ?? 0));
    x = solveLinear(byRow, sizes.count);
    const y = solveLinear(basis, new Array<number>(m).fill(1));
    const { value, pattern } = bestPattern(sizes, y, capacity);
    if (value <= 0) break;
    const demand = sizes.count.reduce((sum, n, i) => sum + n * Math.max(0, y[i] ?? 0), 0);
    bound = Math.max(bound, demand / value);
    if (value <= 1 + EPSILON) break;
    const direction = solveLinear(byRow, pattern);
    let leaving = -1;
    let step = Infinity;
    direction.forEach((d, j) => {
      if (d > EPSILON && (x[j] ?? 0) / d < step) {
        step = (x[j] ?? 0) / d;
        leaving = j;
      }
    });
    if (leaving < 0) break;
    basis = basis.map((p, j) => (j === leaving ? pattern : p));
  }
  return { bound, basis, x };
}

/** Rounds the relaxation down, then packs what is left best-fit decreasing: a real packing's GPU count. */
function roundedPacking(sizes: Sizes, basis: readonly number[][], x: readonly number[], capacity: number): number {
  const left = [...sizes.count];
  let gpus = 0;
  basis.forEach((pattern, p) => {
    let copies = Math.max(0, Math.floor((x[p] ?? 0) + EPSILON));
    // Never more of a size than there is (a rounding slip must not invent shares).
    for (let i = 0; i < pattern.length; i++) if ((pattern[i] ?? 0) > 0) copies = Math.min(copies, Math.floor((left[i] ?? 0) / (pattern[i] ?? 1)));
    if (copies === 0) return;
    const used = pattern.reduce((sum, k, i) => sum + k * (sizes.size[i] ?? 0), 0);
    if (used > capacity) throw new Error(`packing floor: a pattern holds ${String(used)} milli, more than a GPU`);
    pattern.forEach((k, i) => (left[i] = (left[i] ?? 0) - k * copies));
    gpus += copies;
  });
  return gpus + bestFitDecreasing({ size: sizes.size, count: left }, capacity);
}

/** The packing floor of a set of GPU shares on GPUs of `capacity` milli each. */
export function packingFloor(counts: ShareCounts, capacity = MILLI): PackingFloor {
  const sizes = sizesOf(counts, capacity);
  const sharesMilli = sizes.size.reduce((sum, s, i) => sum + s * (sizes.count[i] ?? 0), 0);
  if (sizes.size.length === 0) return { sharesMilli: 0, lowerBoundGpus: 0, packedGpus: 0 };
  const { bound, basis, x } = relaxation(sizes, capacity);
  // Rounding guards a bound of exactly k computed as k + 1e-12; the volume bound is always safe.
  const lowerBoundGpus = Math.max(Math.ceil(bound - 1e-6), Math.ceil(sharesMilli / capacity));
  const packedGpus = Math.min(bestFitDecreasing(sizes, capacity), roundedPacking(sizes, basis, x, capacity));
  return { sharesMilli, lowerBoundGpus, packedGpus };
}
