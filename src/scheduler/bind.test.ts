import assert from 'node:assert/strict';
import { test } from 'node:test';

import { POD_BIND_PHASE, POD_BIND_TIME } from '../core/annotations.js';
import { ClusterState } from '../core/placement/cluster.js';
import { AllocationWrites } from './allocation-writes.js';
import { type BindDeps, bindPod, type PodRef } from './bind.js';
import { BusyNodes } from './busy-nodes.js';
import type { PodObject } from './pod-allocation.js';
import { SchedulerCache } from './scheduler-cache.js';

const NOW = new Date('2026-11-27T12:00:00Z');
const POD: PodObject = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [{ name: 'main' }] } };

function harness(overrides: Partial<BindDeps> = {}, withDevices = true) {
  const calls: string[] = [];
  const cache = new SchedulerCache(new ClusterState(), () => {});
  if (withDevices) cache.assume('u1', 'n1', [[{ id: 'GPU-a', vendor: 'NVIDIA', memoryMiB: 3000, cores: 30 }]], 0);
  const events: string[] = [];
  const deps: BindDeps = {
    cache,
    getPod: (ref: PodRef) => (ref.name === 'p' ? POD : null),
    lockNode: (node, owner) => {
      calls.push(`lock ${node} ${owner.namespace}/${owner.name}`);
      return Promise.resolve();
    },
    unlockNode: (node) => {
      calls.push(`unlock ${node}`);
      return Promise.resolve();
    },
    bindPod: (ref, uid, node, annotations) => {
      calls.push(`bind ${ref.name} ${uid} ${node} ${annotations[POD_BIND_PHASE] ?? ''} ${annotations[POD_BIND_TIME] ?? ''}`);
      return Promise.resolve();
    },
    asksDevices: () => withDevices,
    writes: new AllocationWrites(),
    event: (_pod, type, reason, message) => events.push(`${type} ${reason} ${message}`),
    now: () => NOW,
    ...overrides,
  };
  return { deps, calls, events, cache };
}

const ARGS = { podName: 'p', podNamespace: 'ns', podUID: 'u1', node: 'n1' };

test('bind locks the node, creates the binding marking the pod allocating, and records BindingSucceed', async () => {
  const h = harness();
  assert.deepEqual(await bindPod(ARGS, h.deps), { Error: '' });
  assert.deepEqual(h.calls, ['lock n1 ns/p', `bind p u1 n1 allocating ${String(NOW.getTime() / 1000)}`]);
  assert.deepEqual(h.events, ['Normal BindingSucceed Successfully binding node [n1] to ns/p']);
});

test('a pod without devices binds without taking the node lock', async () => {
  const h = harness({}, false);
  assert.deepEqual(await bindPod(ARGS, h.deps), { Error: '' });
  assert.ok(!h.calls.some((c) => c.startsWith('lock')));
});

test('lock contention: the error is returned and the pod is left untouched', async () => {
  const h = harness({ lockNode: () => Promise.reject(new Error('node n1 has been locked within 5m0s: node lock contention')) });
  const result = await bindPod(ARGS, h.deps);
  assert.equal(result.Error, 'bind ns/p to n1: node n1 has been locked within 5m0s: node lock contention');
  assert.deepEqual(h.calls, []);
  assert.match(h.events[0] ?? '', /^Warning BindingFailed/);
});

test('a failed Bind frees the node for Filter; a bound pod keeps it busy until its lock shows', async () => {
  const busy = new BusyNodes({ node: () => undefined, now: () => NOW });
  busy.sent('u1', 'n1', 'ns', 'p');
  const failing = harness({ busy, lockNode: () => Promise.reject(new Error('node lock contention')) });
  assert.notEqual((await bindPod(ARGS, failing.deps)).Error, '');
  assert.equal(busy.busy('n1'), false);
  busy.sent('u1', 'n1', 'ns', 'p');
  const h = harness({ busy });
  assert.deepEqual(await bindPod(ARGS, h.deps), { Error: '' });
  assert.equal(busy.busy('n1'), true);
});

test('a failed binding releases the lock it took', async () => {
  const h = harness({ bindPod: () => Promise.reject(new Error('409 Conflict: pod p is already assigned to node n2')) });
  const result = await bindPod(ARGS, h.deps);
  assert.match(result.Error, /already assigned/);
  assert.deepEqual(h.calls.at(-1), 'unlock n1');
});

test('a pod deleted after Filter: an error, and its assumed usage is given back', async () => {
  const h = harness();
  const result = await bindPod({ ...ARGS, podName: 'gone' }, h.deps);
  assert.match(result.Error, /ns\/gone: the pod does not exist/);
  assert.equal(h.cache.allocation('u1'), undefined);
});

test("bind waits for Filter's write of the allocation before it takes the lock", async () => {
  const h = harness();
  let land: () => void = () => {};
  h.deps.writes.track('u1', new Promise<void>((resolve) => (land = resolve)), () => h.calls.push('written'));
  const bound = bindPod(ARGS, h.deps);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(h.calls, [], 'nothing happens while the write is in flight');
  land();
  assert.deepEqual(await bound, { Error: '' });
  assert.deepEqual(h.calls.slice(0, 2), ['written', 'lock n1 ns/p']);
});

test("a failed write of the allocation fails the bind, which takes nothing, and is reported once", async () => {
  const h = harness();
  h.deps.writes.track('u1', Promise.reject(new Error('409 Conflict: the object has been modified')), () => h.cache.forget('u1'));
  const result = await bindPod(ARGS, h.deps);
  assert.equal(result.Error, 'bind ns/p: its allocation was not written (409 Conflict: the object has been modified); it must be filtered again');
  assert.deepEqual(h.calls, []);
  assert.equal(await h.deps.writes.written('u1'), null, 'the failure is read once');
});

test('a pod asking for devices that nothing is held for (its decision was lost) is refused, and nothing is taken', async () => {
  const h = harness({ asksDevices: () => true }, false);
  const result = await bindPod(ARGS, h.deps);
  assert.equal(result.Error, "bind ns/p: no devices are held for it (its Filter's decision was lost); it must be filtered again");
  assert.deepEqual(h.calls, []);
});
