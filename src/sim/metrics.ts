/**
 * The FGD paper's measures over a one-shot replay. After every task the replay records how much
 * GPU had been asked for so far (failed tasks included), how much is allocated, the cluster's
 * fragmentation and its idle GPU. Curves are indexed by arrived demand x = round(100 × asked /
 * capacity), from 0 to 130 % of capacity:
 *
 * - A(x): allocated GPU, % of capacity, averaged over the tasks whose x rounds to that integer
 *   (or over x ± 1 when none does; on a cluster so small that one task moves x by more than
 *   that, the state after the last task before x, which held until the next one arrived);
 * - unallocated GPU = 100 − A(100);
 * - fragmentation amount = Σ F_n / capacity × 100, fragmentation ratio = Σ F_n / idle × 100.
 */

export const CURVE_POINTS = 131;

/** Per-task records of one replay, in arrival order. */
export class EventLog {
  private size = 0;
  arrived = new Float64Array(1024);
  allocated = new Float64Array(1024);
  fragmentation = new Float64Array(1024);
  idle = new Float64Array(1024);

  get length(): number {
    return this.size;
  }

  record(arrived: number, allocated: number, fragmentation: number, idle: number): void {
    if (this.size === this.arrived.length) {
      const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.arrived = grow(this.arrived);
      this.allocated = grow(this.allocated);
      this.fragmentation = grow(this.fragmentation);
      this.idle = grow(this.idle);
    }
    this.arrived[this.size] = arrived;
    this.allocated[this.size] = allocated;
    this.fragmentation[this.size] = fragmentation;
    this.idle[this.size] = idle;
    this.size++;
  }
}

export interface Curves {
  /** A(x), % of capacity; NaN where no task arrived near x. */
  readonly allocation: readonly number[];
  /** Fragmentation amount, % of capacity. */
  readonly fragmentation: readonly number[];
  /** Fragmentation ratio, % of idle GPU. */
  readonly fragmentationRatio: readonly number[];
}

/** Averages each measure per arrived-demand percentage. */
export function curves(log: EventLog, capacityMilli: number): Curves {
  const sums = [new Float64Array(CURVE_POINTS), new Float64Array(CURVE_POINTS), new Float64Array(CURVE_POINTS)];
  const counts = [new Int32Array(CURVE_POINTS), new Int32Array(CURVE_POINTS), new Int32Array(CURVE_POINTS)];
  /** The last record's values in each bin (NaN: none), for bins no record is near. */
  const last = [new Float64Array(CURVE_POINTS).fill(NaN), new Float64Array(CURVE_POINTS).fill(NaN), new Float64Array(CURVE_POINTS).fill(NaN)];
  const recorded = new Uint8Array(CURVE_POINTS);
  let reached = -1;
  for (let i = 0; i < log.length; i++) {
    const x = Math.round((100 * (log.arrived[i] ?? 0)) / capacityMilli);
    reached = Math.max(reached, x);
    if (x < 0 || x >= CURVE_POINTS) continue;
    recorded[x] = 1;
    const idle = log.idle[i] ?? 0;
    const values = [
      (100 * (log.allocated[i] ?? 0)) / capacityMilli,
      (100 * (log.fragmentation[i] ?? 0)) / capacityMilli,
      idle > 0 ? (100 * (log.fragmentation[i] ?? 0)) / idle : NaN,
    ];
    values.forEach((v, k) => {
      (last[k] as Float64Array)[x] = v;
      if (Number.isNaN(v)) return;
      (sums[k] as Float64Array)[x] = ((sums[k] as Float64Array)[x] ?? 0) + v;
      (counts[k] as Int32Array)[x] = ((counts[k] as Int32Array)[x] ?? 0) + 1;
    });
  }
  const mean = (k: number): number[] => {
    const s = sums[k] as Float64Array;
    const c = counts[k] as Int32Array;
    const l = last[k] as Float64Array;
    let carried = NaN;
    return Array.from({ length: CURVE_POINTS }, (_, x) => {
      if (recorded[x] === 1) carried = l[x] ?? NaN;
      if ((c[x] ?? 0) > 0) return (s[x] ?? 0) / (c[x] ?? 1);
      let sum = 0;
      let n = 0;
      for (let y = Math.max(0, x - 1); y <= Math.min(CURVE_POINTS - 1, x + 1); y++) {
        sum += s[y] ?? 0;
        n += c[y] ?? 0;
      }
      if (n > 0) return sum / n;
      // No usable record near x, but arrivals went past it: the state then was the last record's.
      return x <= reached ? carried : NaN;
    });
  };
  return { allocation: mean(0), fragmentation: mean(1), fragmentationRatio: mean(2) };
}

export interface Summary {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1), 0 for a single value. */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
  readonly median: number;
}

/** Summary statistics of the finite values (NaN fields when there are none). */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { n: 0, mean: NaN, sd: NaN, min: NaN, max: NaN, median: NaN };
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const median = n % 2 === 1 ? (v[(n - 1) / 2] ?? NaN) : ((v[n / 2 - 1] ?? NaN) + (v[n / 2] ?? NaN)) / 2;
  return { n, mean, sd, min: v[0] ?? NaN, max: v[n - 1] ?? NaN, median };
}
