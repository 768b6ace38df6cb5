import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatPlacementExample, runPlacementExample } from './placement-example.js';

test('the built-in example places what fits and says why the rest does not', () => {
  const report = runPlacementExample('binpack');
  const where = new Map(report.results.map((r) => [r.pod, r]));
  assert.equal(where.get('train-8gpu')?.node, 'h100-sxm-0');
  // Two-GPU training jobs get NVLink-bridged pairs.
  for (const job of ['train-2gpu-a', 'train-2gpu-b']) {
    const ids = where.get(job)?.grants[0]?.map((g) => Number(g.id.slice(-1))) ?? [];
    assert.equal(ids.length, 2);
    assert.equal(Math.floor((ids[0] ?? 0) / 2), Math.floor((ids[1] ?? 9) / 2), `${job} got a bridged pair`);
  }
  for (const r of report.results.filter((x) => x.pod.startsWith('vision-t4'))) assert.equal(r.node, 't4-0');
  assert.equal(where.get('too-big-16gpu')?.node, null);
  assert.equal(where.get('too-big-16gpu')?.reasons.get('t4-0'), 'NodeInsufficientDevice');
  assert.equal(report.placed, report.results.filter((r) => r.node).length);
  const text = formatPlacementExample(report, [runPlacementExample('spread')]);
  assert.match(text, /train-8gpu +-> h100-sxm-0/);
  assert.match(text, /of the cluster's GPU memory allocated/);
});
