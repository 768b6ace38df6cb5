/**
 * One one-shot replay (one trace, one policy, one seed), by the FGD paper's procedure: the seed
 * shuffles and inflates the tasks and fixes a random node order for ties; tasks are placed one at
 * a time, never leave, and are dropped when no node fits. Pure computation: the caller reads the
 * files and prints.
 */
import { EventLog, curves, type Curves } from './metrics.js';
import { FgdFragmentation, typicalTasks, type TypicalTask } from './fgd-fragmentation.js';
import { type Decision, SimCluster, type SimTask, TaskCompiler } from './model.js';
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
  readonly seconds: number;
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
  for (const source of arrivals.tasks) {
    const t = compiler.compile(source);
    arrived += taskMilli(source);
    const d = placer.choose(t);
    if (d) {
      checkDecision(cluster, t, d, policy.name);
      cluster.place(t, d);
      fragmentation.refresh(d.node);
      placer.placed(t, d);
      placed++;
    } else {
      const f = failures[t.kind];
      f.tasks++;
      f.milli += taskMilli(source);
      if (Math.round((100 * arrived) / capacity) <= 100) {
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
    seconds: (performance.now() - started) / 1000,
  };
}
