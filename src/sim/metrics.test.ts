import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CURVE_POINTS, EventLog, curves, summarize } from './metrics.js';

const CAPACITY = 1000; // milli-GPU: x = round(arrived / 10), allocation % = allocated / 10

function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${what}: got ${String(actual)}, want ${String(expected)}`);
}

function isNaNAt(values: readonly number[], x: number, what: string): void {
  assert.ok(Number.isNaN(values[x]), `${what}[${String(x)}]: got ${String(values[x])}, want NaN`);
}

/**
 * Records (arrived, allocated, fragmentation, idle), capacity 1000:
 *   r1: 10, 10, 100, 500 → x = 1: A 1,   F 10, ratio 100·100/500 = 20
 *   r2: 14, 14, 200, 400 → x = 1 (1.4 rounds down): A 1.4, F 20, ratio 100·200/400 = 50
 *   r3: 30, 20,   0,   0 → x = 3: A 2,   F 0,  ratio NaN (idle 0: not counted)
 *   r4: 1400, …          → x = 140 > 130: ignored
 */
function handLog(): EventLog {
  const log = new EventLog();
  log.record(10, 10, 100, 500);
  log.record(14, 14, 200, 400);
  log.record(30, 20, 0, 0);
  log.record(1400, 1000, 0, 0);
  return log;
}

test('curves: each bin is the mean of its records', () => {
  const c = curves(handLog(), CAPACITY);
  assert.equal(c.allocation.length, CURVE_POINTS);
  assert.equal(c.fragmentation.length, CURVE_POINTS);
  assert.equal(c.fragmentationRatio.length, CURVE_POINTS);
  near(c.allocation[1], (1 + 1.4) / 2, 'A(1)');
  near(c.allocation[3], 2, 'A(3)');
  near(c.fragmentation[1], (10 + 20) / 2, 'F(1)');
  near(c.fragmentation[3], 0, 'F(3)');
  near(c.fragmentationRatio[1], (20 + 50) / 2, 'ratio(1)');
});

test('curves: an empty bin takes the mean of the records in x − 1 … x + 1', () => {
  const c = curves(handLog(), CAPACITY);
  // x = 0: bins 0 and 1 → (1 + 1.4) / 2.
  near(c.allocation[0], 1.2, 'A(0)');
  // x = 2: bins 1, 2, 3 → three records (1 + 1.4 + 2) / 3, not the mean of the bin means.
  near(c.allocation[2], 4.4 / 3, 'A(2)');
  near(c.fragmentation[2], (10 + 20 + 0) / 3, 'F(2)');
  // x = 4: bins 3, 4, 5 → A 2.
  near(c.allocation[4], 2, 'A(4)');
  // The ratio of bin 2 has only r1 and r2 (r3 had no idle GPU): (20 + 50) / 2.
  near(c.fragmentationRatio[2], 35, 'ratio(2)');
});

test('curves: where no record is within ±1, the state after the last record before x; NaN past the last arrival', () => {
  const c = curves(handLog(), CAPACITY);
  // r4 arrived at x = 140: every x up to 130 was passed, and from x = 5 on the state was r3's.
  for (const x of [5, 6, 50, 129, 130]) {
    near(c.allocation[x], 2, `A(${String(x)})`);
    near(c.fragmentation[x], 0, `F(${String(x)})`);
    isNaNAt(c.fragmentationRatio, x, 'ratio (r3 had no idle GPU)');
  }
  const short = new EventLog();
  short.record(10, 10, 100, 500);
  short.record(60, 50, 100, 500);
  const s = curves(short, CAPACITY);
  near(s.allocation[4], 1, 'A(4): after r1, before r2');
  near(s.allocation[6], 5, 'A(6)');
  // Arrivals stopped at x = 6: nothing is known of x = 8 and beyond.
  for (const x of [8, 50, 130]) isNaNAt(s.allocation, x, 'A');
});

test('curves: the fragmentation ratio is NaN, never Infinity, where the idle GPU was 0', () => {
  const c = curves(handLog(), CAPACITY);
  // Bin 3 holds only r3 (idle 0) and bins 2 and 4 are empty: nothing to average.
  isNaNAt(c.fragmentationRatio, 3, 'ratio');
  isNaNAt(c.fragmentationRatio, 4, 'ratio');
  assert.ok(c.fragmentationRatio.every((v) => Number.isNaN(v) || Number.isFinite(v)));
  // A cluster that is full with no fragmentation: 0/0 must not appear either.
  const full = new EventLog();
  full.record(1000, 1000, 0, 0);
  const f = curves(full, CAPACITY);
  near(f.allocation[100], 100, 'A(100)');
  isNaNAt(f.fragmentationRatio, 100, 'ratio');
});

test('EventLog grows past its initial size and keeps every record', () => {
  const log = new EventLog();
  for (let i = 0; i < 3000; i++) log.record(i, i / 2, i / 4, i + 1);
  assert.equal(log.length, 3000);
  assert.equal(log.arrived[0], 0);
  assert.equal(log.arrived[1023], 1023);
  assert.equal(log.allocated[2999], 1499.5);
  assert.equal(log.fragmentation[2048], 512);
  assert.equal(log.idle[2999], 3000);
});

test('summarize: odd count — mean, sample sd, median, min, max', () => {
  // [3, 1, 2]: mean 2; sd = √((1 + 1 + 0) / (3 − 1)) = 1; median 2.
  assert.deepEqual(summarize([3, 1, 2]), { n: 3, mean: 2, sd: 1, min: 1, max: 3, median: 2 });
});

test('summarize: even count — median is the mean of the middle two; sd divides by n − 1', () => {
  // [4, 1, 3, 2]: mean 2.5; squares 2.25 + 0.25 + 0.25 + 2.25 = 5 → sd = √(5/3); median (2 + 3) / 2.
  const s = summarize([4, 1, 3, 2]);
  assert.equal(s.n, 4);
  assert.equal(s.mean, 2.5);
  near(s.sd, Math.sqrt(5 / 3), 'sd');
  assert.equal(s.median, 2.5);
  assert.equal(s.min, 1);
  assert.equal(s.max, 4);
  // A population sd (÷ n) would be √1.25 ≈ 1.118; the sample sd is ≈ 1.291.
  assert.ok(s.sd > 1.29);
});

test('summarize: NaN and infinite values are ignored', () => {
  assert.deepEqual(summarize([NaN, 10, Infinity, 20, -Infinity]), { n: 2, mean: 15, sd: Math.sqrt(50), min: 10, max: 20, median: 15 });
});

test('summarize: a single value has sd 0; no value gives NaN everywhere', () => {
  assert.deepEqual(summarize([7]), { n: 1, mean: 7, sd: 0, min: 7, max: 7, median: 7 });
  const empty = summarize([]);
  assert.equal(empty.n, 0);
  for (const k of ['mean', 'sd', 'min', 'max', 'median'] as const) assert.ok(Number.isNaN(empty[k]), k);
  assert.equal(summarize([NaN]).n, 0);
});
