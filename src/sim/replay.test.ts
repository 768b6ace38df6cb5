import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SimCluster, TaskCompiler } from './model.js';
import type { PolicyInfo } from './policies/policy.js';
import { REFERENCE_POLICIES } from './policies/reference.js';
import { type RunResult, checkDecision, replay, seededNodeOrder } from './replay.js';
import { Rng } from './rng.js';
import { exampleCluster, syntheticTrace } from './synthetic.js';
import { MILLI, TASK_KINDS, type Trace, type TraceNode, type TraceTask, taskMilli } from './trace.js';
import { arrivalSequence } from './workload.js';

function node(name: string, gpus: number): TraceNode {
  return { name, cpuMilli: 64_000, memoryMiB: 1 << 20, gpus, model: 'A' };
}

function task(name: string, gpus: number, gpuMilli: number): TraceTask {
  return { name, cpuMilli: 1000, memoryMiB: 1024, gpus, gpuMilli, models: [], creation: null, deletion: null, line: 2 };
}

/** A fake policy that always answers with the same decision. */
function fixed(node: number, gpus: number[]): PolicyInfo {
  return {
    name: 'fake',
    family: 'reference',
    description: 'always the same node and GPUs',
    create: () => ({ choose: () => ({ node, gpus }), placed() {}, removed() {} }),
  };
}

const TRACE: Trace = syntheticTrace({ seed: 3 });
const TUNE = 1.3;

/** Everything but the wall-clock time. */
function stable(r: RunResult): Omit<RunResult, 'seconds'> {
  const { seconds, ...rest } = r;
  void seconds;
  return rest;
}

/** The x bins that hold at least one task of the run's arrival sequence (replay draws it first from the seed). */
function occupiedBins(seed: number, capacity: number): Set<number> {
  const arrivals = arrivalSequence(TRACE.tasks, capacity, TUNE, new Rng(seed));
  const bins = new Set<number>();
  let arrived = 0;
  for (const t of arrivals.tasks) {
    arrived += taskMilli(t);
    bins.add(Math.round((100 * arrived) / capacity));
  }
  return bins;
}

const RUNS = REFERENCE_POLICIES.map((p) => ({ policy: p, result: replay(TRACE, p, { seed: 11, tune: TUNE }) }));

test('replay is deterministic for a seed, for every reference policy; another seed differs', () => {
  for (const { policy, result } of RUNS) {
    assert.deepEqual(stable(replay(TRACE, policy, { seed: 11, tune: TUNE })), stable(result), policy.name);
    assert.notDeepEqual(stable(replay(TRACE, policy, { seed: 12, tune: TUNE })).curves, result.curves, policy.name);
  }
});

test('the arrival sequence asks for about 130 % of the capacity', () => {
  // Capacity 272 GPUs. Inflation stops with requested > 130 % − one share (1000 / 2720 = 0.37 %)
  // and at most 130 % + 7 GPUs of an 8-GPU draw (7000 / 2720 = 2.57 %).
  for (const { policy, result } of RUNS) {
    assert.equal(result.capacityMilli, 272 * MILLI);
    assert.ok(result.arrivedPercent > 130 - 1000 / 2720 && result.arrivedPercent <= 130 + 7000 / 2720, `${policy.name}: ${String(result.arrivedPercent)}`);
  }
});

test('A(x) never exceeds the demand that arrived: ≤ x + 0.5 in occupied bins, ≤ x + 1.5 where the ±1 window filled in', () => {
  const occupied = occupiedBins(11, 272 * MILLI);
  for (const { policy, result } of RUNS) {
    result.curves.allocation.forEach((a, x) => {
      if (!Number.isFinite(a)) return;
      const bound = occupied.has(x) ? x + 0.5 : x + 1.5;
      assert.ok(a <= bound + 1e-9, `${policy.name}: A(${String(x)}) = ${String(a)} > ${String(bound)}`);
    });
  }
});

test('allocation is never above 100 % and unallocatedAt100 = 100 − A(100)', () => {
  for (const { policy, result } of RUNS) {
    assert.ok(
      result.curves.allocation.every((a) => Number.isNaN(a) || (a >= 0 && a <= 100)),
      policy.name,
    );
    const a100 = result.curves.allocation[100];
    assert.ok(a100 !== undefined && Number.isFinite(a100), `${policy.name}: A(100) = ${String(a100)}`);
    assert.equal(result.unallocatedAt100, 100 - a100, policy.name);
    assert.ok(result.unallocatedAt100 >= 0, policy.name);
  }
});

test('failures by kind sum to tasks − placed; those up to 100 % are a part of them', () => {
  for (const { policy, result } of RUNS) {
    const failed = TASK_KINDS.reduce((s, k) => s + result.failures[k].tasks, 0);
    assert.equal(failed, result.tasks - result.placed, policy.name);
    assert.ok(result.placed > 0 && result.placed <= result.tasks, policy.name);
    for (const k of TASK_KINDS) {
      assert.ok(result.failuresTo100[k].tasks <= result.failures[k].tasks, `${policy.name} ${k}`);
      assert.ok(result.failuresTo100[k].milli <= result.failures[k].milli, `${policy.name} ${k}`);
    }
    // At 130 % demand some GPU task must fail.
    assert.ok(failed > 0, policy.name);
  }
});

test('the unallocated GPU at 100 % splits into idle GPUs and slivers, and slivers never go below the packing floor', () => {
  for (const { policy, result } of RUNS) {
    const { unallocated, idle, slivers, floor, bestPacking } = result.at100;
    assert.ok(Math.abs(unallocated - idle - slivers) < 1e-9, policy.name);
    assert.ok(floor >= 0 && floor <= bestPacking + 1e-9 && floor <= slivers + 1e-9, `${policy.name}: ${JSON.stringify(result.at100)}`);
    // The same for every policy: it depends on the arrivals alone.
    assert.equal(result.at100.floorAllPlaced, RUNS[0]?.result.at100.floorAllPlaced, policy.name);
    // A(100) averages the tasks whose arrival rounds to 100 %; the breakdown is the state after the last of them.
    assert.ok(Math.abs(unallocated - result.unallocatedAt100) < 2, `${policy.name}: ${String(unallocated)} against ${String(result.unallocatedAt100)}`);
  }
});

test('shares spread one to a GPU leave slivers that a packing onto one GPU would not: that is packing loss', () => {
  // Two 1-GPU nodes; a 400 and a 600 (half the capacity). A policy that takes the emptiest GPU splits them.
  const emptiest: PolicyInfo = {
    name: 'emptiest',
    family: 'reference',
    description: 'the GPU with the most left',
    create: ({ cluster }) => ({
      choose: (t) => {
        const node = (cluster.gpuLeft[0] ?? 0) >= (cluster.gpuLeft[1] ?? 0) ? 0 : 1;
        return (cluster.gpuLeft[node] ?? 0) >= t.milli ? { node, gpus: [0] } : null;
      },
      placed() {},
      removed() {},
    }),
  };
  const trace: Trace = { nodes: [node('a', 1), node('b', 1)], tasks: [task('t1', 1, 400), task('t2', 1, 600)], nodesSource: 'n.csv', tasksSource: 't.csv' };
  const r = replay(trace, emptiest, { seed: 1, tune: 0 });
  assert.deepEqual(r.at100, { unallocated: 50, idle: 0, slivers: 50, floor: 0, bestPacking: 0, floorAllPlaced: 0 });
  // Shares beyond the cluster: three 600s on two GPUs. The third is dropped; the floor of what arrived says so.
  const over: Trace = { ...trace, tasks: [task('t1', 1, 600), task('t2', 1, 600), task('t3', 1, 600)] };
  const dropped = replay(over, emptiest, { seed: 1, tune: 0 });
  assert.equal(dropped.failures.sharing.tasks, 1);
  assert.equal(dropped.at100.floorAllPlaced, null);
  assert.equal(dropped.at100.floor, 40); // two 600s on two GPUs: 800 of 2000 left, and no packing does better
});

test('replay stops with a clear error when a policy returns a GPU without room', () => {
  // One 1-GPU node; the fake policy puts every task on GPU 0. The first 1 × 1000 task fits, the second does not.
  const trace: Trace = { nodes: [node('only', 1)], tasks: [task('t1', 1, 1000), task('t2', 1, 1000)], nodesSource: 'n.csv', tasksSource: 't.csv' };
  assert.throws(() => replay(trace, fixed(0, [0]), { seed: 1, tune: 0 }), /policy fake chose node only GPUs \[0\] for task t\d, which does not fit there/);
});

test('checkDecision refuses a wrong node, GPU count, repeated GPU, GPU out of range or without the share', () => {
  const c = new SimCluster([node('a', 2), node('b', 2)]);
  const compiler = new TaskCompiler(c.modelIds);
  const two = compiler.compile(task('two', 2, 500));
  const one = compiler.compile(task('one', 1, 600));
  checkDecision(c, two, { node: 0, gpus: [0, 1] }, 'p'); // valid: no throw
  for (const d of [
    { node: 2, gpus: [0, 1] }, // no such node
    { node: -1, gpus: [0, 1] },
    { node: 0, gpus: [0] }, // one GPU for a 2-GPU task
    { node: 0, gpus: [1, 1] }, // the same GPU twice
    { node: 0, gpus: [0, 2] }, // GPU 2 of a 2-GPU node
  ]) {
    assert.throws(() => checkDecision(c, two, d, 'p'), /policy p chose/, JSON.stringify(d));
  }
  c.place(one, { node: 1, gpus: [0] }); // GPU 0 of b: 400 left
  assert.throws(() => checkDecision(c, one, { node: 1, gpus: [0] }, 'p'), /policy p chose node b GPUs \[0\] for task one/);
  checkDecision(c, one, { node: 1, gpus: [1] }, 'p');
});

test('seededNodeOrder is a permutation of the nodes that depends on the seed, not on the input order', () => {
  const nodes = exampleCluster();
  const a = seededNodeOrder(nodes, new Rng(1));
  const b = seededNodeOrder(nodes, new Rng(2));
  const names = (ns: readonly TraceNode[]): string[] => ns.map((n) => n.name);
  assert.equal(a.length, nodes.length);
  assert.deepEqual(names(a).sort(), names(nodes).sort());
  assert.deepEqual(names(b).sort(), names(nodes).sort());
  assert.notDeepEqual(names(a), names(b));
  assert.notDeepEqual(names(a), names(nodes));
  assert.deepEqual(names(seededNodeOrder(nodes, new Rng(1))), names(a));
  assert.deepEqual(names(seededNodeOrder([...nodes].reverse(), new Rng(1))), names(a));
});
