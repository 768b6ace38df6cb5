/**
 * The placement invariant, over random clusters and random sequences of placements and
 * releases under every policy: no device ever holds more memory, compute or tasks than it has,
 * and usage always equals the sum of the pods placed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import type { Device, NodeInventory } from '../device.js';
import { podRequest } from '../request.js';
import { gpu, node, pod } from '../testing/builders.js';
import { nvidiaVendor } from '../vendors/nvidia.js';
import { checkInvariants, ClusterState } from './cluster.js';
import { PlacementEngine } from './engine.js';

const vendors = [nvidiaVendor()];

const deviceArb = fc.record({
  memoryMiB: fc.integer({ min: 1, max: 80 }).map((g) => g * 1024),
  splitCount: fc.integer({ min: 1, max: 10 }),
  cores: fc.constantFrom(100, 100, 200),
  numa: fc.integer({ min: 0, max: 1 }),
  healthy: fc.constantFrom(true, true, true, false),
});

const clusterArb = fc.array(fc.array(deviceArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }).map((nodes) =>
  nodes.map(
    (devices, n): NodeInventory =>
      node(
        `node-${String(n)}`,
        devices.map((d, i): Device => gpu(`GPU-${String(n)}-${String(i)}`, d)),
      ),
  ),
);

const askArb = fc.record({
  count: fc.integer({ min: 1, max: 3 }),
  memory: fc.oneof(fc.integer({ min: 1, max: 40000 }).map((m) => ({ mem: m })), fc.integer({ min: 1, max: 100 }).map((p) => ({ pct: p }))),
  cores: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
});

const podArb = fc.record({
  init: fc.option(askArb, { nil: undefined }),
  apps: fc.array(fc.option(askArb, { nil: undefined }), { minLength: 1, maxLength: 3 }),
  nodePolicy: fc.constantFrom(undefined, 'binpack', 'spread', 'fragmentation'),
  devicePolicy: fc.constantFrom(undefined, 'binpack', 'spread', 'numa', 'mutex,binpack', 'topology-aware', 'spread,numa'),
  numaBind: fc.boolean(),
});

type Ask = { count: number; memory: { mem: number } | { pct: number }; cores: number | undefined };

const opArb = fc.oneof(
  { weight: 3, arbitrary: podArb.map((p) => ({ kind: 'place' as const, pod: p })) },
  { weight: 1, arbitrary: fc.nat().map((i) => ({ kind: 'release' as const, pick: i })) },
);

interface RandomPod {
  init?: Ask | undefined;
  apps: (Ask | undefined)[];
  nodePolicy?: string | undefined;
  devicePolicy?: string | undefined;
  numaBind: boolean;
}

function build(p: RandomPod, name: string) {
  const b = pod(name);
  const ask = (a: Ask | undefined): void => {
    if (!a) return;
    b.gpu(a.count);
    if ('mem' in a.memory) b.mem(a.memory.mem);
    else b.memPercent(a.memory.pct);
    if (a.cores !== undefined) b.cores(a.cores);
  };
  p.apps.forEach((a, i) => {
    if (i > 0) b.container(`c${String(i)}`);
    ask(a);
  });
  if (p.init) {
    b.initContainer('init');
    ask(p.init);
  }
  if (p.nodePolicy) b.annotate('hami.io/node-scheduler-policy', p.nodePolicy);
  if (p.devicePolicy) b.annotate('hami.io/gpu-scheduler-policy', p.devicePolicy);
  if (p.numaBind) b.annotate('nvidia.com/numa-bind', 'true');
  return b.build();
}

test('no device is ever over-committed and usage is the sum of the placed pods', () => {
  fc.assert(
    fc.property(clusterArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), (nodes, ops) => {
      const cluster = new ClusterState();
      for (const n of nodes) cluster.setNode(n);
      const engine = new PlacementEngine(cluster, vendors);
      const placed: string[] = [];
      ops.forEach((op, i) => {
        if (op.kind === 'place') {
          const key = `default/p${String(i)}`;
          const request = podRequest(build(op.pod, `p${String(i)}`), vendors);
          const out = engine.place(key, request);
          if (out.placement) {
            placed.push(key);
            // Each container got what it asked, on distinct devices.
            request.containers.forEach((c) => {
              const grants = out.placement?.grants[c.position] ?? [];
              const ask = c.asks[0];
              assert.equal(grants.length, ask?.count ?? 0);
              assert.equal(new Set(grants.map((g) => g.id)).size, grants.length);
            });
          }
        } else if (placed.length > 0) {
          const [key] = placed.splice(op.pick % placed.length, 1);
          assert.ok(key && engine.release(key));
        }
        const problems = checkInvariants(cluster);
        assert.deepEqual(problems, [], problems.join('\n'));
      });
      for (const key of placed) engine.release(key);
      for (const n of cluster.nodes) {
        assert.equal(n.usedTasks, 0);
        assert.ok(Math.abs(n.usedMemory) < 1e-9 && Math.abs(n.usedCores) < 1e-9);
      }
    }),
    { numRuns: 1000 },
  );
});
