import assert from 'node:assert/strict';
import { test } from 'node:test';

import { addShare, packingFloor } from './packing-floor.js';
import { Rng } from './rng.js';

function shares(...pairs: [number, number][]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [size, count] of pairs) addShare(counts, size, count);
  return counts;
}

/** The fewest GPUs of 1000 that hold the items: exact, by dynamic programming over subsets (≤ 12 items). */
function optimalGpus(items: readonly number[]): number {
  const n = items.length;
  const full = (1 << n) - 1;
  const sum = new Int32Array(1 << n);
  for (let s = 1; s <= full; s++) {
    const low = Math.clz32(1) - Math.clz32(s & -s);
    sum[s] = (sum[s & (s - 1)] ?? 0) + (items[low] ?? 0);
  }
  const gpus = new Int32Array(1 << n).fill(n + 1);
  gpus[0] = 0;
  for (let s = 1; s <= full; s++) {
    // Enumerate the GPU that holds the lowest item of s: a subset of s containing it that fits.
    const lowest = s & -s;
    for (let sub = s; sub > 0; sub = (sub - 1) & s) {
      if ((sub & lowest) === 0 || (sum[sub] ?? 0) > 1000) continue;
      gpus[s] = Math.min(gpus[s] ?? n + 1, (gpus[s ^ sub] ?? n + 1) + 1);
    }
  }
  return gpus[full] ?? n + 1;
}

test('the floor of no shares is nothing', () => {
  assert.deepEqual(packingFloor(new Map()), { sharesMilli: 0, lowerBoundGpus: 0, packedGpus: 0 });
});

test('the floor counts what the shares cannot avoid, where their sum alone would say less', () => {
  // Three 600s need three GPUs though they sum to 1.8; three 350s need two; 810s leave 190 that only 160s fill.
  assert.deepEqual(packingFloor(shares([600, 3])), { sharesMilli: 1800, lowerBoundGpus: 3, packedGpus: 3 });
  assert.deepEqual(packingFloor(shares([350, 3])), { sharesMilli: 1050, lowerBoundGpus: 2, packedGpus: 2 });
  assert.deepEqual(packingFloor(shares([810, 100], [160, 30])), { sharesMilli: 85_800, lowerBoundGpus: 100, packedGpus: 100 });
  // 470s go two to a GPU and fit beside none of the 650s; the 320s fill the 650s' room first.
  const mix = packingFloor(shares([650, 10], [470, 7], [320, 12]));
  assert.equal(mix.sharesMilli, 6500 + 3290 + 3840);
  assert.equal(mix.lowerBoundGpus, 10 + 4 + 1);
  assert.equal(mix.packedGpus, 15);
});

test('on random small sets the bound never passes the optimum and the packing found never beats it', () => {
  const rng = new Rng(7);
  let met = 0;
  for (let round = 0; round < 300; round++) {
    const n = 1 + rng.int(11);
    const items = Array.from({ length: n }, () => (1 + rng.int(19)) * 50 - (rng.int(2) === 0 ? 0 : 20));
    const counts = new Map<number, number>();
    for (const item of items) addShare(counts, item);
    const floor = packingFloor(counts);
    const optimum = optimalGpus(items);
    assert.equal(floor.sharesMilli, items.reduce((a, b) => a + b, 0));
    assert.ok(floor.lowerBoundGpus <= optimum, `${items.join(',')}: bound ${String(floor.lowerBoundGpus)} > optimum ${String(optimum)}`);
    assert.ok(floor.packedGpus >= optimum, `${items.join(',')}: packed ${String(floor.packedGpus)} < optimum ${String(optimum)}`);
    if (floor.lowerBoundGpus === optimum) met++;
  }
  // The relaxation is tight on nearly all of them (a guard against a bound that is merely safe).
  assert.ok(met >= 290, `bound met the optimum on ${String(met)} of 300`);
});

test('a share that is not a whole number of milli-GPU below a whole GPU is refused, naming it', () => {
  assert.throws(() => packingFloor(shares([1000, 1])), /share 1000 × 1: a share is a whole number of milli-GPU between 1 and 999/);
  assert.throws(() => packingFloor(shares([0, 2])), /share 0 × 2/);
  assert.throws(() => packingFloor(shares([12.5, 2])), /share 12.5 × 2/);
  assert.throws(() => packingFloor(shares([500, 1.5])), /share 500 × 1.5/);
});
