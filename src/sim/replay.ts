/**
 * One one-shot replay (one trace, one policy, one seed), by the FGD paper's procedure: the seed
 * shuffles and inflates the tasks and fixes a random node order for ties; tasks are placed one at
 * a time, never leave, and are dropped when no node fits. Pure computation: the caller reads the
 * files and prints.
 */
import { EventLog, curves, type Curves } from './metrics.js';
import { FgdFragmentation, typicalTasks, type TypicalTask } from './fgd-fragmentation.js';
import { type Decision, SimCluster, type SimTask, TaskCompiler } from './model.js';
import { addShare, packingFloor } from './packing-floor.js';
import type { PolicyInfo } from './policies/policy.js';
import { Rng } from './rng.js';
import { MILLI, TASK_KINDS, type TaskKind, type Trace, type TraceNode, taskMilli } from './trace.js';
import { arrivalSequence } from './workload.js';

export interface Failures {
  readonly tasks: number;
  /** GPU request of the failed tasks, milli-GPU. */
  readonly milli: number;
}

export interface RunResult {
  readonly policy: string;
  readonly seed: number;
  readonly tasks: number;
  readonly placed: number;
  readonly capacityMilli: number;
  /** Σ GPU request of the arrival sequence, % of capacity (≈ 100 × tune). */
  readonly arrivedPercent: number;
  /** 100 − A(100). */
  readonly unallocatedAt100: number;
  readonly curves: Curves;
  /** Failed tasks by kind, over the whole sequence and over the part arriving up to 100 % of capacity. */
  readonly failures: Readonly<Record<TaskKind, Failures>>;
  readonly failuresTo100: Readonly<Record<TaskKind, Failures>>;
  readonly at100: UnallocatedBreakdown;
  readonly seconds: number;
}

/**
 * Where the unallocated GPU is once the last task arriving by 100% of capacity has been placed or
 * dropped, % of capacity: unallocated = idle + slivers, and slivers = floor + packing loss.
 */
export interface UnallocatedBreakdown {
  readonly unallocated: number;
  /** GPUs nothing runs on (on nodes with or without CPU and memory left for a task). */
  readonly idle: number;
  /** What partly used GPUs have left. */
  readonly slivers: number;
  /** The least the shares placed by then leave, however they are packed onto GPUs (packing-floor.ts). */
  readonly floor: number;
  /** What the best packing found of those shares leaves: equal to `floor` when that bound is met. */
  readonly bestPacking: number;
  /**
   * The floor had every share arriving by 100% been placed, whatever the policy; null when those
   * shares alone need more GPUs than the cluster has. Not a bound on a run that drops shares.
   */
  readonly floorAllPlaced: number | null;
}

export interface ReplayOptions {
  readonly seed: number;
  /** Scale the GPU request to this multiple of capacity (the paper: 1.3); 0 replays the trace as it is. */
  readonly tune: number;
  /** FGD's typical tasks; computed from the trace when omitted (a study passes them once per trace). */
  readonly typical?: readonly TypicalTask[];
}

/** The reference simulator's tie order: nodes sorted by name, then given a seeded random rank. */
export function seededNodeOrder(nodes: readonly TraceNode[], rng: Rng): TraceNode[] {
  const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rank = rng.permutation(sorted.length);
  const ordered = new Array<TraceNode>(sorted.length);
  sorted.forEach((node, i) => {
    ordered[rank[i] ?? i] = node;
  });
  return ordered;
}

/** The state after the tasks arriving by 100%: whole idle GPUs, slivers, and the shares' packing floor. */
function breakdown(cluster: SimCluster, shares: ReadonlyMap<number, number>, arrivedShares: ReadonlyMap<number, number>, capacity: number): UnallocatedBreakdown {
  let idle = 0;
  let slivers = 0;
  for (const left of cluster.gpuLeft) {
    if (left >= MILLI) idle += left;
    else slivers += left;
  }
  const floor = packingFloor(shares);
  const all = packingFloor(arrivedShares);
  const percent = (milli: number): number => (100 * milli) / capacity;
  return {
    unallocated: percent(idle + slivers),
    idle: percent(idle),
    slivers: percent(slivers),
    floor: percent(floor.lowerBoundGpus * MILLI - floor.sharesMilli),
    bestPacking: percent(floor.packedGpus * MILLI - floor.sharesMilli),
    floorAllPlaced: all.lowerBoundGpus * MILLI > capacity ? null : percent(all.lowerBoundGpus * MILLI - all.sharesMilli),
  };
}

function noFailures(): Record<TaskKind, { tasks: number; milli: number }> {
  return Object.fromEntries(TASK_KINDS.map((k) => [k, { tasks: 0, milli: 0 }])) as Record<TaskKind, { tasks: number; milli: number }>;
}

/** Checks a policy's decision against the cluster: a policy bug must stop the run, not skew it. */
export function checkDecision(cluster: SimCluster, t: SimTask, d: Decision, policy: string): void {
  const start = cluster.gpuStart[d.node] ?? 0;
  const distinct = new Set(d.gpus);
  const ok =
    d.node >= 0 &&
    d.node < cluster.size &&
    cluster.fits(d.node, t) &&
    d.gpus.length === t.gpus &&
    distinct.size === d.gpus.length &&
    d.gpus.every((g) => g >= 0 && g < (cluster.gpuCount[d.node] ?? 0) && (cluster.gpuLeft[start + g] ?? 0) >= t.milli);
  if (!ok) {
    throw new Error(
      `policy ${policy} chose node ${cluster.names[d.node] ?? String(d.node)} GPUs [${d.gpus.join(',')}] for task ${t.source.name}, which does not fit there`,
    );
  }
}

export function replay(trace: Trace, policy: PolicyInfo, options: ReplayOptions): RunResult {
  const started = performance.now();
  const rng = new Rng(options.seed);
  const capacity = trace.nodes.reduce((s, n) => s + n.gpus * MILLI, 0);
  if (capacity === 0) throw new Error(`${trace.nodesSource}: the cluster has no GPU`);
  const arrivals = arrivalSequence(trace.tasks, capacity, options.tune, rng);
  const cluster = new SimCluster(seededNodeOrder(trace.nodes, rng));
  const typical = options.typical ?? typicalTasks(trace.tasks);
  const fragmentation = new FgdFragmentation(cluster, typical);
  const placer = policy.create({ cluster, typical, fragmentation, rng });
  const compiler = new TaskCompiler(cluster.modelIds);
  const log = new EventLog();
  const failures = noFailures();
  const failuresTo100 = noFailures();
  let arrived = 0;
  let placed = 0;
  // GPU shares (the GPUs of tasks asking less than a whole one), size → GPUs: placed, and arrived.
  const shares = new Map<number, number>();
  const arrivedShares = new Map<number, number>();
  let at100: UnallocatedBreakdown | null = null;
  const by100 = (milli: number): boolean => Math.round((100 * milli) / capacity) <= 100;
  for (const source of arrivals.tasks) {
    if (!at100 && !by100(arrived + taskMilli(source))) at100 = breakdown(cluster, shares, arrivedShares, capacity);
    const t = compiler.compile(source);
    arrived += taskMilli(source);
    const share = source.gpuMilli > 0 && source.gpuMilli < MILLI;
    if (share && !at100) addShare(arrivedShares, source.gpuMilli, source.gpus);
    const d = placer.choose(t);
    if (d) {
      checkDecision(cluster, t, d, policy.name);
      cluster.place(t, d);
      fragmentation.refresh(d.node);
      placer.placed(t, d);
      placed++;
      if (share) addShare(shares, source.gpuMilli, source.gpus);
    } else {
      const f = failures[t.kind];
      f.tasks++;
      f.milli += taskMilli(source);
      if (by100(arrived)) {
        const g = failuresTo100[t.kind];
        g.tasks++;
        g.milli += taskMilli(source);
      }
    }
    log.record(arrived, cluster.allocatedMilli, fragmentation.total, cluster.idleMilli);
  }
  const c = curves(log, capacity);
  return {
    policy: policy.name,
    seed: options.seed,
    tasks: arrivals.tasks.length,
    placed,
    capacityMilli: capacity,
    arrivedPercent: (100 * arrivals.requestedMilli) / capacity,
    unallocatedAt100: 100 - (c.allocation[100] ?? NaN),
    curves: c,
    failures,
    failuresTo100,
    at100: at100 ?? breakdown(cluster, shares, arrivedShares, capacity),
    seconds: (performance.now() - started) / 1000,
  };
}
