/**
 * The simulator's own compact view of a cluster in openb's units: CPU in millicores, host memory
 * in MiB, and each GPU as 1000 milli-GPU. Every run keeps this view whatever places the tasks (a
 * reference policy or the production placement engine), so that allocation and fragmentation are
 * measured the same way for all. Flat typed arrays: a run makes millions of fit tests.
 */
import { MILLI, type TaskKind, type TraceNode, type TraceTask, taskKind } from './trace.js';

/** A task as the simulator runs it: the trace task with its model constraint as a bit mask. */
export interface SimTask {
  readonly source: TraceTask;
  readonly cpu: number;
  readonly memory: number;
  readonly gpus: number;
  /** Per-GPU share in milli-GPU (0 for CPU-only tasks). */
  readonly milli: number;
  /** Bit i set: model i allowed; 0 = any model. */
  readonly modelMask: number;
  readonly kind: TaskKind;
  /** Same value for tasks of the same (cpu, gpus, milli): caches of per-node results key on it. */
  readonly shape: number;
}

export interface Decision {
  readonly node: number;
  /** GPU positions on the node (0 … gpus−1), one per GPU the task takes. */
  readonly gpus: readonly number[];
}

/** Turns trace tasks into simulator tasks for a given node list (model ids, shape ids). */
export class TaskCompiler {
  private readonly shapes = new Map<string, number>();

  constructor(private readonly modelIds: ReadonlyMap<string, number>) {}

  compile(t: TraceTask): SimTask {
    let mask = 0;
    for (const m of t.models) {
      const id = this.modelIds.get(m);
      if (id === undefined) throw new Error(`task ${t.name}: GPU model ${m} is not in the cluster`);
      mask |= 1 << id;
    }
    const key = `${String(t.cpuMilli)}/${String(t.gpus)}/${String(t.gpuMilli)}`;
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      shape = this.shapes.size;
      this.shapes.set(key, shape);
    }
    return { source: t, cpu: t.cpuMilli, memory: t.memoryMiB, gpus: t.gpus, milli: t.gpuMilli, modelMask: mask, kind: taskKind(t), shape };
  }
}

export class SimCluster {
  readonly size: number;
  readonly names: readonly string[];
  readonly modelIds: ReadonlyMap<string, number>;
  readonly model: Int32Array;
  readonly cpuCap: Float64Array;
  readonly cpuFree: Float64Array;
  readonly memCap: Float64Array;
  readonly memFree: Float64Array;
  /** GPUs of node n are gpuLeft[gpuStart[n] … gpuStart[n] + gpuCount[n] − 1]. */
  readonly gpuStart: Int32Array;
  readonly gpuCount: Int32Array;
  /** Milli-GPU left on each GPU. */
  readonly gpuLeft: Int32Array;
  /** Σ gpuLeft over the node. */
  readonly gpuFree: Int32Array;
  /** Fully free GPUs of the node. */
  readonly wholeFree: Int32Array;
  /** Largest gpuLeft on the node. */
  readonly maxLeft: Int32Array;
  /** Bumped on every change to a node: per-node caches compare it. */
  readonly version: Int32Array;
  readonly totalGpuMilli: number;
  allocatedMilli = 0;
  idleMilli: number;

  /**
   * @param nodes in tie-break order: when a policy scores nodes equal, the lower index wins
   *   (the reference simulator's seeded name prefix).
   */
  constructor(nodes: readonly TraceNode[]) {
    this.size = nodes.length;
    this.names = nodes.map((n) => n.name);
    const models = [...new Set(nodes.filter((n) => n.gpus > 0).map((n) => n.model))].sort();
    if (models.length > 31) throw new Error(`the cluster has ${String(models.length)} GPU models; at most 31 are supported`);
    this.modelIds = new Map(models.map((m, i) => [m, i]));
    this.model = Int32Array.from(nodes, (n) => (n.gpus > 0 ? (this.modelIds.get(n.model) ?? -1) : -1));
    this.cpuCap = Float64Array.from(nodes, (n) => n.cpuMilli);
    this.cpuFree = Float64Array.from(nodes, (n) => n.cpuMilli);
    this.memCap = Float64Array.from(nodes, (n) => n.memoryMiB);
    this.memFree = Float64Array.from(nodes, (n) => n.memoryMiB);
    this.gpuCount = Int32Array.from(nodes, (n) => n.gpus);
    this.gpuStart = new Int32Array(this.size);
    let total = 0;
    nodes.forEach((n, i) => {
      this.gpuStart[i] = total;
      total += n.gpus;
    });
    this.gpuLeft = new Int32Array(total).fill(MILLI);
    this.gpuFree = Int32Array.from(nodes, (n) => n.gpus * MILLI);
    this.wholeFree = Int32Array.from(nodes, (n) => n.gpus);
    this.maxLeft = Int32Array.from(nodes, (n) => (n.gpus > 0 ? MILLI : 0));
    this.version = new Int32Array(this.size);
    this.totalGpuMilli = total * MILLI;
    this.idleMilli = this.totalGpuMilli;
  }

  /**
   * The reference simulator's filter: model allowed, enough GPUs with the share free, CPU and
   * host memory fit.
   */
  fits(n: number, t: SimTask): boolean {
    if ((this.cpuFree[n] ?? 0) < t.cpu || (this.memFree[n] ?? 0) < t.memory) return false;
    if (t.gpus === 0) return true;
    if (t.modelMask !== 0 && ((this.model[n] ?? 0) < 0 || (t.modelMask & (1 << (this.model[n] ?? 0))) === 0)) return false;
    if ((this.gpuCount[n] ?? 0) < t.gpus || (this.maxLeft[n] ?? 0) < t.milli) return false;
    if (t.milli === MILLI) return (this.wholeFree[n] ?? 0) >= t.gpus;
    if (t.gpus === 1) return true;
    let count = 0;
    const start = (this.gpuStart[n] ?? 0);
    for (let g = 0; g < (this.gpuCount[n] ?? 0); g++) if ((this.gpuLeft[start + g] ?? 0) >= t.milli) count++;
    return count >= t.gpus;
  }

  /** The lowest-index GPUs with the share free (whole-GPU tasks: the lowest-index free GPUs, as every reference policy takes). */
  lowestFit(n: number, t: SimTask): number[] {
    const chosen: number[] = [];
    const start = (this.gpuStart[n] ?? 0);
    for (let g = 0; g < (this.gpuCount[n] ?? 0) && chosen.length < t.gpus; g++) if ((this.gpuLeft[start + g] ?? 0) >= t.milli) chosen.push(g);
    return chosen;
  }

  /** Charges the node with the task on the given GPUs. The caller has checked the fit. */
  place(t: SimTask, d: Decision): void {
    this.change(d.node, t, d.gpus, -1);
  }

  /** Gives back what place took. */
  remove(t: SimTask, d: Decision): void {
    this.change(d.node, t, d.gpus, 1);
  }

  private change(n: number, t: SimTask, gpus: readonly number[], sign: 1 | -1): void {
    this.cpuFree[n] = (this.cpuFree[n] ?? 0) + sign * t.cpu;
    this.memFree[n] = (this.memFree[n] ?? 0) + sign * t.memory;
    const start = (this.gpuStart[n] ?? 0);
    for (const g of gpus) {
      const left = (this.gpuLeft[start + g] ?? 0) + sign * t.milli;
      if (left < 0 || left > MILLI || g >= (this.gpuCount[n] ?? 0)) {
        throw new Error(`simulator: GPU ${String(g)} of node ${this.names[n] ?? String(n)} would hold ${String(MILLI - left)} milli`);
      }
      this.gpuLeft[start + g] = left;
    }
    const milli = sign * t.milli * gpus.length;
    this.gpuFree[n] = (this.gpuFree[n] ?? 0) + milli;
    this.allocatedMilli -= milli;
    this.idleMilli += milli;
    let whole = 0;
    let max = 0;
    for (let g = 0; g < (this.gpuCount[n] ?? 0); g++) {
      const left = (this.gpuLeft[start + g] ?? 0);
      if (left === MILLI) whole++;
      if (left > max) max = left;
    }
    this.wholeFree[n] = whole;
    this.maxLeft[n] = max;
    this.version[n] = (this.version[n] ?? 0) + 1;
  }
}
