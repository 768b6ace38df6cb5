/**
 * A built-in example cluster and a seeded synthetic workload, so the simulator runs without the
 * research trace (Alibaba's cluster-trace-gpu-v2023 may not be redistributed with this project):
 * `npm start`, the tests and a new user get a cluster and tasks shaped like the openb default
 * trace. The shapes below resemble openb; they are not fitted to it.
 */
import { Rng } from './rng.js';
import { MILLI, type Trace, type TraceNode, type TraceTask } from './trace.js';

export interface SyntheticOptions {
  readonly seed: number;
  /** Number of tasks; default chosen so the GPU request ≈ the cluster's GPU capacity (≈ 1.0×). */
  readonly tasks?: number;
  /** Fractions of task COUNT; defaults follow the openb default trace: cpuOnly 0.133, sharing 0.45, whole single-GPU ≈ 0.37, multi-GPU ≈ 0.047 (2, 4 or 8 GPUs). Must each be in [0,1] and sum to ≤ 1 (the remainder goes to whole single-GPU tasks). */
  readonly cpuOnly?: number;
  readonly sharing?: number;
  readonly multiGpu?: number;
  /** Fraction of GPU tasks restricted to a random non-empty subset of the cluster's GPU models (default 0). */
  readonly typeConstrained?: number;
  /** Seconds: tasks arrive as a Poisson process of this mean inter-arrival, lifetimes log-normal with this median (defaults 60 and 540, p90 ≈ 6500 like openb). Used only by the online replay. */
  readonly meanInterArrival?: number;
  readonly medianLifetime?: number;
}

type Weighted = readonly (readonly [value: number, weight: number])[];

/** Sharing tasks' milli-GPU: openb's common values, most weight on 250, 460, 470, 500 and 810. */
const SHARING_MILLI: Weighted = [
  [50, 2], [100, 4], [200, 4], [250, 10], [300, 4], [400, 4], [460, 12],
  [470, 10], [500, 14], [600, 4], [700, 3], [750, 4], [810, 8], [900, 3],
];
/** Multi-GPU tasks: 2 GPUs (60 %), 4 (30 %), 8 (10 %). */
const MULTI_GPUS: Weighted = [[2, 6], [4, 3], [8, 1]];
/** CPU-only tasks: 1–32 cores, 12.5 the most common. */
const CPU_ONLY_MILLI: Weighted = [[1000, 1], [2000, 2], [4000, 3], [8000, 3], [12500, 5], [16000, 3], [24000, 1], [32000, 1]];
/** Sharing tasks: 2–8 cores, with realistic odd values like 3152. */
const SHARING_CPU: Weighted = [[2000, 3], [3152, 2], [4000, 4], [6000, 2], [8000, 2]];
/** Whole-GPU tasks, per GPU: 4–16 cores (a multi-GPU task asks for this × its GPU count). */
const PER_GPU_CPU: Weighted = [[4000, 2], [6000, 2], [8000, 3], [11300, 2], [12000, 1], [16000, 1]];

const GIB = 1024;
/** Lifetime p90 / median of openb ≈ 6500 / 540: σ = ln(12.04) / z(0.9). */
const LIFETIME_SIGMA = Math.log(6500 / 540) / 1.2816;

function pick(rng: Rng, table: Weighted): number {
  let r = rng.float() * table.reduce((s, [, w]) => s + w, 0);
  for (const [value, weight] of table) {
    r -= weight;
    if (r < 0) return value;
  }
  return table[table.length - 1]?.[0] ?? 0;
}

function mean(table: Weighted): number {
  return table.reduce((s, [v, w]) => s + v * w, 0) / table.reduce((s, [, w]) => s + w, 0);
}

/**
 * A scaled-down openb mix of 48 nodes, `example-node-000` … `example-node-047`:
 * 24 × 8-GPU "G2" (96 cores, 384 GiB), 16 × 2-GPU "T4" (104 cores, 192 GiB),
 * 4 × 4-GPU "T4" (96 cores, 384 GiB), 4 × 8-GPU "V100M32" (96 cores, 512 GiB).
 * Totals: 272 GPUs (192 G2, 48 T4, 32 V100M32), 4736 cores, 15872 GiB of memory.
 */
export function exampleCluster(): TraceNode[] {
  const groups: readonly (readonly [count: number, gpus: number, model: string, cores: number, gib: number])[] = [
    [24, 8, 'G2', 96, 384],
    [16, 2, 'T4', 104, 192],
    [4, 4, 'T4', 96, 384],
    [4, 8, 'V100M32', 96, 512],
  ];
  const nodes: TraceNode[] = [];
  for (const [count, gpus, model, cores, gib] of groups) {
    for (let i = 0; i < count; i++) {
      const name = `example-node-${String(nodes.length).padStart(3, '0')}`;
      nodes.push({ name, cpuMilli: cores * MILLI, memoryMiB: gib * GIB, gpus, model });
    }
  }
  return nodes;
}

function check(name: string, value: number | undefined, fallback: number, ok: (v: number) => boolean, range: string): number {
  if (value === undefined) return fallback;
  if (!ok(value)) throw new RangeError(`synthetic workload: ${name}=${String(value)} must be ${range}`);
  return value;
}

const fraction = (v: number): boolean => v >= 0 && v <= 1;
const positive = (v: number): boolean => Number.isFinite(v) && v > 0;

/** Seeded synthetic tasks for the given nodes; the same seed gives identical output. Names `synthetic-task-00000` … */
export function syntheticTasks(nodes: readonly TraceNode[], options: SyntheticOptions): TraceTask[] {
  const seed = check('seed', options.seed, 0, Number.isSafeInteger, 'a whole number');
  const cpuOnly = check('cpuOnly', options.cpuOnly, 0.133, fraction, 'between 0 and 1');
  const sharing = check('sharing', options.sharing, 0.45, fraction, 'between 0 and 1');
  const multiGpu = check('multiGpu', options.multiGpu, 0.047, fraction, 'between 0 and 1');
  const typeConstrained = check('typeConstrained', options.typeConstrained, 0, fraction, 'between 0 and 1');
  const meanInterArrival = check('meanInterArrival', options.meanInterArrival, 60, positive, 'a positive number of seconds');
  const medianLifetime = check('medianLifetime', options.medianLifetime, 540, positive, 'a positive number of seconds');
  const sum = cpuOnly + sharing + multiGpu;
  if (sum > 1 + 1e-9) {
    const given = `cpuOnly=${String(cpuOnly)}, sharing=${String(sharing)}, multiGpu=${String(multiGpu)}`;
    throw new RangeError(`synthetic workload: cpuOnly + sharing + multiGpu = ${String(Number(sum.toFixed(9)))} must be at most 1 (${given}; unset ones take their defaults)`);
  }
  if (nodes.length === 0) throw new RangeError('synthetic workload: nodes is empty; a workload needs a cluster');

  const maxGpus = Math.max(...nodes.map((n) => n.gpus));
  if (maxGpus === 0 && cpuOnly < 1) throw new RangeError(`synthetic workload: cpuOnly=${String(cpuOnly)} must be 1 for a cluster without GPUs`);
  const multiTable = MULTI_GPUS.filter(([g]) => g <= maxGpus);
  if (multiGpu > 0 && multiTable.length === 0) {
    throw new RangeError(`synthetic workload: multiGpu=${String(multiGpu)} must be 0 for a cluster without a node of 2 or more GPUs`);
  }

  // Default count: the expected GPU request per task divides the cluster's GPU capacity.
  const capacity = nodes.reduce((s, n) => s + n.gpus * MILLI, 0);
  const perTask = sharing * mean(SHARING_MILLI) + (1 - sum) * MILLI + (multiTable.length > 0 ? multiGpu * mean(multiTable) * MILLI : 0);
  const fallback = perTask > 0 ? Math.max(1, Math.round(capacity / perTask)) : 10 * nodes.length;
  const count = check('tasks', options.tasks, fallback, (v) => Number.isSafeInteger(v) && v >= 1, 'a whole number of at least 1');

  // Kinds by exact counts (cumulative rounding keeps the total at `count`), in seeded random order.
  const rng = new Rng(seed);
  const b1 = Math.round(count * cpuOnly);
  const b2 = Math.round(count * (cpuOnly + sharing));
  const b3 = Math.min(count, Math.round(count * sum));
  const kinds = rng.shuffle(Array.from({ length: count }, (_, i) => (i < b1 ? 0 : i < b2 ? 1 : i < b3 ? 2 : 3)));
  let gpuTasksLeft = count - b1;
  let constrainedLeft = Math.round(gpuTasksLeft * typeConstrained);

  const allModels = [...new Set(nodes.filter((n) => n.gpus > 0).map((n) => n.model))].sort();
  const tasks: TraceTask[] = [];
  let clock = 0;
  kinds.forEach((kind, i) => {
    let gpus = 0;
    let gpuMilli = 0;
    let cpuMilli: number;
    if (kind === 0) {
      cpuMilli = pick(rng, CPU_ONLY_MILLI);
    } else if (kind === 1) {
      gpus = 1;
      gpuMilli = pick(rng, SHARING_MILLI);
      cpuMilli = pick(rng, SHARING_CPU);
    } else {
      gpus = kind === 2 ? pick(rng, multiTable) : 1;
      gpuMilli = MILLI;
      cpuMilli = gpus * pick(rng, PER_GPU_CPU);
    }
    // Memory: about 4 GiB per core (× 0.5–1.5), 2–64 GiB, in steps of 256 MiB.
    let memoryMiB = Math.min(64 * GIB, Math.max(2 * GIB, Math.round((cpuMilli / MILLI) * 4 * GIB * (0.5 + rng.float()) / 256) * 256));

    // A type constraint (exact count, spread over time by selection sampling): one model that can
    // hold the task, plus each other model with chance ½.
    let models: string[] = [];
    let eligible = nodes.filter((n) => n.gpus >= gpus);
    const constrained = gpus > 0 && rng.float() * gpuTasksLeft < constrainedLeft;
    if (gpus > 0) gpuTasksLeft--;
    if (constrained) {
      constrainedLeft--;
      const holders = [...new Set(eligible.map((n) => n.model))].sort();
      const must = holders[rng.int(holders.length)] ?? '';
      models = allModels.filter((m) => m === must || rng.float() < 0.5);
      eligible = eligible.filter((n) => models.includes(n.model));
    }
    // No task larger than every node that could hold it: cap the CPU, then the memory on a node with that CPU.
    cpuMilli = Math.min(cpuMilli, Math.max(...eligible.map((n) => n.cpuMilli)));
    memoryMiB = Math.min(memoryMiB, Math.max(...eligible.filter((n) => n.cpuMilli >= cpuMilli).map((n) => n.memoryMiB)));

    // Poisson arrivals; log-normal lifetimes (median `medianLifetime`, σ ≈ 1.94), at least 1 s.
    clock += -meanInterArrival * Math.log(1 - rng.float());
    const normal = Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
    const creation = Math.round(clock);
    const deletion = creation + Math.max(1, Math.round(medianLifetime * Math.exp(LIFETIME_SIGMA * normal)));
    const name = `synthetic-task-${String(i).padStart(5, '0')}`;
    tasks.push({ name, cpuMilli, memoryMiB, gpus, gpuMilli, models, creation, deletion, line: i + 2 });
  });
  return tasks;
}

/** The example cluster with a synthetic workload, labelled for reports. */
export function syntheticTrace(options: SyntheticOptions): Trace {
  const nodes = exampleCluster();
  const tasks = syntheticTasks(nodes, options);
  const gpus = nodes.reduce((s, n) => s + n.gpus, 0);
  return {
    nodes,
    tasks,
    nodesSource: `built-in example cluster (${String(nodes.length)} nodes, ${String(gpus)} GPUs)`,
    tasksSource: `synthetic workload (seed ${String(options.seed)}, ${String(tasks.length)} tasks)`,
  };
}
