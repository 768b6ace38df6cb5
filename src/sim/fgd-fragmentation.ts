/**
 * FGD's fragmentation measure (Weng et al., USENIX ATC '23) on the simulator's compact cluster.
 * A node's fragmentation F_n is the idle GPU the typical tasks could not use, weighted by how often
 * each typical task occurs:
 *
 *   F_n = Σ_m p_m · f_n(m), in milli-GPU, where f_n(m) is
 *     all idle GPU of the node, if m asks for no GPU, may not use the node's model, or cannot be
 *       hosted (too little CPU, or fewer than k_m GPUs with m's share free);
 *     otherwise the idle slivers smaller than m's share.
 *
 * The reference FGD policy scores with it and every run reports it (fragmentation amount and
 * ratio), so it follows the reference simulator's definition exactly, quirks included.
 */
import type { SimCluster } from './model.js';
import type { TraceTask } from './trace.js';

export interface TypicalTask {
  readonly cpu: number;
  readonly gpus: number;
  readonly milli: number;
  readonly models: readonly string[];
  /** Share of the trace's tasks, renormalised over the typical tasks to sum to 1. */
  readonly weight: number;
  /** How many tasks of the trace have this shape. */
  readonly count: number;
}

/**
 * The shapes (cpu, GPUs, share, model constraint) that cover `coverage` of the tasks, most
 * frequent first, with their frequencies renormalised to 1. Computed once from the original trace
 * (before any inflation), as the paper does.
 */
export function typicalTasks(tasks: readonly TraceTask[], coverage = 0.95): TypicalTask[] {
  const groups = new Map<string, { cpu: number; gpus: number; milli: number; models: readonly string[]; count: number }>();
  for (const t of tasks) {
    const models = [...t.models].sort();
    const key = `${String(t.cpuMilli)}/${String(t.gpus)}/${String(t.gpuMilli)}/${models.join('|')}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { cpu: t.cpuMilli, gpus: t.gpus, milli: t.gpuMilli, models, count: 1 });
  }
  // Ties in count are ordered by size so the cut at `coverage` is deterministic.
  const sorted = [...groups.values()].sort(
    (a, b) => b.count - a.count || b.gpus - a.gpus || b.milli - a.milli || b.cpu - a.cpu || a.models.join('|').localeCompare(b.models.join('|')),
  );
  const kept: typeof sorted = [];
  let covered = 0;
  for (const g of sorted) {
    if (covered >= coverage * tasks.length) break;
    kept.push(g);
    covered += g.count;
  }
  return kept.map((g) => ({ ...g, weight: g.count / covered }));
}

/** Per-node bookkeeping for one node version: enough to evaluate a change of a few GPUs in O(typical tasks). */
interface NodeTerms {
  version: number;
  /** Per typical task m: GPUs with at least m's share free. */
  count: Int32Array;
  /** Per typical task m: Σ left over GPUs with less than m's share free. */
  small: Float64Array;
  value: number;
}

export class FgdFragmentation {
  private readonly shapes: readonly TypicalTask[];
  /** Per typical task, the model ids it may use as a bit mask (0 = any). */
  private readonly masks: Int32Array;
  private readonly terms: (NodeTerms | undefined)[];
  /** Σ_n F_n, kept current by `refresh`. */
  total = 0;
  private readonly values: Float64Array;

  constructor(
    private readonly cluster: SimCluster,
    typical: readonly TypicalTask[],
  ) {
    this.shapes = typical;
    this.masks = Int32Array.from(typical, (m) => m.models.reduce((mask, name) => mask | (1 << (cluster.modelIds.get(name) ?? 31)), 0));
    this.terms = new Array<NodeTerms | undefined>(cluster.size);
    this.values = new Float64Array(cluster.size);
    for (let n = 0; n < cluster.size; n++) {
      this.values[n] = this.nodeTerms(n).value;
      this.total += this.values[n] ?? 0;
    }
  }

  get typical(): readonly TypicalTask[] {
    return this.shapes;
  }

  /** Call after a node changed, to keep `total` current. */
  refresh(n: number): void {
    const v = this.nodeTerms(n).value;
    this.total += v - (this.values[n] ?? 0);
    this.values[n] = v;
  }

  /** F_n now. */
  value(n: number): number {
    return this.nodeTerms(n).value;
  }

  private accessible(n: number, m: number): boolean {
    const mask = this.masks[m] ?? 0;
    const model = this.cluster.model[n] ?? -1;
    return mask === 0 || (model >= 0 && (mask & (1 << model)) !== 0);
  }

  private nodeTerms(n: number): NodeTerms {
    const c = this.cluster;
    const known = this.terms[n];
    if (known && known.version === c.version[n]) return known;
    const M = this.shapes.length;
    const count = new Int32Array(M);
    const small = new Float64Array(M);
    const start = c.gpuStart[n] ?? 0;
    const gpus = c.gpuCount[n] ?? 0;
    for (let m = 0; m < M; m++) {
      const s = this.shapes[m]?.milli ?? 0;
      let k = 0;
      let sum = 0;
      for (let g = 0; g < gpus; g++) {
        const left = c.gpuLeft[start + g] ?? 0;
        if (left >= s) k++;
        else sum += left;
      }
      count[m] = k;
      small[m] = sum;
    }
    const t: NodeTerms = { version: c.version[n] ?? 0, count, small, value: 0 };
    t.value = this.evaluate(n, t, c.cpuFree[n] ?? 0, c.gpuFree[n] ?? 0, null, 0);
    this.terms[n] = t;
    return t;
  }

  /**
   * F_n for the node with its CPU free and GPU idle total as given, and GPUs that had `before[i]`
   * milli left giving `milli` each (or the node as it is, when `before` is null).
   */
  private evaluate(
    n: number,
    t: NodeTerms,
    cpuFree: number,
    idle: number,
    before: readonly number[] | null,
    milli: number,
  ): number {
    let value = 0;
    for (let m = 0; m < this.shapes.length; m++) {
      const shape = this.shapes[m];
      if (!shape) continue;
      if (shape.gpus === 0 || !this.accessible(n, m) || cpuFree < shape.cpu) {
        value += shape.weight * idle;
        continue;
      }
      let k = t.count[m] ?? 0;
      let sum = t.small[m] ?? 0;
      if (before) {
        for (const b of before) {
          const a = b - milli;
          if (b >= shape.milli) k--;
          else sum -= b;
          if (a >= shape.milli) k++;
          else sum += a;
        }
      }
      value += shape.weight * (k >= shape.gpus ? sum : idle);
    }
    return value;
  }

  /**
   * F_n if `cpu` millicores were taken and GPUs `gpus` each gave `milli` (the hypothetical
   * placement FGD scores).
   */
  valueAfter(n: number, cpu: number, gpus: readonly number[], milli: number): number {
    const c = this.cluster;
    const t = this.nodeTerms(n);
    const start = c.gpuStart[n] ?? 0;
    const before = gpus.map((g) => c.gpuLeft[start + g] ?? 0);
    return this.evaluate(n, t, (c.cpuFree[n] ?? 0) - cpu, (c.gpuFree[n] ?? 0) - milli * gpus.length, before, milli);
  }
}
