import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type OnlineOptions, type OnlineResult, replayOnline } from './online.js';
import type { PolicyInfo } from './policies/policy.js';
import { REFERENCE_POLICIES } from './policies/reference.js';
import type { Trace, TraceNode, TraceTask } from './trace.js';

function policy(name: string): PolicyInfo {
  const p = REFERENCE_POLICIES.find((x) => x.name === name);
  assert.ok(p, `no reference policy ${name}`);
  return p;
}

function node(name: string, gpus: number, model = 'A100'): TraceNode {
  return { name, cpuMilli: 64_000, memoryMiB: 262_144, gpus, model: gpus > 0 ? model : '' };
}

let line = 2;
function task(name: string, creation: number | null, deletion: number | null, gpus = 1, gpuMilli = 1000, extra: Partial<TraceTask> = {}): TraceTask {
  return { name, cpuMilli: 1000, memoryMiB: 1024, gpus, gpuMilli: gpus > 0 ? gpuMilli : 0, models: [], creation, deletion, line: line++, ...extra };
}

function trace(nodes: TraceNode[], tasks: TraceTask[]): Trace {
  return { nodes, tasks, nodesSource: 'nodes.csv', tasksSource: 'tasks.csv' };
}

function run(t: Trace, options: Partial<OnlineOptions> = {}, name = 'best-fit'): OnlineResult {
  return replayOnline(t, policy(name), { seed: 1, exclusive: false, ...options });
}

test('a task that does not fit waits and starts exactly when a departure frees room', () => {
  // One GPU. a holds it over [0, 100); b arrives at 10 and must wait for it; c marks the span end at 200.
  const r = run(trace([node('n1', 1)], [task('a', 0, 100), task('b', 10, 60), task('c', 200, 200, 0)]));
  assert.equal(r.waited, 1);
  assert.deepEqual(r.wait, { mean: 90, p50: 90, p95: 90, max: 90 });
  assert.equal(r.maxQueue, 1);
  // b runs [100, 150): the GPU is held over [0, 150) of the span [0, 200].
  assert.equal(r.meanAllocatedPercent, 75);
  assert.equal(r.meanUsefulPercent, 75);
  assert.equal(r.meanRunning, 0.75);
  assert.equal(r.peakAllocatedPercent, 100);
  assert.equal(r.startedInSpanPercent, 100);
  assert.equal(r.neverFits, 0);
  assert.equal(r.tasks, 3);
});

test('exclusive mode rounds shares up to whole GPUs: two half-GPU tasks share one GPU, or queue', () => {
  const t = trace([node('n1', 1)], [task('a', 0, 100, 1, 500), task('b', 0, 100, 1, 500), task('end', 200, 200, 0)]);
  const sharing = run(t);
  assert.equal(sharing.mode, 'sharing');
  assert.equal(sharing.waited, 0);
  assert.equal(sharing.maxQueue, 0);
  // Both hold 500 each over [0, 100) of [0, 200].
  assert.equal(sharing.meanAllocatedPercent, 50);
  assert.equal(sharing.meanUsefulPercent, 50);
  assert.equal(sharing.meanRunning, 1);
  assert.equal(sharing.peakAllocatedPercent, 100);

  const exclusive = run(t, { exclusive: true });
  assert.equal(exclusive.mode, 'exclusive');
  assert.equal(exclusive.waited, 1);
  assert.equal(exclusive.wait.max, 100);
  assert.equal(exclusive.maxQueue, 1);
  // a over [0, 100), b over [100, 200): a whole GPU held all the time for half a GPU of work.
  assert.equal(exclusive.meanAllocatedPercent, 100);
  assert.equal(exclusive.meanUsefulPercent, 50);
  assert.equal(exclusive.meanRunning, 1);
  // The trace itself is untouched by the rounding.
  assert.equal(t.tasks[0]?.gpuMilli, 500);
});

test('backfilling: a later task starts before an earlier one that still does not fit', () => {
  // Two GPUs held by a (until 50) and b (until 100). c wants both; d wants one.
  const r = run(trace([node('n1', 2)], [task('a', 0, 50), task('b', 0, 100), task('c', 10, 110, 2), task('d', 20, 120)]));
  // At 50 a leaves: c still does not fit, d starts (wait 30). c starts when d leaves at 150 (wait 140).
  assert.equal(r.waited, 2);
  assert.equal(r.wait.max, 140);
  assert.equal(r.wait.mean, 85);
  assert.equal(r.wait.p50, 30);
  assert.equal(r.maxQueue, 2);
});

test('tasks of the same shape but different GPU model constraints do not block each other', () => {
  const nodes = [node('a100', 1, 'A100'), node('v100', 1, 'V100')];
  const r = run(
    trace(nodes, [
      task('x', 0, 100, 1, 1000, { models: ['A100'] }),
      task('p', 10, 20, 1, 1000, { models: ['A100'] }),
      task('q', 20, 30, 1, 1000, { models: ['V100'] }),
    ]),
  );
  // p waits for x; q finds the V100 free at once.
  assert.equal(r.waited, 1);
  assert.equal(r.wait.max, 90);
});

test('a task no node of the empty cluster can host is rejected at arrival, not queued', () => {
  const r = run(
    trace(
      [node('n1', 2), node('n2', 1)],
      [task('huge', 0, 100, 4), task('fat', 0, 100, 0, 0, { cpuMilli: 100_000 }), task('ok', 5, 100, 2), task('end', 10, 10, 0)],
    ),
  );
  assert.equal(r.neverFits, 2);
  assert.equal(r.maxQueue, 0);
  assert.equal(r.waited, 0);
  assert.equal(r.tasks, 4);
  // Only ok (2 of 3 GPUs) runs, over [5, 10] of the span [0, 10].
  assert.equal(r.meanAllocatedPercent, (100 * (2000 * 5)) / 10 / 3000);
  assert.equal(r.startedInSpanPercent, 50);
});

test('departures at an arrival time free their capacity for that arrival first', () => {
  const r = run(trace([node('n1', 1)], [task('a', 0, 100), task('b', 100, 200)]));
  assert.equal(r.maxQueue, 0);
  assert.equal(r.waited, 0);
  assert.equal(r.meanAllocatedPercent, 100);
});

test('speedup compresses arrivals, not lifetimes; waits are in the trace seconds of those lifetimes', () => {
  const t = trace([node('n1', 1)], [task('a', 0, 100), task('b', 100, 150)]);
  assert.equal(run(t).waited, 0);
  // At speedup 2, b arrives at 50 while a runs until 100.
  const fast = run(t, { speedup: 2 });
  assert.equal(fast.waited, 1);
  assert.equal(fast.wait.max, 50);
  assert.equal(fast.maxQueue, 1);
  // Speedup 4: b arrives at 50 and runs [100, 200) for its full 100 s; c arrives at 100 (after a left)
  // and waits until 200.
  const t2 = trace([node('n1', 1)], [task('a', 0, 100), task('b', 200, 300), task('c', 400, 450)]);
  assert.equal(run(t2).waited, 0);
  const r2 = run(t2, { speedup: 4 });
  assert.deepEqual([r2.waited, r2.wait.max, r2.wait.mean, r2.maxQueue], [2, 100, 75, 1]);
  // Over the compressed span [0, 100] the GPU is always held.
  assert.equal(r2.meanAllocatedPercent, 100);
  assert.throws(() => run(t, { speedup: 0 }), RangeError);
  assert.throws(() => run(t, { speedup: -1 }), RangeError);
});

test('a trace without creation and deletion times is refused, naming the task file', () => {
  const t = trace([node('n1', 1)], [task('a', 0, 100), task('b', null, null)]);
  assert.throws(() => run(t), (e: unknown) => e instanceof Error && /tasks\.csv/.test(e.message) && /creation_time and deletion_time/.test(e.message) && /task b/.test(e.message));
});

test('the same seed gives the same run; the random policy runs the queue to the end', () => {
  const tasks: TraceTask[] = [];
  for (let i = 0; i < 200; i++) tasks.push(task(`t${String(i).padStart(3, '0')}`, i * 3, i * 3 + 40 + (i % 7) * 10, 1 + (i % 2), [250, 500, 1000][i % 3] ?? 1000));
  const t = trace([node('n1', 2), node('n2', 4), node('n3', 1)], tasks);
  const strip = (r: OnlineResult): OnlineResult => ({ ...r, seconds: 0 });
  for (const exclusive of [false, true]) {
    const a = replayOnline(t, policy('random'), { seed: 7, exclusive });
    const b = replayOnline(t, policy('random'), { seed: 7, exclusive });
    assert.deepEqual(strip(a), strip(b));
    assert.equal(a.neverFits, 0);
    assert.ok(a.meanUsefulPercent <= a.meanAllocatedPercent + 1e-9);
    assert.ok(a.peakAllocatedPercent <= 100);
  }
  const sharing = replayOnline(t, policy('random'), { seed: 7, exclusive: false });
  assert.ok(Math.abs(sharing.meanUsefulPercent - sharing.meanAllocatedPercent) < 1e-9);
});
