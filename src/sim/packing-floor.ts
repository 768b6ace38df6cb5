/**
 * The packing floor: how much GPU a set of GPU shares must leave unused however it is placed.
 *
 * Shares of one GPU (a 470-milli task, an 810-milli one) pack into GPUs like items into bins, and
 * what a partly used GPU has left is lost unless a share small enough arrives. Whatever a policy
 * does, the shares it places take at least as many GPUs as an optimal bin packing of them; the
 * GPUs' free remainder beyond the shares' sum is the floor. An optimal packing is NP-hard; the
 * bound of its linear relaxation (`core/placement/bin-packing.ts`) is close, and a packing built
 * here from the relaxation shows how close: on the openb traces it meets the bound or uses one GPU
 * more.
 */
import { type Items, relaxation } from '../core/placement/bin-packing.js';
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

function sizesOf(counts: ShareCounts, capacity: number): Items {
  const entries = [...counts].filter(([, c]) => c > 0).sort((a, b) => b[0] - a[0]);
  for (const [size, count] of entries) {
    if (!Number.isInteger(size) || size <= 0 || size >= capacity || !Number.isInteger(count)) {
      throw new RangeError(`share ${String(size)} × ${String(count)}: a share is a whole number of milli-GPU between 1 and ${String(capacity - 1)}, counted a whole number of times`);
    }
  }
  return { size: entries.map(([s]) => s), count: entries.map(([, c]) => c) };
}

/** GPUs used by best-fit decreasing: each share, largest first, onto the GPU it leaves least room on. */
function bestFitDecreasing(sizes: Items, capacity: number): number {
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

/** Rounds the relaxation down, then packs what is left best-fit decreasing: a real packing's GPU count. */
function roundedPacking(sizes: Items, basis: readonly (readonly number[])[], x: readonly number[], capacity: number): number {
  const left = [...sizes.count];
  let gpus = 0;
  basis.forEach((pattern, p) => {
    let copies = Math.max(0, Math.floor((x[p] ?? 0) + 1e-9));
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
  const { bound, patterns, bins } = relaxation(sizes, capacity, true);
  // Rounding guards a bound of exactly k computed as k + 1e-12; the volume bound is always safe.
  const lowerBoundGpus = Math.max(Math.ceil(bound - 1e-6), Math.ceil(sharesMilli / capacity));
  const packedGpus = Math.min(bestFitDecreasing(sizes, capacity), roundedPacking(sizes, patterns, bins, capacity));
  return { sharesMilli, lowerBoundGpus, packedGpus };
}
