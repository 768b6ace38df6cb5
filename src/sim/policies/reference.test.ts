import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FgdFragmentation, type TypicalTask, typicalTasks } from '../fgd-fragmentation.js';
import { type Decision, SimCluster, type SimTask, TaskCompiler } from '../model.js';
import { checkDecision } from '../replay.js';
import { Rng } from '../rng.js';
import type { TraceNode, TraceTask } from '../trace.js';
import type { PlacementPolicy, PolicyContext, PolicyInfo } from './policy.js';
import { REFERENCE_POLICIES, fgdScore } from './reference.js';

// ---- helpers --------------------------------------------------------------------------------

function node(name: string, gpus: number, cpuMilli = 64_000, model = 'A'): TraceNode {
  return { name, cpuMilli, memoryMiB: 1 << 20, gpus, model: gpus > 0 ? model : '' };
}

let seq = 0;
function task(cpuMilli: number, gpus: number, gpuMilli: number, models: readonly string[] = []): TraceTask {
  seq++;
  return { name: `t${String(seq)}`, cpuMilli, memoryMiB: 1024, gpus, gpuMilli, models, creation: null, deletion: null, line: seq + 1 };
}

function info(name: string): PolicyInfo {
  const p = REFERENCE_POLICIES.find((x) => x.name === name);
  assert.ok(p, `no reference policy ${name}`);
  return p;
}

/** A tiny simulated cluster (nodes in tie order) with one policy running on it. */
class Bench {
  readonly cluster: SimCluster;
  readonly context: PolicyContext;
  readonly policy: PlacementPolicy;
  private readonly compiler: TaskCompiler;

  constructor(nodes: readonly TraceNode[], policy: string, typical: readonly TypicalTask[] = [], seed = 1) {
    this.cluster = new SimCluster(nodes);
    this.context = { cluster: this.cluster, typical, fragmentation: new FgdFragmentation(this.cluster, typical), rng: new Rng(seed) };
    this.policy = info(policy).create(this.context);
    this.compiler = new TaskCompiler(this.cluster.modelIds);
  }

  compile(t: TraceTask): SimTask {
    return this.compiler.compile(t);
  }

  /** The policy's choice for a task, changing nothing. */
  choose(t: TraceTask): Decision | null {
    return this.policy.choose(this.compile(t));
  }

  /** Applies a decision the way the replay does (checked, placed, fragmentation, policy told). */
  apply(t: TraceTask, d: Decision): void {
    const s = this.compile(t);
    checkDecision(this.cluster, s, d, 'test');
    this.cluster.place(s, d);
    this.context.fragmentation.refresh(d.node);
    this.policy.placed(s, d);
  }

  /** Lets the policy choose and applies the choice. */
  run(t: TraceTask): Decision {
    const d = this.choose(t);
    assert.ok(d, `no node for ${t.name}`);
    this.apply(t, d);
    return d;
  }
}

const POLICY_NAMES = REFERENCE_POLICIES.map((p) => p.name);

// ---- best-fit -------------------------------------------------------------------------------

test('best-fit picks the node with the least CPU and GPU left over', () => {
  // Task 1 × 1000, 4 cores. leftover = ½(cpuFree − 4000)/128 000 + ½(gpuFree − 1000)/8000:
  //   n0 (8 GPUs): 0.234375 + 0.4375 = 0.671875 → ⌊32.8⌋ = 32;  n1 (2 GPUs): 0.234375 + 0.0625 → ⌊70.3⌋ = 70.
  const b = new Bench([node('n0', 8), node('n1', 2)], 'best-fit');
  assert.deepEqual(b.choose(task(4000, 1, 1000)), { node: 1, gpus: [0] });
});

test('best-fit: scores are integers, so a slightly fuller node can tie and the lower index wins', () => {
  // Task 1 × 1000, 4 cores, on two 2-GPU nodes that differ only in CPU:
  //   n0 64 000 cores: leftover 0.234375 + 0.0625 = 0.296875 → 100 × 0.703125 = 70.3 → 70
  //   n1 63 000 cores: leftover 0.23046875 + 0.0625 = 0.29296875 → 70.7 → 70
  // n1 leaves less over, yet both score 70 and n0 (lower index) wins. After normalisation both are 0.
  const b = new Bench([node('n0', 2, 64_000), node('n1', 2, 63_000)], 'best-fit');
  assert.equal(b.choose(task(4000, 1, 1000))?.node, 0);
  // With a clearer difference n1 wins: 40 000 cores → leftover 0.140625 + 0.0625 → 79.7 → 79 > 70.
  const c = new Bench([node('n0', 2, 64_000), node('n1', 2, 40_000)], 'best-fit');
  assert.equal(c.choose(task(4000, 1, 1000))?.node, 1);
});

test('best-fit: min–max normalisation over the feasible nodes keeps the best raw score on top', () => {
  // Task 1 × 1000, 1 core; leftover = ½(cpuFree − 1000)/128 000 + ½(gpuFree − 1000)/8000:
  //   n0 33 GPUs, 1 core:     leftover ½ · 32 000/8000 = 2      → raw ⌊100(1 − 2)⌋ = −100
  //   n1  9 GPUs, 2.28 cores: leftover ½ · 1280/128 000 + ½ = 0.505 → raw ⌊49.5⌋ = 49
  //   n2  1 GPU, 129 cores:   leftover ½ · 128 000/128 000 = 0.5    → raw 50
  // Normalised over [−100, 50]: 0, ⌊149 · 100/150⌋ = 99, 100 → n2, although it comes last.
  // (The normalisation is monotone and only the maximum maps to 100, so integer ties it makes
  // among lower scores never change the winner: only the raw truncation can, as tested above.)
  const b = new Bench([node('n0', 33, 1000), node('n1', 9, 2280), node('n2', 1, 129_000)], 'best-fit');
  assert.equal(b.choose(task(1000, 1, 1000))?.node, 2);
  // Equal raw scores at the top: the lower index wins (n1 and n2 both raw 50).
  const tie = new Bench([node('n0', 33, 1000), node('n1', 9, 1000), node('n2', 1, 129_000)], 'best-fit');
  assert.equal(tie.choose(task(1000, 1, 1000))?.node, 1);
  // All feasible nodes equal (max = min): every normalised score is 0 and the first node wins.
  const same = new Bench([node('a', 4), node('b', 4), node('c', 4)], 'best-fit');
  assert.equal(same.choose(task(1000, 1, 1000))?.node, 0);
});

test('best-fit gives a sharing task the GPU with the least share left that fits', () => {
  const b = new Bench([node('n0', 4)], 'best-fit');
  b.apply(task(1000, 1, 300), { node: 0, gpus: [1] }); // GPU 1: 700 left
  b.apply(task(1000, 1, 600), { node: 0, gpus: [2] }); // GPU 2: 400 left
  assert.deepEqual(b.choose(task(1000, 1, 400)), { node: 0, gpus: [2] });
  assert.deepEqual(b.choose(task(1000, 1, 500)), { node: 0, gpus: [1] });
  assert.deepEqual(b.choose(task(1000, 1, 800)), { node: 0, gpus: [0] });
});

// ---- dot-product ----------------------------------------------------------------------------

test('dot-product picks the fuller node (smallest dot product of free resources and demand)', () => {
  // Task 1 × 1000, 1 core. product = (cpuFree/128 000)(1000/128 000) + (gpuFree/8000)(1000/8000):
  //   n0 empty 8 GPUs: ≈ 0.0039 + 0.125 → ⌊100(1 − 0.0645)⌋ = 93
  //   n1 4 of 8 GPUs used, 56 cores free: ≈ 0.0034 + 0.0625 → ⌊100(1 − 0.0330)⌋ = 96
  const b = new Bench([node('n0', 8), node('n1', 8)], 'dot-product');
  b.apply(task(8000, 4, 1000), { node: 1, gpus: [0, 1, 2, 3] });
  assert.deepEqual(b.choose(task(1000, 1, 1000)), { node: 1, gpus: [4] });
});

test('dot-product scores 0 where the free CPU is below the scoring CPU (100 m for a task asking none)', () => {
  // Task 1 × 1000 asking 0 CPU (scored as 100 m).
  //   n0: 2 GPUs, 50 m CPU: fits (0 ≤ 50) but 50 < 100 → score 0 (unpenalised it would be 98).
  //   n1: 8 GPUs, 64 cores: (0.5)(100/128 000) + (1)(0.125) → ⌊100(1 − 0.0627)⌋ = 93.
  const b = new Bench([node('n0', 2, 50), node('n1', 8)], 'dot-product');
  assert.equal(b.choose(task(0, 1, 1000))?.node, 1);
  // With 100 m free the penalty is off and the fuller n0 wins: (2000/8000)(1000/8000) → 98.
  const c = new Bench([node('n0', 2, 100), node('n1', 8)], 'dot-product');
  assert.equal(c.choose(task(0, 1, 1000))?.node, 0);
});

// ---- gpu-packing ----------------------------------------------------------------------------

test('gpu-packing puts a share on a partly used GPU that fits rather than on an empty node', () => {
  // n0 empty 8 GPUs: 33 − 8 = 25. n1 GPU 0 has 500 left: 100 − ⌊50/10⌋ = 95.
  const b = new Bench([node('n0', 8), node('n1', 8)], 'gpu-packing');
  b.apply(task(1000, 1, 500), { node: 1, gpus: [0] });
  assert.deepEqual(b.choose(task(1000, 1, 500)), { node: 1, gpus: [0] });
  // A share the partly used GPU cannot hold goes to a free GPU of the used node: 50 − 1 = 49 > 25.
  assert.deepEqual(b.choose(task(1000, 1, 600)), { node: 1, gpus: [1] });
  // So does a whole GPU.
  assert.deepEqual(b.choose(task(1000, 1, 1000)), { node: 1, gpus: [1] });
});

test('gpu-packing picks, among empty nodes, the one with fewer GPUs (33 − GPUs)', () => {
  // n0 8 GPUs: 25; n1 4 GPUs: 29; n2 2 GPUs: 31.
  const b = new Bench([node('n0', 8), node('n1', 4), node('n2', 2)], 'gpu-packing');
  assert.equal(b.choose(task(1000, 1, 1000))?.node, 2);
  // A 4-GPU task does not fit n2: n1 (29) beats n0 (25).
  assert.equal(b.choose(task(1000, 4, 1000))?.node, 1);
});

// ---- gpu-clustering -------------------------------------------------------------------------

test('gpu-clustering prefers a node already running the same size class, and avoids one running only another', () => {
  const b = new Bench([node('n0', 8), node('n1', 8)], 'gpu-clustering');
  // Both untouched: 0 + 25 each, n0 wins the tie.
  assert.equal(b.run(task(1000, 1, 500)).node, 0);
  // Another share: n0 has only 'share' → bonus ⌊25 × 500/8000⌋ = 1 + 75 = 76 > n1's 25.
  assert.equal(b.run(task(1000, 1, 500)).node, 0);
  // A whole GPU: n0 runs only shares → bonus ⌊25 × 1000/8000⌋ = 3; n1 untouched → 25.
  assert.equal(b.run(task(1000, 1, 1000)).node, 1);
  // A second whole GPU joins n1 (same class): bonus 3 + 75 = 78 against n0's 3.
  assert.equal(b.run(task(1000, 1, 1000)).node, 1);
  // A 2-GPU task is a class of its own: n0 scores 3 (shares), n1 ⌊25 × 2000/8000⌋ = 6 (1-gpu): n1.
  assert.equal(b.choose(task(1000, 2, 1000))?.node, 1);
});

test('gpu-clustering: a class among others scores 50, below a node running only that class', () => {
  const b = new Bench([node('n0', 8), node('n1', 8)], 'gpu-clustering');
  b.apply(task(1000, 1, 500), { node: 0, gpus: [0] });
  b.apply(task(1000, 1, 1000), { node: 0, gpus: [1] });
  b.apply(task(1000, 1, 500), { node: 1, gpus: [0] });
  // Share task: n0 has {share, 1-gpu} → ⌊25 × 1500/8000⌋ = 4 + 50 = 54; n1 has {share} → 1 + 75 = 76.
  assert.equal(b.choose(task(1000, 1, 500))?.node, 1);
});

test('CPU-only tasks under gpu-packing and gpu-clustering go to the lowest-index feasible node', () => {
  for (const name of ['gpu-packing', 'gpu-clustering']) {
    // n0 has too little CPU; n1 is empty; n2 is partly used (would attract a GPU task).
    const b = new Bench([node('n0', 8, 1000), node('n1', 8), node('n2', 2)], name);
    b.apply(task(1000, 1, 500), { node: 2, gpus: [0] });
    assert.deepEqual(b.choose(task(4000, 0, 0)), { node: 1, gpus: [] }, name);
  }
});

// ---- fgd ------------------------------------------------------------------------------------

test('fgdScore: ⌊100 σ(ΔF / 1000)⌋', () => {
  assert.equal(fgdScore(0), 50); // 100 / 2
  assert.equal(fgdScore(40), 50); // 100 / (1 + e^−0.04) = 50.99… → 50
  assert.equal(fgdScore(-1000), 26); // 100 / (1 + e) = 26.89…
  assert.equal(fgdScore(1000), 73); // 100 / (1 + e^−1) = 73.1…
  assert.equal(fgdScore(250), 56); // 56.2…
  assert.equal(fgdScore(-250), 43); // 43.7…
  assert.equal(fgdScore(1e6), 100);
  assert.equal(fgdScore(-1e6), 0);
});

test('fgd puts a share where the leftover stays usable by the typical tasks', () => {
  // Typical tasks: 1 × 500 and 1 × 1000, weight ½ each (no CPU limit).
  // n0: untouched 2 GPUs. n1: GPUs 1000, 500 (a 500 task on GPU 1).
  //   n1 now: m500 fits both, no sliver → 0; m1000 fits GPU 0, sliver 500 → ½·500 = 250. F = 250.
  //   500 on n1 GPU 1 → 1000, 0: no sliver for either → F = 0, ΔF = +250 → 56.
  //   500 on n1 GPU 0 → 500, 500: m1000 fits no GPU → all idle 1000 → ½·1000 = 500, ΔF = −250 → 43.
  //   500 on n0 GPU 0 → 500, 1000: m1000 sliver 500 → 250, from 0: ΔF = −250 → 43.
  const typical = typicalTasks([task(0, 1, 500), task(0, 1, 1000)], 1);
  const b = new Bench([node('n0', 2), node('n1', 2)], 'fgd', typical);
  b.apply(task(1000, 1, 500), { node: 1, gpus: [1] });
  assert.equal(b.context.fragmentation.value(1), 250);
  assert.deepEqual(b.choose(task(1000, 1, 500)), { node: 1, gpus: [1] });
});

test('fgd gives whole-GPU and multi-GPU tasks the lowest-index free GPUs, CPU-only tasks none', () => {
  const typical = typicalTasks([task(0, 1, 500), task(0, 1, 1000)], 1);
  const b = new Bench([node('n0', 4)], 'fgd', typical);
  b.apply(task(1000, 1, 500), { node: 0, gpus: [1] });
  assert.deepEqual(b.choose(task(1000, 2, 1000)), { node: 0, gpus: [0, 2] });
  assert.deepEqual(b.choose(task(1000, 0, 0)), { node: 0, gpus: [] });
});

// ---- every policy ---------------------------------------------------------------------------

test('whole-GPU tasks take the lowest-index free GPUs under every policy', () => {
  const typical = typicalTasks([task(0, 1, 500), task(0, 1, 1000)], 1);
  for (const name of POLICY_NAMES) {
    const b = new Bench([node('n0', 4)], name, typical);
    b.apply(task(1000, 1, 500), { node: 0, gpus: [0] }); // GPU 0 partly used
    assert.deepEqual(b.choose(task(1000, 2, 1000)), { node: 0, gpus: [1, 2] }, name);
    assert.deepEqual(b.choose(task(1000, 1, 1000)), { node: 0, gpus: [1] }, name);
  }
});

test('random is deterministic for a seed and always picks a feasible node and GPU', () => {
  const nodes = [node('n0', 8), node('n1', 2), node('n2', 4, 16_000), node('n3', 1, 8000)];
  const mix = (i: number): TraceTask => [task(2000, 1, 300), task(4000, 1, 1000), task(1000, 2, 1000), task(6000, 0, 0), task(1000, 1, 750)][i % 5] as TraceTask;
  const runOnce = (seed: number): (Decision | null)[] => {
    const b = new Bench(nodes, 'random', [], seed);
    const out: (Decision | null)[] = [];
    for (let i = 0; i < 40; i++) {
      const t = mix(i);
      const d = b.choose(t);
      out.push(d);
      if (d) b.apply(t, d); // apply() runs checkDecision: throws on an infeasible choice
    }
    return out;
  };
  const a = runOnce(7);
  assert.deepEqual(runOnce(7), a);
  assert.notDeepEqual(runOnce(8), a);
  assert.ok(a.some((d) => d === null), 'the cluster fills up');
  // On an empty cluster, repeated choices spread over all feasible nodes.
  const b = new Bench(nodes, 'random', [], 3);
  const seen = new Set<number>();
  for (let i = 0; i < 60; i++) seen.add(b.choose(task(1000, 1, 1000))?.node ?? -1);
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
});

test('every policy returns null when no node fits', () => {
  const typical = typicalTasks([task(0, 1, 500)], 1);
  const impossible = [
    task(1000, 4, 1000), // more GPUs than any node
    task(100_000, 1, 500), // more CPU than any node
    task(1000, 1, 500, ['B']), // model B only on node b, whose CPU (500 m) is too small
  ];
  for (const name of POLICY_NAMES) {
    const b = new Bench([node('n0', 2), node('n1', 2), node('n2', 0, 8000), { ...node('b', 1), model: 'B', cpuMilli: 500 }], name, typical);
    for (const t of impossible) assert.equal(b.choose(t), null, `${name}: ${t.name}`);
    // A full cluster fits nothing either.
    b.apply(task(0, 2, 1000), { node: 0, gpus: [0, 1] });
    b.apply(task(0, 2, 1000), { node: 1, gpus: [0, 1] });
    b.apply(task(0, 1, 1000), { node: 3, gpus: [0] });
    assert.equal(b.choose(task(0, 1, 100)), null, name);
  }
});
