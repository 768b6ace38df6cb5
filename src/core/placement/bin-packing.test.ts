import assert from 'node:assert/strict';
import { test } from 'node:test';

import { relaxation, restValues } from './bin-packing.js';

test('halves: two to a bin, each priced half a bin, whether counted or weighed', () => {
  const counted = relaxation({ size: [50], count: [7] }, 100, true);
  assert.ok(Math.abs(counted.bound - 3.5) < 1e-9, String(counted.bound));
  assert.ok(Math.abs((counted.prices[0] ?? 0) - 0.5) < 1e-9);
  const weighed = relaxation({ size: [50], count: [0.3] }, 100, false);
  assert.ok(Math.abs((weighed.prices[0] ?? 0) - 0.5) < 1e-9);
  assert.deepEqual([...restValues([50], weighed.prices, 100)].filter((_, r) => r % 25 === 0), [0, 0, 0.5, 0.5, 1]);
});

test('counted, a bin holds no more of a size than there are; weighed, as many as fit', () => {
  // One 30 and nothing else: counted, one bin; weighed (a distribution of 30s), three to a bin.
  assert.ok(Math.abs(relaxation({ size: [30], count: [1] }, 100, true).bound - 1) < 1e-9);
  const weighed = relaxation({ size: [30], count: [1] }, 100, false);
  assert.ok(Math.abs(weighed.bound - 1 / 3) < 1e-9, String(weighed.bound));
});

test('the relaxation packs 60s with 40s, and prices what is left over', () => {
  // Three 60s and two 40s: two 60 + 40 bins and a 60 alone; the 60s carry the price.
  const r = relaxation({ size: [60, 40], count: [3, 2] }, 100, true);
  assert.ok(Math.abs(r.bound - 3) < 1e-9, String(r.bound));
  const used = r.patterns.reduce((sum, p, i) => sum + (r.bins[i] ?? 0) * ((p[0] ?? 0) * 60 + (p[1] ?? 0) * 40 <= 100 ? 1 : NaN), 0);
  assert.ok(Math.abs(used - 3) < 1e-9, 'every pattern fits a bin, and they use three');
});

test('a size outside the bin, or a count that is not positive, is refused naming it', () => {
  assert.throws(() => relaxation({ size: [100], count: [1] }, 100, true), /item 100 × 1: a size is a whole number between 1 and 99/);
  assert.throws(() => relaxation({ size: [20], count: [0] }, 100, false), /item 20 × 0/);
  assert.throws(() => relaxation({ size: [2.5], count: [1] }, 100, false), /item 2.5 × 1/);
});
