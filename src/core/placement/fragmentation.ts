/**
 * Fragmentation-aware placement: Tessera's policy. It builds on FGD (Weng et al., USENIX ATC
 * '23): a node's fragmentation F is the idle device capacity that the pods expected next could
 * not use, weighted by how often each pod shape is seen, and a pod goes where it raises F least
 * (or lowers it most):
 *
 *   F(node) = Σ_m p_m · (idle(node) − usable(node, m))
 *
 * A device that can take one more pod of shape m is usable by m; the others' idle capacity is a
 * fragment for m (FGD's rule). What FGD misses is the node's CPU and host memory: it asks whether
 * the node has CPU for *one* pod of m, and ignores memory, so eight idle GPUs beside CPU or memory
 * for one more pod count as usable. Here the host is weighed both ways and the two views blended:
 *
 *   usable(node, m) = (1 − a) · U     if the CPU and memory hold at least one pod of m, else 0
 *                   + a · U · min(1, H / C)   (the share of the C pods the devices could hold
 *                                              that the host, H pods' worth, can feed)
 *
 * where U is the idle capacity of the devices that can take m, and H the pods of m that both the
 * free CPU and the free memory hold. The blend beat both views alone on the openb traces
 * (docs/simulator.md has the figures): CPU- and memory-hungry pods go to nodes rich in them
 * instead of eating what the GPUs next to them need. The count view's weight a is ½, but for
 * one-device shapes it falls to 0.1 as pods asking several devices make more of the demand: the
 * host-rich nodes it steers hungry pods to are often the only ones whose host holds the largest
 * pods (`countViewWeight`).
 *
 * F looks one pod ahead: a partly used device counts as usable by every shape that fits in its
 * rest, though after that pod the rest of the rest may fit nothing. What stays unallocated when a
 * cluster is full is mostly such slivers (docs/simulator.md), so each partly used device's
 * packing waste is added to F, weighted by 4: its free rest less what the shares seen could make
 * of it, priced by the best packing of their sizes into devices (`packingWaste`). A share then goes
 * where it completes a device the way an optimal packing of the shares seen would, rather than
 * into the tightest rest: a 23% share tops up a 55% device for a 22% one to finish, and leaves the
 * 65% device's 35% to a 32% share.
 *
 * The shape distribution p_m is learnt online from the pods seen (a sliding window), never given
 * in advance, and each p_m is multiplied by how scarce the devices m can use are (the cluster's
 * usable devices over those that can take m; see `scarcityFactors`). Idle capacity is measured in
 * devices: a device's idle fraction is the smaller of its free memory and free compute fractions.
 *
 * Until a pod has asked for as many devices as the largest node has, a shape of several devices
 * counts only whole multiples of itself as usable: seven idle GPUs hold one 4-GPU pod, not
 * seven GPUs' worth. FGD's rule (all seven) then makes breaking an idle 8-GPU node cheaper than
 * breaking an idle 4-GPU one, and the 8-GPU pods not met yet find no whole node. Once such a pod
 * has been seen, its own shape keeps whole nodes, and FGD's rule did better on the openb traces.
 */
import type { Device, HostResources } from '../device.js';
import type { PodRequest } from '../request.js';
import { type DeviceConstraints, NO_CONSTRAINTS, type VendorAsk } from '../vendors/vendor.js';
import { type Items, relaxation, restValues } from './bin-packing.js';
import type { NodeState } from './cluster.js';

/** A pod shape and its share of recent pods. */
export interface Shape {
  /** The pod's device ask (its first, for pods asking several), or null for a pod asking for no device. */
  readonly ask: VendorAsk | null;
  readonly constraints: DeviceConstraints;
  /** The pod's CPU request, millicores. */
  readonly cpuMilli: number;
  /** The mean host-memory request of the shape's pods in the window when the shapes were published, MiB. */
  readonly memoryMiB: number;
  readonly weight: number;
}

/**
 * Shapes are told apart by device ask, constraints and CPU, not by host memory: pods of one kind ask
 * for many slightly different amounts of it, and splitting shapes on it would scatter them over
 * many rare ones. A shape carries the mean memory of its pods instead.
 */
function shapeKey(request: PodRequest): { key: string; ask: VendorAsk | null; constraints: DeviceConstraints } {
  const ask = request.containers.flatMap((c) => c.asks)[0] ?? null;
  const host = String(request.host.cpuMilli);
  if (!ask) return { key: `-|${host}`, ask: null, constraints: NO_CONSTRAINTS };
  const c = request.constraints.get(ask.vendor) ?? NO_CONSTRAINTS;
  const memory = ask.memoryMiB === null ? `${String(ask.memoryPercent)}%` : String(ask.memoryMiB);
  const limits = [c.useTypes, c.avoidTypes, c.useIds, c.avoidIds].map((l) => l.join(',')).join('/');
  const key = `${ask.vendor}|${String(ask.count)}|${memory}|${String(ask.cores)}|${limits}|${String(c.numaBind)}|${c.mode ?? ''}|${host}`;
  return { key, ask, constraints: c };
}

/** Devices' worth of one device of the ask: its compute or memory share, or a whole device when it names neither. */
function deviceShare(ask: VendorAsk): number {
  return ask.cores > 0 || ask.memoryPercent > 0 ? Math.max(ask.cores, ask.memoryPercent) / 100 : 1;
}

/** The two host views' blend where nothing argues for either. */
const EVEN_BLEND = 0.5;

/**
 * How much the host "count" view weighs for one-device shapes (the rest is the one-pod view), from
 * the share of the device demand seen so far that pods asking several devices make: ½ up to 10%,
 * falling evenly to 0.1 at 30% and beyond, in steps of 0.05 (a change re-publishes the shapes, so
 * the steps, and `SHARE_TOLERANCE` in the tracker, keep that rare).
 *
 * Why: the count view sends host-hungry pods to the nodes with the most CPU and memory per device,
 * and those are often the only nodes whose host holds the largest multi-device pods. On openb's
 * multigpu30 trace (seed 43) the 8-GPU, 120-core tasks fit only the 39 G3 nodes; with the count
 * view at ½ those nodes' GPUs were 75% used when half the cluster's capacity had arrived and 98%
 * at 70%, and such tasks failed from 67%; at 0.1, 41% and 66%, and the first failed at 96%. Where
 * multi-device pods ask little (7% of the demand in openb's default mix) the count view is worth
 * more than that: at 0.1 the cpu250 and gpuspec20 traces lost 0.4–0.5 points. The breakpoints
 * were chosen on the openb traces (docs/simulator.md). The weight moves from the first pods on:
 * held at ½ until 2,000 pods had been seen, it kept only a third of the gain on multigpu30.
 */
export function countViewWeight(multiDeviceShare: number): number {
  const fall = Math.min(1, Math.max(0, (multiDeviceShare - 0.1) / 0.2));
  return Math.round(20 * (EVEN_BLEND - 0.4 * fall)) / 20;
}

/**
 * How far the multi-device share must move from the share the count view's weight was last worked
 * out from before it is worked out again. Without it a share hovering at the edge between two
 * steps flipped the weight back and forth, and every flip re-scores every node: on openb's
 * multigpu20 (seed 42; its share between 0.18 and 0.22 from the 500th pod on, mostly near the
 * edge at 0.2125) the weight moved 24 times in a run without it and 10 times with it, and the run
 * took 22.5 s against 14 s (`npm run bench -- simulate`). Results moved within the seed-to-seed
 * spread (docs/simulator.md).
 */
const SHARE_TOLERANCE = 0.01;

/**
 * The distribution of recent pod shapes: a sliding window over the last `window` pods, from which
 * the most frequent shapes covering `coverage` of the window are kept (FGD keeps those covering
 * 95% of the trace), renormalised to sum to 1. A new distribution is published only when it has
 * moved by more than `tolerance` (total variation distance) from the one in use, or when the count
 * view's weight moves (it is learnt from every pod seen, not the window): scoring caches stay valid
 * while the workload is steady. Two windows of a steady workload differ by a few percent from
 * sampling alone; the default tolerance of 10% ignores that and follows real change.
 */
export class ShapeTracker {
  private readonly ring: string[] = [];
  /** The host memory of the pod in the same slot of `ring`, MiB. */
  private readonly ringMemory: number[] = [];
  private next = 0;
  /** Per shape key: its pods in the window and the sum of their memory requests (MiB). */
  private readonly counts = new Map<
    string,
    { ask: VendorAsk | null; constraints: DeviceConstraints; cpuMilli: number; count: number; memorySumMiB: number }
  >();
  private published: readonly Shape[] = [];
  private publishedKeys: readonly string[] = [];
  private sinceCheck = 0;
  /** Changes whenever `shapes()` returns something new: caches key on it. */
  version = 0;
  /** The most devices one ask of any pod seen so far has asked for (since the start, not in the window). */
  largestAsk = 0;
  /** Devices' worth asked by all pods seen so far, and by the pods asking several devices at once. */
  private demand = 0;
  private multiDeviceDemand = 0;
  private countWeightInUse = countViewWeight(0);
  /** The multi-device share `countWeightInUse` was worked out from. */
  private countWeightShare = 0;

  constructor(
    readonly window = 2000,
    readonly coverage = 0.95,
    readonly maxShapes = 128,
    /** Look at the distribution again after this many new pods. */
    readonly checkEvery = 64,
    readonly tolerance = 0.1,
  ) {}

  observe(request: PodRequest): void {
    for (const c of request.containers) {
      for (const a of c.asks) {
        this.largestAsk = Math.max(this.largestAsk, a.count);
        const worth = a.count * deviceShare(a);
        this.demand += worth;
        if (a.count > 1) this.multiDeviceDemand += worth;
      }
    }
    const { key, ask, constraints } = shapeKey(request);
    const memory = request.host.memoryMiB;
    if (this.ring.length === this.window) {
      const old = this.ring[this.next] ?? '';
      const entry = this.counts.get(old);
      if (entry) {
        entry.count--;
        entry.memorySumMiB -= this.ringMemory[this.next] ?? 0;
        if (entry.count === 0) this.counts.delete(old);
      }
      this.ring[this.next] = key;
      this.ringMemory[this.next] = memory;
      this.next = (this.next + 1) % this.window;
    } else {
      this.ring.push(key);
      this.ringMemory.push(memory);
    }
    const entry = this.counts.get(key);
    if (entry) {
      entry.count++;
      entry.memorySumMiB += memory;
    } else {
      this.counts.set(key, { ask, constraints, cpuMilli: request.host.cpuMilli, count: 1, memorySumMiB: memory });
    }
    this.sinceCheck++;
    // The first pod's shape is published at once, so that there is something to go on; then the
    // mix is looked at every `checkEvery` pods. (Looking at each of the first `checkEvery` pods
    // was tried and did no better; docs/simulator.md.)
    if (this.published.length === 0 || this.sinceCheck >= this.checkEvery) this.check();
  }

  shapes(): readonly Shape[] {
    return this.published;
  }

  /** The weight of the host "count" view for one-device shapes ({@link countViewWeight}), fixed between versions. */
  countWeight(): number {
    return this.countWeightInUse;
  }

  private check(): void {
    this.sinceCheck = 0;
    const entries = [...this.counts.entries()].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
    const total = this.ring.length;
    const kept: typeof entries = [];
    let covered = 0;
    for (const e of entries) {
      if (covered >= this.coverage * total || kept.length === this.maxShapes) break;
      kept.push(e);
      covered += e[1].count;
    }
    // Pods taking several devices are rare and the costliest to strand: keep every such shape
    // in the window, even below the coverage cut.
    const cut = new Set(kept);
    for (const e of entries) {
      if (kept.length === this.maxShapes) break;
      if ((e[1].ask?.count ?? 0) > 1 && !cut.has(e)) {
        kept.push(e);
        covered += e[1].count;
      }
    }
    const weights = new Map(kept.map(([key, e]) => [key, e.count / covered]));
    let distance = 0;
    this.publishedKeys.forEach((key, i) => {
      distance += Math.abs((this.published[i]?.weight ?? 0) - (weights.get(key) ?? 0));
    });
    for (const [key, w] of weights) if (!this.publishedKeys.includes(key)) distance += w;
    const share = this.demand > 0 ? this.multiDeviceDemand / this.demand : 0;
    let countWeightMoved = false;
    if (Math.abs(share - this.countWeightShare) > SHARE_TOLERANCE) {
      const countWeight = countViewWeight(share);
      countWeightMoved = countWeight !== this.countWeightInUse;
      this.countWeightInUse = countWeight;
      this.countWeightShare = share;
    }
    if (this.published.length > 0 && distance / 2 <= this.tolerance && !countWeightMoved) return;
    this.published = kept.map(([key, e]) => ({
      ask: e.ask,
      constraints: e.constraints,
      cpuMilli: e.cpuMilli,
      memoryMiB: e.memorySumMiB / e.count,
      weight: weights.get(key) ?? 0,
    }));
    this.publishedKeys = kept.map(([key]) => key);
    this.version++;
  }
}

/** What the fragmentation model asks the vendor modules (through the engine) about a device. */
export interface DeviceRules {
  /**
   * What one ask of the shape takes on the device when granted (templates round up), or null
   * when the device can never take it (vendor, type, health, constraints).
   */
  size(node: NodeState, position: number, shape: Shape): { readonly memoryMiB: number; readonly cores: number } | null;
  /** Whether the device could take one more ask of the shape with this usage (the vendor's rules). */
  mayTake(node: NodeState, position: number, tasks: number, memoryUsed: number, coresUsed: number, shape: Shape): boolean;
}

/** A tentative usage of one device, to evaluate a placement before making it. */
export interface DeviceState {
  readonly position: number;
  readonly tasks: number;
  readonly memoryMiB: number;
  readonly cores: number;
}

interface NodeTerms {
  nodeVersion: number;
  shapeVersion: number;
  shapes: readonly Shape[];
  /** The shapes' scarcity factors the value was worked out with (a new array when they change). */
  factors: Float64Array;
  /** Per shape and device: the size of one copy (memory, compute; memory −1 when the device can never take it). */
  sizeMemory: Float64Array;
  sizeCores: Float64Array;
  idle: Float64Array;
  idleSum: number;
  /** copies[m * devices + d]: asks of shape m device d could take. */
  copies: Float64Array;
  /** usable[m * devices + d]: idle fraction of device d when it can take shape m, else 0. */
  usable: Float64Array;
  copySum: Float64Array;
  usableSum: Float64Array;
  /** Per device, the packing-waste table of the shapes that can use it (see `packingWaste`). */
  wasteTables: Float64Array[];
  /** Σ over partly used devices of their packing waste. */
  wasteSum: number;
  value: number;
}

/**
 * How much of a partly used device's packing waste is added to its fragmentation. Below 4 the
 * other terms decide most placements and the packing gain fades (default trace, seeds 42–45: 4.44
 * at 1, 4.48 at 2, 4.34 at 4, 4.33 at 8 and 16); docs/simulator.md has the screen.
 */
const WASTE_WEIGHT = 4;
/** Waste is worked out per hundredth of a device. */
const WASTE_STEPS = 100;
const NO_WASTE = new Float64Array(WASTE_STEPS + 1);

/**
 * W[r]: the packing waste of a device with r hundredths free, given the sizes (hundredths of a
 * device) of the one-device shares seen and their weights. The sizes' best packing into devices
 * (the linear relaxation by patterns, `bin-packing.ts`) prices each size in devices; V[r] is the
 * most the sizes fitting in r are worth at those prices, and
 *
 *   W[r] = r / 100 − V[r].
 *
 * Placing a share of size s into a rest r changes W by V[r] − V[r − s] − s/100: the devices the
 * move loses against the best packing (V[r] − price(s) − V[r − s] ≥ 0) plus price(s) − s/100, the
 * same wherever the share goes. So
 * among the devices a share fits, it goes where it loses least: into the rest a pattern of the
 * best packing leaves for it. An 81% share is priced a whole device when nothing but a rare 16%
 * fits its rest, so its 19% rest is all waste; a rest that holds an 81% share is worth a device,
 * more than its size (W < 0). An idle device is worth a whole device (W = 0).
 */
export function packingWaste(sizes: readonly { readonly steps: number; readonly weight: number }[]): Float64Array {
  const weightOf = new Map<number, number>();
  for (const { steps, weight } of sizes) {
    if (steps >= 1 && steps < WASTE_STEPS && weight > 0) weightOf.set(steps, (weightOf.get(steps) ?? 0) + weight);
  }
  const waste = new Float64Array(WASTE_STEPS + 1);
  const items: Items = { size: [...weightOf.keys()], count: [...weightOf.values()] };
  const values = items.size.length > 0 ? restValues(items.size, relaxation(items, WASTE_STEPS, false).prices, WASTE_STEPS) : NO_WASTE;
  for (let r = 1; r <= WASTE_STEPS; r++) waste[r] = r / WASTE_STEPS - (values[r] ?? 0);
  return waste;
}

function usableDevice(node: NodeState, position: number): Device | null {
  const d = node.devices[position];
  return d !== undefined && d.healthy && !node.cordoned.has(d.id) && d.memoryMiB > 0 && d.cores > 0 ? d : null;
}

/** A device's packing waste: none when it is idle (whole devices are F's business) or full. */
function wasteAt(table: Float64Array, idle: number): number {
  if (idle <= 1e-4 || idle >= 1 - 1e-4) return 0;
  return table[Math.floor(idle * WASTE_STEPS + 1e-6)] ?? 0;
}

/**
 * Pods of the shape that the node's free CPU and memory both hold: Infinity when the shape asks for
 * neither or the node does not say what it has (its free CPU and memory are then Infinity).
 */
function podsHostHolds(free: HostResources, shape: Shape): number {
  const cpu = shape.cpuMilli > 0 ? Math.floor(free.cpuMilli / shape.cpuMilli) : Infinity;
  const memory = shape.memoryMiB > 0 ? Math.floor(free.memoryMiB / shape.memoryMiB) : Infinity;
  return Math.max(0, Math.min(cpu, memory));
}

function idleOf(node: NodeState, position: number, memoryUsed: number, coresUsed: number): number {
  const d = usableDevice(node, position);
  if (!d) return 0;
  return Math.max(0, Math.min((d.memoryMiB - memoryUsed) / d.memoryMiB, (d.cores - coresUsed) / d.cores));
}

/** Fragmentation bookkeeping per node, recomputed only when the node's usage or the shapes change. */
export class FragmentationModel {
  private readonly cache = new WeakMap<NodeState, NodeTerms>();
  private copyScratch = new Float64Array(64);
  private usableScratch = new Float64Array(64);

  private scarcity: {
    readonly shapeVersion: number;
    readonly devices: number;
    readonly factors: Float64Array;
    /** Whether multi-device shapes count only whole multiples of themselves (see the top of the file). */
    readonly wholeMultiples: boolean;
  } | null = null;
  private weightsGeneration = 0;
  /** Expected-waste tables by the shapes (and their sizes) a device can take; emptied when the factors change. */
  private wasteTables = new Map<string, Float64Array>();

  constructor(
    readonly tracker: ShapeTracker,
    private readonly rules: DeviceRules,
    /** The cluster's nodes and how many devices they have, for {@link scarcityFactors}. */
    private readonly cluster: {
      readonly nodes: () => Iterable<NodeState>;
      readonly devices: () => number;
      /** The most devices any one node has. */
      readonly largestNodeDevices: () => number;
    } = { nodes: () => [], devices: () => 0, largestNodeDevices: () => 0 },
  ) {}

  /**
   * Per shape, how much scarcer the devices it can use are than devices in general: the cluster's
   * usable devices over those that can take the shape (1 for a shape any device takes, or none
   * can). A shape's weight is multiplied by it, so the weight measures the shape's demand per
   * device it can use, not per device. Without it a pod bound to a rare model (a T4-only task in a
   * cluster of mostly other GPUs) weighs as little as it is frequent, and unconstrained pods fill
   * the rare model first; with it, idle capacity of a rare model counts as what it is, the only
   * home of the pods that need it. (openb gpuspec33, seeds 42–45: 14.14% of GPUs unallocated
   * at full demand without, 6.59% with; FGD 12.16%.) Worked out again when the shapes change or
   * the cluster's device count does.
   */
  private scarcityFactors(shapes: readonly Shape[]): Float64Array {
    const devices = this.cluster.devices();
    const known = this.scarcity;
    if (
      known !== null &&
      known.shapeVersion === this.tracker.version &&
      known.devices === devices &&
      known.factors.length === shapes.length &&
      known.wholeMultiples === this.largePodsUnseen()
    ) {
      return known.factors;
    }
    const usable = new Float64Array(shapes.length);
    let total = 0;
    for (const node of this.cluster.nodes()) {
      for (let d = 0; d < node.devices.length; d++) {
        if (!usableDevice(node, d)) continue;
        total++;
        for (let m = 0; m < shapes.length; m++) {
          const shape = shapes[m];
          if (shape?.ask && this.rules.size(node, d, shape)) usable[m] = (usable[m] ?? 0) + 1;
        }
      }
    }
    const factors = new Float64Array(shapes.length);
    for (let m = 0; m < shapes.length; m++) {
      const u = usable[m] ?? 0;
      factors[m] = shapes[m]?.ask && u > 0 ? total / u : 1;
    }
    this.scarcity = { shapeVersion: this.tracker.version, devices, factors, wholeMultiples: this.largePodsUnseen() };
    this.wasteTables = new Map();
    this.weightsGeneration++;
    return factors;
  }

  /**
   * The packing-waste table of device d: from the one-device shapes that can use it, their sizes
   * on it and their weights. The weights are how often the shapes are seen, without the scarcity
   * factor: the packing prices the shares that will come, and a rare model's shapes weighed many
   * times over made its devices' prices wrong for the unconstrained shares that also land there
   * (gpuspec20 +0.5 and gpuspec33 +0.8 with the factor, −0.23 and −0.08 without; seeds 42–45).
   * Devices of one model share a table.
   */
  private wasteTable(node: NodeState, d: number, t: NodeTerms): Float64Array {
    const device = usableDevice(node, d);
    if (!device) return NO_WASTE;
    const n = node.devices.length;
    const sizes: { steps: number; weight: number }[] = [];
    let key = '';
    for (let m = 0; m < t.shapes.length; m++) {
      const shape = t.shapes[m];
      const i = m * n + d;
      const memory = t.sizeMemory[i] ?? -1;
      if (!shape?.ask || shape.ask.count !== 1 || memory < 0) continue;
      const fraction = Math.max(memory / device.memoryMiB, (t.sizeCores[i] ?? 0) / device.cores);
      const steps = Math.ceil(fraction * WASTE_STEPS - 1e-6);
      sizes.push({ steps, weight: shape.weight });
      key += `${String(m)}:${String(steps)},`;
    }
    let table = this.wasteTables.get(key);
    if (!table) {
      table = packingWaste(sizes);
      this.wasteTables.set(key, table);
    }
    return table;
  }

  /**
   * Whether no pod has yet asked for as many devices as the largest node has: the learnt shapes
   * cannot yet say whether whole large nodes will be wanted. The engine then breaks ties towards
   * the node with the least idle capacity, and multi-device shapes count whole multiples only.
   */
  largePodsUnseen(): boolean {
    return this.tracker.largestAsk < this.cluster.largestNodeDevices();
  }

  /**
   * Changes whenever the weighted shapes do (new shapes, or new scarcity factors after the
   * cluster's devices changed): scores cached outside the model key on it.
   */
  weightsVersion(): number {
    this.scarcityFactors(this.tracker.shapes());
    return this.weightsGeneration;
  }

  /** Copies of shape m device d could take with this usage. */
  private copies(node: NodeState, t: NodeTerms, m: number, d: number, tasks: number, memoryUsed: number, coresUsed: number): number {
    const i = m * node.devices.length + d;
    const memory = t.sizeMemory[i] ?? -1;
    const shape = t.shapes[m];
    const device = node.devices[d];
    if (memory < 0 || !shape || !device || !this.rules.mayTake(node, d, tasks, memoryUsed, coresUsed, shape)) return 0;
    const cores = t.sizeCores[i] ?? 0;
    let n = device.splitCount - tasks;
    if (memory > 0) n = Math.min(n, Math.floor((device.memoryMiB - memoryUsed) / memory));
    if (cores > 0) n = Math.min(n, Math.floor((device.cores - coresUsed) / cores));
    return Math.max(1, n);
  }

  private terms(node: NodeState): NodeTerms {
    const known = this.cache.get(node);
    const shapes = this.tracker.shapes();
    const factors = this.scarcityFactors(shapes);
    if (known && known.nodeVersion === node.version && known.shapeVersion === this.tracker.version && known.factors === factors) return known;
    const n = node.devices.length;
    const idle = new Float64Array(n);
    let idleSum = 0;
    for (let d = 0; d < n; d++) {
      idle[d] = idleOf(node, d, node.memory[d] ?? 0, node.cores[d] ?? 0);
      idleSum += idle[d] ?? 0;
    }
    const copies = new Float64Array(shapes.length * n);
    const usable = new Float64Array(shapes.length * n);
    const copySum = new Float64Array(shapes.length);
    const usableSum = new Float64Array(shapes.length);
    const sizeMemory = new Float64Array(shapes.length * n).fill(-1);
    const sizeCores = new Float64Array(shapes.length * n);
    const terms: NodeTerms = {
      nodeVersion: node.version,
      shapeVersion: this.tracker.version,
      shapes,
      factors,
      sizeMemory,
      sizeCores,
      idle,
      idleSum,
      copies,
      usable,
      copySum,
      usableSum,
      wasteTables: [],
      wasteSum: 0,
      value: 0,
    };
    shapes.forEach((s, m) => {
      if (!s.ask) return;
      for (let d = 0; d < n; d++) {
        const device = usableDevice(node, d);
        const size = device ? this.rules.size(node, d, s) : null;
        if (!device || !size) continue;
        const i = m * n + d;
        sizeMemory[i] = size.memoryMiB;
        sizeCores[i] = size.cores;
        const c = this.copies(node, terms, m, d, node.tasks[d] ?? 0, node.memory[d] ?? 0, node.cores[d] ?? 0);
        const u = c > 0 ? (idle[d] ?? 0) : 0;
        copies[i] = c;
        usable[i] = u;
        copySum[m] = (copySum[m] ?? 0) + c;
        usableSum[m] = (usableSum[m] ?? 0) + u;
      }
    });
    for (let d = 0; d < n; d++) {
      const table = this.wasteTable(node, d, terms);
      terms.wasteTables.push(table);
      terms.wasteSum += wasteAt(table, idle[d] ?? 0);
    }
    const free = { cpuMilli: node.freeCpu(), memoryMiB: node.freeHostMemory() };
    terms.value = this.evaluate(terms, idleSum, copySum, usableSum, free, terms.wasteSum);
    this.cache.set(node, terms);
    return terms;
  }

  /** F of a node with these sums, its free host resources and its partly used devices' packing waste. */
  private evaluate(
    t: NodeTerms,
    idleSum: number,
    copySum: ArrayLike<number>,
    usableSum: ArrayLike<number>,
    free: HostResources,
    wasteSum: number,
  ): number {
    let value = 0;
    for (let m = 0; m < t.shapes.length; m++) {
      const s = t.shapes[m];
      if (!s) continue;
      if (!s.ask) {
        value += s.weight * idleSum;
        continue;
      }
      const weight = s.weight * (t.factors[m] ?? 1);
      // A pod that takes several devices needs that many devices' worth of copies.
      const copies = Math.floor((copySum[m] ?? 0) / Math.max(1, s.ask.count));
      let usable = copies > 0 ? (usableSum[m] ?? 0) : 0;
      if (this.scarcity?.wholeMultiples === true && s.ask.count > 1) usable = Math.min(usable, copies * s.ask.count);
      if (copies > 0) {
        // Where the host holds every copy (or does not say), both views are `usable` itself.
        const hostCopies = podsHostHolds(free, s);
        const one = hostCopies >= 1 ? usable : 0;
        const many = (usable * Math.min(hostCopies, copies)) / copies;
        // Multi-device shapes keep the even blend: a small weight for them alone changed nothing
        // on multigpu30 (docs/simulator.md, "The count view yields…"). The tracker's weight moves
        // only with its version, so it is the one these terms were worked out with.
        const a = s.ask.count > 1 ? EVEN_BLEND : this.tracker.countWeight();
        usable = (1 - a) * one + a * many;
      }
      value += weight * Math.max(0, idleSum - usable);
    }
    return value + WASTE_WEIGHT * wasteSum;
  }

  /** The node's idle device capacity now, in devices. */
  idle(node: NodeState): number {
    return this.terms(node).idleSum;
  }

  /** The node's fragmentation now, in devices. */
  fragmentation(node: NodeState): number {
    return this.terms(node).value;
  }

  /**
   * How the node's fragmentation would change if some devices had the given usage instead and
   * the node gave `host` more CPU and memory (negative: the placement reduces fragmentation).
   * O(shapes × changed devices).
   */
  delta(node: NodeState, changed: readonly DeviceState[], host: HostResources): number {
    const t = this.terms(node);
    const n = node.devices.length;
    let idleSum = t.idleSum;
    let wasteSum = t.wasteSum;
    if (this.copyScratch.length < t.shapes.length) {
      this.copyScratch = new Float64Array(t.shapes.length * 2);
      this.usableScratch = new Float64Array(t.shapes.length * 2);
    }
    const copySum = this.copyScratch;
    const usableSum = this.usableScratch;
    copySum.set(t.copySum);
    usableSum.set(t.usableSum);
    for (const c of changed) {
      const idle = idleOf(node, c.position, c.memoryMiB, c.cores);
      idleSum += idle - (t.idle[c.position] ?? 0);
      const table = t.wasteTables[c.position] ?? NO_WASTE;
      wasteSum += wasteAt(table, idle) - wasteAt(table, t.idle[c.position] ?? 0);
      for (let m = 0; m < t.shapes.length; m++) {
        const i = m * n + c.position;
        if ((t.sizeMemory[i] ?? -1) < 0) continue;
        const copies = this.copies(node, t, m, c.position, c.tasks, c.memoryMiB, c.cores);
        const usable = copies > 0 ? idle : 0;
        copySum[m] = (copySum[m] ?? 0) + copies - (t.copies[i] ?? 0);
        usableSum[m] = (usableSum[m] ?? 0) + usable - (t.usable[i] ?? 0);
      }
    }
    const free = { cpuMilli: node.freeCpu() - host.cpuMilli, memoryMiB: node.freeHostMemory() - host.memoryMiB };
    const after = this.evaluate(t, idleSum, copySum, usableSum, free, wasteSum);
    return after - t.value;
  }
}
