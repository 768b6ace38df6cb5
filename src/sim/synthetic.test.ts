import assert from 'node:assert/strict';
import { test } from 'node:test';

import { exampleCluster, type SyntheticOptions, syntheticTasks, syntheticTrace } from './synthetic.js';
import { MILLI, TASK_KINDS, type TaskKind, type TraceNode, type TraceTask, nodeModels, taskKind, taskMilli } from './trace.js';

const nodes = exampleCluster();

/** A node that could hold the task on its own (CPU, memory, GPU count and model). */
function holder(t: TraceTask, list: readonly TraceNode[] = nodes): TraceNode | undefined {
  return list.find(
    (n) => n.cpuMilli >= t.cpuMilli && n.memoryMiB >= t.memoryMiB && n.gpus >= t.gpus && (t.models.length === 0 || t.models.includes(n.model)),
  );
}

function shares(tasks: readonly TraceTask[]): Record<TaskKind, number> {
  const counts = Object.fromEntries(TASK_KINDS.map((k) => [k, 0])) as Record<TaskKind, number>;
  for (const t of tasks) counts[taskKind(t)] += 1;
  for (const k of TASK_KINDS) counts[k] /= tasks.length;
  return counts;
}

test('the example cluster has 48 nodes and 272 GPUs of three models, with unique names', () => {
  assert.equal(nodes.length, 48);
  assert.equal(new Set(nodes.map((n) => n.name)).size, 48);
  assert.equal(nodes[0]?.name, 'example-node-000');
  assert.equal(nodes.reduce((s, n) => s + n.gpus, 0), 272);
  assert.equal(nodes.reduce((s, n) => s + n.cpuMilli, 0), 4736 * MILLI);
  assert.equal(nodes.reduce((s, n) => s + n.memoryMiB, 0), 15872 * 1024);
  assert.deepEqual([...nodeModels(nodes)].sort(), ['G2', 'T4', 'V100M32']);
});

test('the same seed gives identical tasks; different seeds differ', () => {
  const a = syntheticTasks(nodes, { seed: 7, typeConstrained: 0.2 });
  const b = syntheticTasks(nodes, { seed: 7, typeConstrained: 0.2 });
  const c = syntheticTasks(nodes, { seed: 8, typeConstrained: 0.2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(syntheticTrace({ seed: 3 }), syntheticTrace({ seed: 3 }));
});

test('kind fractions follow the defaults and the requested ones within ±4 points', () => {
  const cases: { options: SyntheticOptions; want: Record<TaskKind, number> }[] = [
    { options: { seed: 1, tasks: 5000 }, want: { 'cpu-only': 0.133, sharing: 0.45, '1-gpu': 0.37, 'multi-gpu': 0.047, 'type-constrained': 0 } },
    {
      options: { seed: 2, tasks: 5000, cpuOnly: 0.2, sharing: 0.3, multiGpu: 0.1, typeConstrained: 0.25 },
      // A quarter of each GPU kind moves to type-constrained.
      want: { 'cpu-only': 0.2, sharing: 0.225, '1-gpu': 0.3, 'multi-gpu': 0.075, 'type-constrained': 0.2 },
    },
  ];
  for (const { options, want } of cases) {
    const got = shares(syntheticTasks(nodes, options));
    for (const k of TASK_KINDS) {
      assert.ok(Math.abs(got[k] - want[k]) <= 0.04, `${k}: got ${got[k].toFixed(3)}, want ${String(want[k])} (seed ${String(options.seed)})`);
    }
  }
});

test('every task fits some node of the cluster, and task shapes are valid', () => {
  const tasks = syntheticTasks(nodes, { seed: 5, tasks: 5000, multiGpu: 0.2, typeConstrained: 0.3 });
  const models = nodeModels(nodes);
  tasks.forEach((t, i) => {
    assert.ok(holder(t), `${t.name} fits no node: ${JSON.stringify(t)}`);
    assert.equal(t.name, `synthetic-task-${String(i).padStart(5, '0')}`);
    assert.equal(t.line, i + 2);
    assert.ok(Number.isInteger(t.cpuMilli) && t.cpuMilli > 0, t.name);
    assert.ok(Number.isInteger(t.memoryMiB) && t.memoryMiB >= 2048 && t.memoryMiB <= 65536, t.name);
    if (t.gpus === 0) assert.equal(t.gpuMilli, 0);
    else if (t.gpus > 1) assert.equal(t.gpuMilli, MILLI);
    else assert.ok(t.gpuMilli > 0 && t.gpuMilli <= MILLI, t.name);
    if (t.gpus > 1) assert.ok([2, 4, 8].includes(t.gpus), t.name);
    if (taskKind(t) === 'sharing') assert.ok(t.gpuMilli > 0 && t.gpuMilli < MILLI, t.name);
    for (const m of t.models) assert.ok(models.has(m), `${t.name} names unknown model ${m}`);
    if (t.models.length > 0) assert.ok(t.gpus > 0 && new Set(t.models).size === t.models.length, t.name);
  });
  assert.ok(tasks.some((t) => t.models.length > 0));
});

test('tasks fit a custom cluster of small nodes too', () => {
  const small: TraceNode[] = [
    { name: 'a', cpuMilli: 8000, memoryMiB: 16384, gpus: 2, model: 'A10' },
    { name: 'b', cpuMilli: 32000, memoryMiB: 8192, gpus: 1, model: 'T4' },
    { name: 'c', cpuMilli: 4000, memoryMiB: 4096, gpus: 0, model: '' },
  ];
  const tasks = syntheticTasks(small, { seed: 9, tasks: 2000, typeConstrained: 0.5 });
  for (const t of tasks) assert.ok(holder(t, small), `${t.name} fits no node: ${JSON.stringify(t)}`);
  assert.ok(tasks.every((t) => t.gpus <= 2));
});

test('arrival times are whole, non-negative and nondecreasing; deletion follows creation', () => {
  const tasks = syntheticTasks(nodes, { seed: 11, tasks: 3000 });
  let last = 0;
  for (const t of tasks) {
    const creation = t.creation ?? -1;
    const deletion = t.deletion ?? -1;
    assert.ok(Number.isInteger(creation) && creation >= last, t.name);
    assert.ok(Number.isInteger(deletion) && deletion >= creation + 1, t.name);
    last = creation;
  }
  // Poisson arrivals of mean 60 s: the mean gap is close to 60.
  const gap = last / tasks.length;
  assert.ok(gap > 50 && gap < 70, `mean gap ${String(gap)}`);
  // Log-normal lifetimes of median 540 s.
  const lifetimes = tasks.map((t) => (t.deletion ?? 0) - (t.creation ?? 0)).sort((a, b) => a - b);
  const median = lifetimes[Math.floor(lifetimes.length / 2)] ?? 0;
  assert.ok(median > 400 && median < 700, `median lifetime ${String(median)}`);
});

test('the default task count asks for about the cluster GPU capacity', () => {
  const capacity = nodes.reduce((s, n) => s + n.gpus * MILLI, 0);
  for (const seed of [1, 2, 3, 4]) {
    const trace = syntheticTrace({ seed });
    const requested = trace.tasks.reduce((s, t) => s + taskMilli(t), 0);
    assert.ok(requested >= 0.8 * capacity && requested <= 1.2 * capacity, `seed ${String(seed)}: ${String(requested / capacity)} × capacity`);
    assert.equal(trace.nodesSource, 'built-in example cluster (48 nodes, 272 GPUs)');
    assert.equal(trace.tasksSource, `synthetic workload (seed ${String(seed)}, ${String(trace.tasks.length)} tasks)`);
  }
});

test('bad options throw a RangeError naming the field and the value', () => {
  const bad: [SyntheticOptions, RegExp][] = [
    [{ seed: 1, sharing: 1.4 }, /^synthetic workload: sharing=1\.4 must be between 0 and 1$/],
    [{ seed: 1, cpuOnly: -0.1 }, /cpuOnly=-0\.1/],
    [{ seed: 1, multiGpu: Number.NaN }, /multiGpu=NaN/],
    [{ seed: 1, typeConstrained: 2 }, /typeConstrained=2/],
    [{ seed: 1, cpuOnly: 0.5, sharing: 0.4, multiGpu: 0.2 }, /cpuOnly \+ sharing \+ multiGpu = 1\.1 must be at most 1/],
    [{ seed: 1, tasks: 0 }, /tasks=0/],
    [{ seed: 1, tasks: 2.5 }, /tasks=2\.5/],
    [{ seed: 1.5 }, /seed=1\.5/],
    [{ seed: 1, meanInterArrival: 0 }, /meanInterArrival=0/],
    [{ seed: 1, medianLifetime: Number.POSITIVE_INFINITY }, /medianLifetime=Infinity/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => syntheticTasks(nodes, options), (e: unknown) => e instanceof RangeError && message.test(e.message), JSON.stringify(options));
  }
  const cpuNodes: TraceNode[] = [{ name: 'c', cpuMilli: 4000, memoryMiB: 4096, gpus: 0, model: '' }];
  assert.throws(() => syntheticTasks(cpuNodes, { seed: 1 }), RangeError);
  assert.throws(() => syntheticTasks(cpuNodes, { seed: 1, cpuOnly: 0.9, sharing: 0.1, multiGpu: 0 }), /cpuOnly=0\.9 must be 1/);
  assert.equal(syntheticTasks(cpuNodes, { seed: 1, cpuOnly: 1, sharing: 0, multiGpu: 0, tasks: 10 }).length, 10);
  assert.throws(() => syntheticTasks([], { seed: 1 }), RangeError);
});
