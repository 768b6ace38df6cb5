import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FgdFragmentation, type TypicalTask, typicalTasks } from './fgd-fragmentation.js';
import { type Decision, SimCluster, type SimTask, TaskCompiler } from './model.js';
import type { TraceNode, TraceTask } from './trace.js';

function node(name: string, gpus: number, model: string, cpuMilli = 10_000): TraceNode {
  return { name, cpuMilli, memoryMiB: 1 << 20, gpus, model };
}

let seq = 0;
function task(cpuMilli: number, gpus: number, gpuMilli: number, models: readonly string[] = []): TraceTask {
  seq++;
  return { name: `t${String(seq)}`, cpuMilli, memoryMiB: 1, gpus, gpuMilli, models, creation: null, deletion: null, line: seq + 1 };
}

function typical(cpu: number, gpus: number, milli: number, weight: number, models: readonly string[] = []): TypicalTask {
  return { cpu, gpus, milli, models, weight, count: 1 };
}

function repeat(n: number, make: () => TraceTask): TraceTask[] {
  return Array.from({ length: n }, make);
}

/** Places a task and keeps the fragmentation current, as the replay does. */
function place(c: SimCluster, f: FgdFragmentation, t: SimTask, d: Decision): void {
  c.place(t, d);
  f.refresh(d.node);
}

// ---- typicalTasks ---------------------------------------------------------------------------

test('typicalTasks keeps the most frequent shapes up to 95 % coverage, weights renormalised', () => {
  // 20 tasks over 4 shapes, 10/6/3/1: 10 → 16 → 19 = 95 % of 20, so the fourth is left out.
  const tasks = [
    ...repeat(3, () => task(2000, 1, 500)),
    ...repeat(10, () => task(4000, 1, 1000)),
    ...repeat(1, () => task(8000, 8, 1000)),
    ...repeat(6, () => task(1000, 0, 0)),
  ];
  const typ = typicalTasks(tasks);
  assert.deepEqual(
    typ.map((m) => [m.cpu, m.gpus, m.milli, m.count]),
    [
      [4000, 1, 1000, 10],
      [1000, 0, 0, 6],
      [2000, 1, 500, 3],
    ],
  );
  assert.deepEqual(
    typ.map((m) => m.weight),
    [10 / 19, 6 / 19, 3 / 19],
  );
  // Full coverage keeps all four, weights over 20.
  assert.deepEqual(
    typicalTasks(tasks, 1).map((m) => m.weight),
    [10 / 20, 6 / 20, 3 / 20, 1 / 20],
  );
});

test('typicalTasks: the model set is part of the shape (in any order), and ties in count go to the larger task', () => {
  const tasks = [
    task(1000, 1, 500, ['B', 'A']),
    task(1000, 1, 500, ['A', 'B']),
    task(1000, 1, 500),
    task(1000, 1, 500),
    task(1000, 2, 1000),
    task(1000, 2, 1000),
  ];
  const typ = typicalTasks(tasks, 1);
  // Three shapes of 2 each: 2 GPUs first (more GPUs), then the 500 shares; '' sorts before 'A|B'.
  assert.deepEqual(
    typ.map((m) => [m.gpus, m.milli, m.models.join('|'), m.count]),
    [
      [2, 1000, '', 2],
      [1, 500, '', 2],
      [1, 500, 'A|B', 2],
    ],
  );
});

// ---- F_n by hand ----------------------------------------------------------------------------

/**
 * Node 0: 4 GPUs of model A, 10 cores; after three tasks its GPUs have 1000, 500, 300, 0 milli
 * left (idle 1800) and 4 000 millicores free. Node 1: 1 GPU of model B, 10 cores, untouched.
 *
 * Typical tasks (weights exact in binary):
 *   m0 CPU-only              w 1/8  node 0: all idle 1800 → 225
 *   m1 1 × 400, model B      w 1/8  node 0: model A not allowed → all idle → 225
 *   m2 1 × 200, 8 cores      w 1/4  node 0: 4 000 free < 8 000 → all idle → 450
 *   m3 1 × 600, 1 core       w 1/4  node 0: GPU 0 fits (1 ≥ 1) → slivers < 600: 500+300+0 = 800 → 200
 *   m4 2 × 600, 1 core       w 1/4  node 0: one GPU ≥ 600 < 2 → all idle → 450
 *   F_0 = 225 + 225 + 450 + 200 + 450 = 1550
 *
 *   node 1 (idle 1000, GPU 1000, 10 cores): m0 → 125; m1, m2, m3 fit with no sliver → 0;
 *   m4 needs 2 GPUs → all idle → 250.  F_1 = 375.
 */
function handCluster(): { c: SimCluster; f: FgdFragmentation; compiler: TaskCompiler } {
  const c = new SimCluster([node('n0', 4, 'A'), node('n1', 1, 'B')]);
  const typ = [typical(0, 0, 0, 1 / 8), typical(1000, 1, 400, 1 / 8, ['B']), typical(8000, 1, 200, 1 / 4), typical(1000, 1, 600, 1 / 4), typical(1000, 2, 600, 1 / 4)];
  const f = new FgdFragmentation(c, typ);
  const compiler = new TaskCompiler(c.modelIds);
  place(c, f, compiler.compile(task(2000, 1, 500)), { node: 0, gpus: [1] });
  place(c, f, compiler.compile(task(2000, 1, 700)), { node: 0, gpus: [2] });
  place(c, f, compiler.compile(task(2000, 1, 1000)), { node: 0, gpus: [3] });
  return { c, f, compiler };
}

test('F_n by hand: all idle for CPU-only, wrong-model and CPU-starved typical tasks; slivers otherwise', () => {
  const { c, f } = handCluster();
  assert.deepEqual([...c.gpuLeft], [1000, 500, 300, 0, 1000]);
  assert.equal(c.cpuFree[0], 4000);
  assert.equal(f.value(0), 1550);
  assert.equal(f.value(1), 375);
  assert.equal(f.total, 1550 + 375);
});

test('F_n of an untouched cluster with only hostable typical tasks is 0', () => {
  const c = new SimCluster([node('n0', 4, 'A'), node('n1', 2, 'A')]);
  const f = new FgdFragmentation(c, [typical(1000, 1, 500, 0.5), typical(1000, 2, 1000, 0.5)]);
  assert.equal(f.value(0), 0);
  assert.equal(f.value(1), 0);
  assert.equal(f.total, 0);
});

test('valueAfter predicts F_n after the placement, by hand and against an actual placement', () => {
  const { c, f, compiler } = handCluster();
  // 1 × 300 with 1 core on GPU 1 (500 → 200): GPUs 1000, 200, 300, 0, idle 1500, 3 000 cores free.
  //   m0 1500/8 = 187.5; m1 187.5; m2 3000 < 8000 → 1500/4 = 375; m3 slivers 200+300+0 → 125; m4 375.
  //   = 1250.
  assert.equal(f.valueAfter(0, 1000, [1], 300), 1250);
  const t = compiler.compile(task(1000, 1, 300));
  place(c, f, t, { node: 0, gpus: [1] });
  assert.equal(f.value(0), 1250);
  assert.equal(f.total, 1250 + 375);
});

test('valueAfter equals the value after placing, for sharing, multi-GPU and CPU-only placements', () => {
  const c = new SimCluster([node('n0', 4, 'A', 64_000), node('n1', 8, 'B', 96_000), node('n2', 0, '', 32_000)]);
  const typ = [typical(0, 0, 0, 0.1), typical(4000, 1, 500, 0.3), typical(8000, 1, 1000, 0.3), typical(2000, 2, 1000, 0.2, ['B']), typical(50_000, 1, 250, 0.1)];
  const f = new FgdFragmentation(c, typ);
  const compiler = new TaskCompiler(c.modelIds);
  const steps: [TraceTask, Decision][] = [
    [task(4000, 1, 500), { node: 0, gpus: [0] }],
    [task(20_000, 0, 0), { node: 0, gpus: [] }],
    [task(8000, 2, 1000), { node: 1, gpus: [0, 1] }],
    [task(2000, 1, 250), { node: 0, gpus: [0] }],
    [task(3000, 2, 400), { node: 1, gpus: [2, 3] }],
    [task(10_000, 0, 0), { node: 2, gpus: [] }],
    [task(30_000, 1, 750), { node: 0, gpus: [3] }],
  ];
  for (const [source, d] of steps) {
    const t = compiler.compile(source);
    assert.ok(c.fits(d.node, t), `${source.name} fits`);
    const predicted = f.valueAfter(d.node, t.cpu, d.gpus, t.milli);
    place(c, f, t, d);
    assert.ok(Math.abs(f.value(d.node) - predicted) < 1e-9, `${source.name}: predicted ${String(predicted)}, got ${String(f.value(d.node))}`);
    // A fresh measure over the same cluster state agrees (no stale cache).
    const fresh = new FgdFragmentation(c, typ);
    const sum = [0, 1, 2].reduce((s, n) => s + fresh.value(n), 0);
    assert.ok(Math.abs(f.total - sum) < 1e-9, `${source.name}: total ${String(f.total)} ≠ Σ F_n ${String(sum)}`);
    assert.ok(Math.abs(f.total - [0, 1, 2].reduce((s, n) => s + f.value(n), 0)) < 1e-9);
  }
  // Removing a task brings the node back to a state seen before.
  const last = steps[steps.length - 1];
  assert.ok(last);
  const before = f.valueAfter(0, -30_000, [3], -750);
  c.remove(compiler.compile(last[0]), last[1]);
  f.refresh(0);
  assert.ok(Math.abs(f.value(0) - before) < 1e-9);
});

test('a node without GPUs has no fragmentation', () => {
  const c = new SimCluster([node('cpu', 0, '', 8000), node('g', 1, 'A')]);
  const f = new FgdFragmentation(c, [typical(0, 0, 0, 0.5), typical(1000, 1, 500, 0.5)]);
  assert.equal(f.value(0), 0);
  // The GPU node: CPU-only typical counts its idle 1000 at weight 0.5.
  assert.equal(f.value(1), 500);
});
