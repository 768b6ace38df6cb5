import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { ClusterState } from '../core/placement/cluster.js';
import { PlacementEngine } from '../core/placement/engine.js';
import { podRequest } from '../core/request.js';
import { gpu, node, pod } from '../core/testing/builders.js';
import { nvidiaVendor } from '../core/vendors/nvidia.js';
import { parseShape, podsFromRoom, whatIf } from './what-if.js';

const grant = (id: string, memoryMiB: number, cores: number) => [[{ id, vendor: 'NVIDIA', memoryMiB, cores }]];

test('podsFromRoom: g distinct devices per pod', () => {
  assert.equal(podsFromRoom([4], 1), 4);
  assert.equal(podsFromRoom([4], 2), 0, 'one device cannot give two GPUs to one pod');
  assert.equal(podsFromRoom([4, 4], 2), 4);
  assert.equal(podsFromRoom([10, 1, 1], 2), 2, 'the big device pairs with each small one once');
  assert.equal(podsFromRoom([3, 3, 3], 2), 4, '9 shares, pairs across three devices: 4 pods');
  assert.equal(podsFromRoom([0, 0, 5], 1), 5);
  assert.equal(podsFromRoom([], 1), 0);
});

test('podsFromRoom agrees with greedy placement (largest rooms first)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (room, gpus) => {
      const left = [...room];
      let pods = 0;
      for (;;) {
        const order = left.map((k, i) => [k, i] as const).filter(([k]) => k > 0).sort((a, b) => b[0] - a[0]);
        if (order.length < gpus) break;
        for (const [, i] of order.slice(0, gpus)) left[i] = (left[i] ?? 0) - 1;
        pods++;
      }
      assert.equal(podsFromRoom(room, gpus), pods);
    }),
  );
});

test('whatIf counts shares against memory, cores and task slots, and whole idle GPUs', () => {
  const cluster = new ClusterState();
  cluster.setNode(node('a', [gpu('g0', { memoryMiB: 40000, splitCount: 4 }), gpu('g1', { memoryMiB: 40000 }), gpu('g2', { memoryMiB: 40000, healthy: false })]));
  cluster.setNode(node('b', [gpu('h0', { memoryMiB: 16000, type: 'NVIDIA-Tesla T4' }), gpu('h1', { type: 'NVIDIA-Tesla T4' })], [], ['h1']));
  cluster.addPod('a', 'p1', grant('g0', 30000, 30), 0);

  const small = whatIf(cluster.nodes, { gpus: 1, memoryMiB: 8000, cores: 20, type: null });
  // g0: 10000 MiB and 70% left -> 1; g1: 5 by memory, 5 by cores; g2 unhealthy; h0: 2; h1 cordoned.
  assert.equal(small.withSharing, 1 + 5 + 2);
  assert.equal(small.wholeGpus, 2, 'g1 and h0 hold nothing');
  assert.equal(small.gpusConsidered, 5);

  const t4 = whatIf(cluster.nodes, { gpus: 1, memoryMiB: 8000, cores: 0, type: 't4' });
  assert.deepEqual([t4.withSharing, t4.wholeGpus, t4.gpusConsidered], [2, 1, 2]);

  const pairs = whatIf(cluster.nodes, { gpus: 2, memoryMiB: 8000, cores: 20, type: null });
  assert.equal(pairs.withSharing, 1, 'node a: g0 (1) with g1 (5) makes one pair; node b has one usable GPU');
  assert.equal(pairs.wholeGpus, 0);

  const exclusive = whatIf(cluster.nodes, { gpus: 1, memoryMiB: 1000, cores: 100, type: null });
  assert.equal(exclusive.withSharing, 2, 'a 100% pod needs a GPU with no compute held: g1 and h0');
});

test('parseShape reads the query and names a bad parameter with its value', () => {
  assert.deepEqual(parseShape(new URLSearchParams('gpus=2&memory=4096&cores=25&type=A100')), { gpus: 2, memoryMiB: 4096, cores: 25, type: 'A100' });
  assert.deepEqual(parseShape(new URLSearchParams('memory=4096')), { gpus: 1, memoryMiB: 4096, cores: 0, type: null });
  assert.deepEqual(parseShape(new URLSearchParams('gpus=0&memory=1')), { error: 'gpus="0" is not a whole number from 1 to 64' });
  assert.deepEqual(parseShape(new URLSearchParams('cores=2.5')), { error: 'cores="2.5" is not a whole number from 0 to 100' });
  assert.match((parseShape(new URLSearchParams('gpus=1')) as { error: string }).error, /give memory/);
});

test('whatIf agrees with the placement engine placing pod after pod until none fits', () => {
  // One GPU per pod: the engine, placing greedily, reaches the count exactly. Several GPUs: the
  // engine's policy picks devices without looking ahead, so it may place fewer, never more.
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.record({ memory: fc.constantFrom(16000, 24000, 40000), split: fc.integer({ min: 1, max: 6 }), used: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
      fc.record({ gpus: fc.integer({ min: 1, max: 2 }), memoryMiB: fc.constantFrom(3000, 7000, 12000), cores: fc.constantFrom(0, 20, 35, 100) }),
      (nodes, shape) => {
        const cluster = new ClusterState();
        nodes.forEach((devices, n) => {
          cluster.setNode(node(`n${String(n)}`, devices.map((d, i) => gpu(`g${String(n)}-${String(i)}`, { memoryMiB: d.memory, splitCount: d.split }))));
          devices.forEach((d, i) => {
            for (let k = 0; k < Math.min(d.used, d.split); k++) cluster.addPod(`n${String(n)}`, `old-${String(n)}-${String(i)}-${String(k)}`, grant(`g${String(n)}-${String(i)}`, 2000, 10), 0);
          });
        });
        const expected = whatIf(cluster.nodes, { ...shape, type: null }).withSharing;
        const engine = new PlacementEngine(cluster, [nvidiaVendor()]);
        let placed = 0;
        while (placed <= expected && engine.place(`new-${String(placed)}`, podRequest(pod().gpu(shape.gpus).mem(shape.memoryMiB).cores(shape.cores).build(), [nvidiaVendor()])).placement !== null) placed++;
        if (shape.gpus === 1) assert.equal(placed, expected);
        else assert.ok(placed <= expected, `engine placed ${String(placed)}, whatIf said at most ${String(expected)}`);
      },
    ),
    { numRuns: 150 },
  );
});
