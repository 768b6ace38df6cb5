/**
 * Fragmentation-aware placement (the idea of FGD, USENIX ATC '23, adapted to memory and compute
 * shares). A node's fragmentation F is the idle GPU capacity that the pods expected next could
 * not use, weighted by how often each request shape is seen:
 *
 *   F(node) = Σ_m p_m · f(node, m)
 *   f(node, m) = Σ idle(d) over devices d that cannot take shape m, if the node can host m;
 *                Σ idle(d) over all devices, if it cannot (every idle share is stranded for m).
 *
 * idle(d) is the usable idle fraction of a device, min(free memory / memory, free compute /
 * compute). Placing a pod where it raises F least (or lowers it most) keeps capacity in pieces
 * that future pods fit. The distribution p_m is learnt online from the pods seen so far, so the
 * policy knows nothing of a trace in advance.
 */
import type { Device } from '../device.js';
import { type DeviceConstraints, NO_CONSTRAINTS, type VendorAsk } from '../vendors/vendor.js';
import type { NodeState } from './cluster.js';

/** A request shape and its share of recent requests. */
export interface Shape {
  readonly vendor: string;
  readonly count: number;
  readonly memoryMiB: number | null;
  readonly memoryPercent: number;
  readonly cores: number;
  /** The device constraints the shape came with (FGD counts a GPU of a model a task may not use as a fragment for it). */
  readonly constraints: DeviceConstraints;
  readonly weight: number;
}

function shapeKey(a: VendorAsk, c: DeviceConstraints): string {
  const memory = a.memoryMiB === null ? `${String(a.memoryPercent)}%` : String(a.memoryMiB);
  const limits = [c.useTypes, c.avoidTypes, c.useIds, c.avoidIds].map((l) => l.join(',')).join('/');
  return `${a.vendor}|${String(a.count)}|${memory}|${String(a.cores)}|${limits}|${String(c.numaBind)}|${c.mode ?? ''}`;
}

/** Whether a device may be used under constraints (the vendor module's rule). */
export type DeviceMatcher = (device: Device, constraints: DeviceConstraints) => boolean;

/**
 * The distribution of recent request shapes: a sliding window over the last `window` asks, from
 * which the most frequent shapes covering `coverage` of the window are kept (FGD keeps those
 * covering 95% of the trace), renormalised to sum to 1.
 */
export class ShapeTracker {
  private readonly ring: string[] = [];
  private next = 0;
  private readonly counts = new Map<string, { ask: VendorAsk; constraints: DeviceConstraints; count: number }>();
  private cached: readonly Shape[] = [];
  private dirty = 0;
  /** Changes whenever `shapes()` may return something new: caches key on it. */
  version = 0;

  constructor(
    readonly window = 2000,
    readonly coverage = 0.95,
    readonly maxShapes = 32,
    /** Recompute the kept shapes after this many new observations. */
    readonly refreshEvery = 16,
  ) {}

  observe(ask: VendorAsk, constraints: DeviceConstraints = NO_CONSTRAINTS): void {
    const key = shapeKey(ask, constraints);
    if (this.ring.length === this.window) {
      const old = this.ring[this.next] ?? '';
      const entry = this.counts.get(old);
      if (entry) {
        entry.count--;
        if (entry.count === 0) this.counts.delete(old);
      }
      this.ring[this.next] = key;
      this.next = (this.next + 1) % this.window;
    } else {
      this.ring.push(key);
    }
    const entry = this.counts.get(key);
    if (entry) entry.count++;
    else this.counts.set(key, { ask, constraints, count: 1 });
    this.dirty++;
    if (this.cached.length === 0 || this.dirty >= this.refreshEvery) this.recompute();
  }

  shapes(): readonly Shape[] {
    return this.cached;
  }

  private recompute(): void {
    this.dirty = 0;
    const entries = [...this.counts.entries()].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
    const total = this.ring.length;
    const kept: { ask: VendorAsk; constraints: DeviceConstraints; count: number }[] = [];
    let covered = 0;
    for (const [, e] of entries) {
      if (covered >= this.coverage * total || kept.length === this.maxShapes) break;
      kept.push(e);
      covered += e.count;
    }
    this.cached = kept.map(({ ask, constraints, count }) => ({
      vendor: ask.vendor,
      count: ask.count,
      memoryMiB: ask.memoryMiB,
      memoryPercent: ask.memoryPercent,
      cores: Math.min(ask.cores, 100),
      constraints,
      weight: count / covered,
    }));
    this.version++;
  }
}

interface NodeFragmentation {
  nodeVersion: number;
  shapeVersion: number;
  shapes: readonly Shape[];
  idle: Float64Array;
  idleSum: number;
  /** fits[m * devices + d] */
  fits: Uint8Array;
  fitCount: Int32Array;
  fragSum: Float64Array;
  value: number;
}

/** A tentative usage of one device, to evaluate a placement before making it. */
export interface DeviceState {
  readonly position: number;
  readonly tasks: number;
  readonly memoryMiB: number;
  readonly cores: number;
}

function usable(node: NodeState, position: number): boolean {
  const d = node.devices[position];
  return d !== undefined && d.healthy && !node.cordoned.has(d.id);
}

function idleOf(node: NodeState, position: number, memoryUsed: number, coresUsed: number): number {
  const d = node.devices[position];
  if (!d || !usable(node, position) || d.memoryMiB <= 0 || d.cores <= 0) return 0;
  return Math.max(0, Math.min((d.memoryMiB - memoryUsed) / d.memoryMiB, (d.cores - coresUsed) / d.cores));
}

function fitsShape(
  node: NodeState,
  position: number,
  s: Shape,
  tasks: number,
  memoryUsed: number,
  coresUsed: number,
  matches: DeviceMatcher,
): boolean {
  const d = node.devices[position];
  if (!d || d.vendor !== s.vendor || !usable(node, position) || tasks >= d.splitCount) return false;
  if (s.constraints !== NO_CONSTRAINTS && !matches(d, s.constraints)) return false;
  const memory = s.memoryMiB ?? Math.floor((d.memoryMiB * s.memoryPercent) / 100);
  if (d.memoryMiB - memoryUsed < memory || d.cores - coresUsed < s.cores) return false;
  return !(s.cores === 100 && tasks > 0);
}

/** Fragmentation bookkeeping per node, recomputed only when the node's usage or the shapes change. */
export class FragmentationModel {
  private readonly cache = new WeakMap<NodeState, NodeFragmentation>();

  constructor(
    readonly tracker: ShapeTracker,
    private readonly matches: DeviceMatcher,
  ) {}

  private state(node: NodeState): NodeFragmentation {
    const known = this.cache.get(node);
    if (known && known.nodeVersion === node.version && known.shapeVersion === this.tracker.version) return known;
    const shapes = this.tracker.shapes();
    const n = node.devices.length;
    const idle = new Float64Array(n);
    let idleSum = 0;
    for (let d = 0; d < n; d++) {
      idle[d] = idleOf(node, d, node.memory[d] ?? 0, node.cores[d] ?? 0);
      idleSum += idle[d] ?? 0;
    }
    const fits = new Uint8Array(shapes.length * n);
    const fitCount = new Int32Array(shapes.length);
    const fragSum = new Float64Array(shapes.length);
    let value = 0;
    shapes.forEach((s, m) => {
      let count = 0;
      let frag = 0;
      for (let d = 0; d < n; d++) {
        const ok = fitsShape(node, d, s, node.tasks[d] ?? 0, node.memory[d] ?? 0, node.cores[d] ?? 0, this.matches);
        fits[m * n + d] = ok ? 1 : 0;
        if (ok) count++;
        else frag += idle[d] ?? 0;
      }
      fitCount[m] = count;
      fragSum[m] = frag;
      value += s.weight * (count >= s.count ? frag : idleSum);
    });
    const state = { nodeVersion: node.version, shapeVersion: this.tracker.version, shapes, idle, idleSum, fits, fitCount, fragSum, value };
    this.cache.set(node, state);
    return state;
  }

  /** The node's fragmentation now, in GPUs. */
  fragmentation(node: NodeState): number {
    return this.state(node).value;
  }

  /**
   * How the node's fragmentation would change if some devices had the given usage instead
   * (negative: the placement reduces fragmentation). O(shapes × changed devices).
   */
  delta(node: NodeState, changed: readonly DeviceState[]): number {
    const st = this.state(node);
    const n = node.devices.length;
    let idleSum = st.idleSum;
    const newIdle: number[] = [];
    for (const c of changed) {
      const v = idleOf(node, c.position, c.memoryMiB, c.cores);
      newIdle.push(v);
      idleSum += v - (st.idle[c.position] ?? 0);
    }
    let value = 0;
    st.shapes.forEach((s, m) => {
      let count = st.fitCount[m] ?? 0;
      let frag = st.fragSum[m] ?? 0;
      changed.forEach((c, k) => {
        const before = st.fits[m * n + c.position] === 1;
        const after = fitsShape(node, c.position, s, c.tasks, c.memoryMiB, c.cores, this.matches);
        count += (after ? 1 : 0) - (before ? 1 : 0);
        frag += (after ? 0 : (newIdle[k] ?? 0)) - (before ? 0 : (st.idle[c.position] ?? 0));
      });
      value += s.weight * (count >= s.count ? frag : idleSum);
    });
    return value - st.value;
  }
}
