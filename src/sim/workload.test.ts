import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from './rng.js';
import { type TraceTask, taskMilli } from './trace.js';
import { arrivalSequence } from './workload.js';

function task(name: string, gpus: number, gpuMilli: number): TraceTask {
  return { name, cpuMilli: 1000, memoryMiB: 1024, gpus, gpuMilli, models: [], creation: null, deletion: null, line: 2 };
}

/** `count` tasks of one shape, named t00, t01, … */
function uniform(count: number, gpus: number, gpuMilli: number, prefix = 't'): TraceTask[] {
  return Array.from({ length: count }, (_, i) => task(`${prefix}${String(i).padStart(2, '0')}`, gpus, gpuMilli));
}

/** A mixed trace, listed out of name order. */
const MIXED: TraceTask[] = [
  task('j', 1, 250),
  task('c', 1, 1000),
  task('a', 2, 1000),
  task('h', 0, 0),
  task('e', 1, 500),
  task('b', 8, 1000),
  task('g', 1, 810),
  task('d', 4, 1000),
  task('f', 0, 0),
  task('i', 1, 460),
];
const MIXED_MILLI = MIXED.reduce((s, t) => s + taskMilli(t), 0); // 250+1000+2000+500+8000+810+4000+460 = 17020

const names = (ts: readonly TraceTask[]): string[] => ts.map((t) => t.name);
const sum = (ts: readonly TraceTask[]): number => ts.reduce((s, t) => s + taskMilli(t), 0);

test('the same seed gives the same sequence; another seed a different one', () => {
  for (const tune of [0, 1.3, 0.5]) {
    const a = arrivalSequence(MIXED, 10_000, tune, new Rng(42));
    const b = arrivalSequence(MIXED, 10_000, tune, new Rng(42));
    const c = arrivalSequence(MIXED, 10_000, tune, new Rng(43));
    assert.deepEqual(names(a.tasks), names(b.tasks), `tune ${String(tune)}`);
    assert.equal(a.requestedMilli, b.requestedMilli);
    assert.notDeepEqual(names(a.tasks), names(c.tasks), `tune ${String(tune)}`);
  }
});

test('the input order does not matter: tasks are sorted by name before the seeded shuffle', () => {
  const reversed = [...MIXED].reverse();
  assert.deepEqual(names(arrivalSequence(MIXED, 10_000, 1.3, new Rng(5)).tasks), names(arrivalSequence(reversed, 10_000, 1.3, new Rng(5)).tasks));
});

test('tune 0 replays the shuffled trace unchanged in content', () => {
  const a = arrivalSequence(MIXED, 10_000, 0, new Rng(9));
  assert.equal(a.tasks.length, MIXED.length);
  assert.deepEqual(names(a.tasks).sort(), names(MIXED).sort());
  assert.equal(a.requestedMilli, MIXED_MILLI);
  // Shuffled, not merely sorted: the seeded Fisher–Yates over the name-sorted list.
  const sorted = [...MIXED].sort((x, y) => (x.name < y.name ? -1 : 1));
  assert.deepEqual(names(a.tasks), names(new Rng(9).shuffle([...sorted])));
  assert.notDeepEqual(names(a.tasks), names(sorted));
  // The input array is not modified.
  assert.equal(MIXED[0]?.name, 'j');
});

test('a request equal to the target is returned as it is', () => {
  // 10 × 1000 milli = 10 000 = 1.0 × capacity.
  const a = arrivalSequence(uniform(10, 1, 1000), 10_000, 1, new Rng(1));
  assert.equal(a.tasks.length, 10);
  assert.equal(a.requestedMilli, 10_000);
});

test('inflation with 500-milli tasks stops exactly at the target: 13 000 of 13 000', () => {
  // Capacity 10 GPUs = 10 000 milli, tune 1.3 → target 13 000. Four tasks of 1 × 500 give 2 000;
  // each draw adds 500 and the draw that would reach 13 500 is refused: 13 000 / 500 = 26 tasks.
  for (const seed of [1, 2, 3]) {
    const a = arrivalSequence(uniform(4, 1, 500), 10_000, 1.3, new Rng(seed));
    assert.ok(a.requestedMilli <= 13_000 && a.requestedMilli > 13_000 - 500, String(a.requestedMilli));
    assert.equal(a.requestedMilli, 13_000);
    assert.equal(a.tasks.length, 26);
    assert.equal(sum(a.tasks), a.requestedMilli);
    // The first four are the shuffled originals, each exactly once.
    assert.deepEqual(names(a.tasks.slice(0, 4)).sort(), ['t00', 't01', 't02', 't03']);
  }
});

test('inflation ends above target − largest share and at most target + (largest task − its share)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const a = arrivalSequence(MIXED, 100_000, 1.3, new Rng(seed)); // target 130 000
    assert.equal(sum(a.tasks), a.requestedMilli);
    // The last draw passed requested + 1000 ≤ 130 000 and added 8 × 1000 at most: ≤ 137 000.
    assert.ok(a.requestedMilli <= 130_000 + 7000, String(a.requestedMilli));
    // The loop stopped on a draw whose per-GPU share crossed: requested + share > target for
    // some task, so requested > 130 000 − the largest share (1000).
    assert.ok(a.requestedMilli > 130_000 - 1000, String(a.requestedMilli));
    // Appended tasks are drawn from the trace itself.
    const known = new Set(MIXED);
    assert.ok(a.tasks.every((t) => known.has(t)));
  }
});

test('a multi-GPU draw can overshoot: the stop test compares the per-GPU share (quirk kept)', () => {
  // 4 GPUs × 1000, capacity 10 000, tune 1.3 → target 13 000. One task gives 4 000. Draws:
  // 4 000 + 1 000 ≤ 13 000 → 8 000; 9 000 ≤ 13 000 → 12 000; 13 000 ≤ 13 000 → 16 000;
  // 17 000 > 13 000 → stop. Ends at 16 000: above the target by 3 000, less than one task (4 000).
  for (const seed of [1, 2, 3]) {
    const a = arrivalSequence(uniform(1, 4, 1000), 10_000, 1.3, new Rng(seed));
    assert.equal(a.requestedMilli, 16_000);
    assert.ok(a.requestedMilli > 13_000 && a.requestedMilli - 13_000 < 4000);
    assert.equal(a.tasks.length, 4);
  }
});

test('deflation removes random tasks until the request is at or below the target', () => {
  // 10 × 1000 = 10 000 against a target of 0.55 × 10 000 = 5 500: removals stop at 5 000.
  const a = arrivalSequence(uniform(10, 1, 1000), 10_000, 0.55, new Rng(3));
  assert.equal(a.requestedMilli, 5000);
  assert.equal(a.tasks.length, 5);
  assert.equal(new Set(names(a.tasks)).size, 5, 'no task appears twice');
  // Mixed sizes: at or below the target, and above it before the last removal (the largest task is 8 000).
  for (const seed of [1, 2, 3, 4]) {
    const b = arrivalSequence(MIXED, 10_000, 1, new Rng(seed)); // 17 020 > 10 000
    assert.equal(sum(b.tasks), b.requestedMilli);
    assert.ok(b.requestedMilli <= 10_000 && b.requestedMilli > 10_000 - 8000, String(b.requestedMilli));
    assert.ok(b.tasks.length < MIXED.length);
    assert.equal(new Set(names(b.tasks)).size, b.tasks.length);
  }
});

test('a trace with no GPU task is returned as it is (no endless inflation)', () => {
  const cpuOnly = uniform(5, 0, 0, 'c');
  const a = arrivalSequence(cpuOnly, 10_000, 1.3, new Rng(1));
  assert.equal(a.requestedMilli, 0);
  assert.deepEqual(names(a.tasks).sort(), names(cpuOnly));
});
