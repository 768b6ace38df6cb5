/**
 * The six policies of the FGD paper's evaluation, as its simulator (hkust-adsl/
 * kubernetes-scheduler-simulator) computes them: integer scores, its normalisations, its GPU
 * choice inside a node and the lowest-index tie-break. They exist to validate this simulator
 * against the published results; their quirks are kept on purpose (a "fixed" baseline would not
 * be the baseline). Formulas are re-derived from the paper and the simulator's behaviour:
 *
 * - random: a uniformly random feasible node; a random GPU with the share free.
 * - dot-product: the smallest dot product of the node's free (CPU, GPU) with the task's demand.
 * - gpu-clustering: nodes already running tasks of the same size class first.
 * - gpu-packing: partly used GPUs first, then used nodes, then the smallest empty node.
 * - best-fit: the least CPU and GPU left over after placement.
 * - fgd: the least growth of fragmentation (see fgd-fragmentation.ts).
 *
 * Whole-GPU tasks take the lowest-index free GPUs under every policy; sharing tasks take the GPU
 * with the least share left that fits (best fit), except under random and fgd.
 */
import type { FgdFragmentation } from '../fgd-fragmentation.js';
import type { Decision, SimCluster, SimTask } from '../model.js';
import { MILLI } from '../trace.js';
import { BestNode, type PlacementPolicy, type PolicyContext, type PolicyInfo } from './policy.js';

/** The reference simulator's normalisers: a node of 128 cores and 8 GPUs. */
const MAX_CPU = 128_000;
const MAX_GPU = 8 * MILLI;
/** kube-scheduler's MaxNodeScore. */
const MAX_SCORE = 100;

/** Kubernetes counts a container without a CPU request as 100 millicores when scoring. */
function scoringCpu(t: SimTask): number {
  return t.cpu === 0 ? 100 : t.cpu;
}

/** The GPU with the least share left that still fits (first index on ties). */
function bestFitGpu(c: SimCluster, n: number, milli: number): number {
  const start = c.gpuStart[n] ?? 0;
  let best = -1;
  let bestLeft = Infinity;
  for (let g = 0; g < (c.gpuCount[n] ?? 0); g++) {
    const left = c.gpuLeft[start + g] ?? 0;
    if (left >= milli && left < bestLeft) {
      best = g;
      bestLeft = left;
    }
  }
  return best;
}

/** The GPUs a task gets on the chosen node when the policy picks the GPU of a sharing task by best fit. */
function bestFitDecision(c: SimCluster, n: number, t: SimTask): Decision {
  if (t.gpus === 1 && t.milli < MILLI) return { node: n, gpus: [bestFitGpu(c, n, t.milli)] };
  return { node: n, gpus: c.lowestFit(n, t) };
}

/** Nodes by a score function; the policy takes its GPU by best fit. */
function scoredPolicy(c: SimCluster, score: (n: number, t: SimTask) => number): PlacementPolicy {
  return {
    choose(t) {
      const best = new BestNode();
      for (let n = 0; n < c.size; n++) if (c.fits(n, t)) best.offer(n, score(n, t));
      return best.node < 0 ? null : bestFitDecision(c, best.node, t);
    },
    placed() {},
    removed() {},
  };
}

function randomPolicy({ cluster: c, rng }: PolicyContext): PlacementPolicy {
  return {
    choose(t) {
      let chosen = -1;
      let seen = 0;
      for (let n = 0; n < c.size; n++) {
        if (c.fits(n, t) && rng.int(++seen) === 0) chosen = n;
      }
      if (chosen < 0) return null;
      if (!(t.gpus === 1 && t.milli < MILLI)) return { node: chosen, gpus: c.lowestFit(chosen, t) };
      const start = c.gpuStart[chosen] ?? 0;
      let gpu = -1;
      let fitting = 0;
      for (let g = 0; g < (c.gpuCount[chosen] ?? 0); g++) {
        if ((c.gpuLeft[start + g] ?? 0) >= t.milli && rng.int(++fitting) === 0) gpu = g;
      }
      return { node: chosen, gpus: [gpu] };
    },
    placed() {},
    removed() {},
  };
}

/** Dot product of the node's free (CPU, GPU) and the task's demand, each normalised by the largest node; smaller is better. */
function dotProductPolicy({ cluster: c }: PolicyContext): PlacementPolicy {
  return scoredPolicy(c, (n, t) => {
    const cpu = scoringCpu(t);
    const cpuFree = c.cpuFree[n] ?? 0;
    if (cpuFree < cpu) return 0;
    const product = (cpuFree / MAX_CPU) * (cpu / MAX_CPU) + ((c.gpuFree[n] ?? 0) / MAX_GPU) * ((t.milli * t.gpus) / MAX_GPU);
    return Math.trunc(MAX_SCORE * (1 - product / 2));
  });
}

/** Least CPU and GPU left after placement; raw scores rescaled to 0–100 over the feasible nodes. */
function bestFitPolicy({ cluster: c }: PolicyContext): PlacementPolicy {
  const raw = new Int32Array(c.size);
  const feasible = new Int32Array(c.size);
  return {
    choose(t) {
      const cpu = scoringCpu(t);
      let count = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let n = 0; n < c.size; n++) {
        if (!c.fits(n, t)) continue;
        const leftover = (0.5 * ((c.cpuFree[n] ?? 0) - cpu)) / MAX_CPU + (0.5 * ((c.gpuFree[n] ?? 0) - t.milli * t.gpus)) / MAX_GPU;
        const s = Math.trunc(MAX_SCORE * (1 - leftover));
        raw[n] = s;
        feasible[count++] = n;
        if (s < min) min = s;
        if (s > max) max = s;
      }
      if (count === 0) return null;
      const best = new BestNode();
      for (let i = 0; i < count; i++) {
        const n = feasible[i] ?? 0;
        // kube-scheduler's NormalizeScore, integer arithmetic: distinct raw scores can tie here.
        best.offer(n, max === min ? 0 : Math.trunc((((raw[n] ?? 0) - min) * MAX_SCORE) / (max - min)));
      }
      return bestFitDecision(c, best.node, t);
    },
    placed() {},
    removed() {},
  };
}

/** The GPUs a task would take by ascending share left (stable), as gpu-packing and fgd evaluate them. */
function ascendingFit(c: SimCluster, n: number, t: SimTask): number[] {
  const start = c.gpuStart[n] ?? 0;
  const order: number[] = [];
  for (let g = 0; g < (c.gpuCount[n] ?? 0); g++) if ((c.gpuLeft[start + g] ?? 0) >= t.milli) order.push(g);
  order.sort((a, b) => (c.gpuLeft[start + a] ?? 0) - (c.gpuLeft[start + b] ?? 0) || a - b);
  return order.slice(0, t.gpus);
}

/**
 * Partly used GPUs first (100 − their free share, at least 50), then fully free GPUs of a used node
 * (50 − how many, at least 33), then an untouched node (33 − its GPUs: smaller nodes first).
 * CPU-only tasks score 0 everywhere (first fit in the seeded node order).
 */
function gpuPackingPolicy({ cluster: c }: PolicyContext): PlacementPolicy {
  return scoredPolicy(c, (n, t) => {
    if (t.gpus === 0) return 0;
    const gpus = c.gpuCount[n] ?? 0;
    if ((c.wholeFree[n] ?? 0) === gpus) return Math.max(33 - gpus, gpus);
    const start = c.gpuStart[n] ?? 0;
    let wholeUsed = 0;
    let freePercent = 0;
    for (const g of ascendingFit(c, n, t)) {
      const left = c.gpuLeft[start + g] ?? 0;
      if (left === MILLI) wholeUsed++;
      freePercent += Math.trunc((left * 100) / MILLI);
    }
    if (wholeUsed > 0) return Math.max(50 - wholeUsed, 33);
    return Math.max(100 - Math.trunc(freePercent / 10), 50);
  });
}

/** Size class of a GPU task, for gpu-clustering: sharing tasks, or the number of whole GPUs. */
function clusteringTag(t: SimTask): string | null {
  if (t.gpus === 0) return null;
  return t.gpus === 1 && t.milli < MILLI ? 'share' : `${String(t.gpus)}-gpu`;
}

/**
 * Nodes already running only tasks of the task's size class (75), that class among others (50),
 * no GPU task yet (25), else none; plus up to 25 for how full the node's GPUs are.
 * CPU-only tasks score 0 everywhere.
 */
function gpuClusteringPolicy({ cluster: c }: PolicyContext): PlacementPolicy {
  const tags: Map<string, number>[] = Array.from({ length: c.size }, () => new Map<string, number>());
  const count = (n: number, t: SimTask, by: 1 | -1): void => {
    const tag = clusteringTag(t);
    const m = tags[n];
    if (tag === null || !m) return;
    const v = (m.get(tag) ?? 0) + by;
    if (v === 0) m.delete(tag);
    else m.set(tag, v);
  };
  const policy = scoredPolicy(c, (n, t) => {
    const tag = clusteringTag(t);
    if (tag === null) return 0;
    const bonus = Math.trunc((25 * (MAX_GPU - (c.gpuFree[n] ?? 0))) / MAX_GPU);
    const m = tags[n];
    if (!m || m.size === 0) return bonus + 25;
    if (m.has(tag)) return bonus + (m.size === 1 ? 75 : 50);
    return bonus;
  });
  return {
    choose: (t) => policy.choose(t),
    placed: (t, d) => count(d.node, t, 1),
    removed: (t, d) => count(d.node, t, -1),
  };
}

/** ⌊100 · σ(ΔF / 1000)⌋: FGD's integer score of a fragmentation decrease ΔF in milli-GPU. */
export function fgdScore(decrease: number): number {
  return Math.trunc(MAX_SCORE / (1 + Math.exp(-decrease / MILLI)));
}

interface CachedScore {
  version: number;
  score: number;
  gpu: number;
}

/**
 * Fragmentation gradient descent: the node (and, for a sharing task, the GPU) whose fragmentation
 * grows least. Scores are cached per node and task shape until the node changes: between two
 * tasks of one shape only the nodes placed on since need scoring again.
 */
function fgdPolicy({ cluster: c, fragmentation }: PolicyContext): PlacementPolicy {
  const cache: Map<number, CachedScore>[] = Array.from({ length: c.size }, () => new Map<number, CachedScore>());
  const score = (n: number, t: SimTask): CachedScore => {
    const perNode = cache[n] as Map<number, CachedScore>;
    const known = perNode.get(t.shape);
    const version = c.version[n] ?? 0;
    if (known && known.version === version) return known;
    const result = fgdNodeScore(c, fragmentation, n, t);
    const entry = { version, score: result.score, gpu: result.gpu };
    perNode.set(t.shape, entry);
    return entry;
  };
  return {
    choose(t) {
      const best = new BestNode();
      for (let n = 0; n < c.size; n++) {
        if (!c.fits(n, t)) continue;
        const s = score(n, t);
        best.offer(n, s.score, s.gpu);
      }
      if (best.node < 0) return null;
      if (t.gpus === 1 && t.milli < MILLI) return { node: best.node, gpus: [best.gpu] };
      return { node: best.node, gpus: t.gpus === 0 ? [] : ascendingFit(c, best.node, t) };
    },
    placed() {},
    removed() {},
  };
}

export function fgdNodeScore(c: SimCluster, f: FgdFragmentation, n: number, t: SimTask): { score: number; gpu: number } {
  const now = f.value(n);
  if (t.gpus === 0) return { score: fgdScore(now - f.valueAfter(n, t.cpu, [], 0)), gpu: -1 };
  if (t.gpus === 1 && t.milli < MILLI) {
    const start = c.gpuStart[n] ?? 0;
    let best = -Infinity;
    let gpu = -1;
    let lastLeft = -1;
    for (let g = 0; g < (c.gpuCount[n] ?? 0); g++) {
      const left = c.gpuLeft[start + g] ?? 0;
      // GPUs with the same share left score the same; the first of them wins the tie anyway.
      if (left < t.milli || left === lastLeft) continue;
      const s = fgdScore(now - f.valueAfter(n, t.cpu, [g], t.milli));
      if (s > best) {
        best = s;
        gpu = g;
      }
      lastLeft = left;
    }
    return { score: best, gpu };
  }
  return { score: fgdScore(now - f.valueAfter(n, t.cpu, ascendingFit(c, n, t), t.milli)), gpu: -1 };
}

export const REFERENCE_POLICIES: readonly PolicyInfo[] = [
  { name: 'random', family: 'reference', publishedAs: '01-Random', description: 'random feasible node, random GPU', create: randomPolicy },
  {
    name: 'dot-product',
    family: 'reference',
    publishedAs: '02-DotProd',
    description: "smallest dot product of the node's free CPU and GPU with the demand (Tetris)",
    create: dotProductPolicy,
  },
  {
    name: 'gpu-clustering',
    family: 'reference',
    publishedAs: '03-GpuClustering',
    description: 'nodes running tasks of the same size class first',
    create: gpuClusteringPolicy,
  },
  {
    name: 'gpu-packing',
    family: 'reference',
    publishedAs: '04-GpuPacking',
    description: 'partly used GPUs, then used nodes, then the smallest empty node',
    create: gpuPackingPolicy,
  },
  {
    name: 'best-fit',
    family: 'reference',
    publishedAs: '05-BestFit',
    description: 'least CPU and GPU left over after placement',
    create: bestFitPolicy,
  },
  {
    name: 'fgd',
    family: 'reference',
    publishedAs: '06-FGD',
    description: "fragmentation gradient descent with the trace's typical tasks (FGD, ATC '23)",
    create: fgdPolicy,
  },
];
