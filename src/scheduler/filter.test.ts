import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { NODE_DEVICE_CORDON, NODE_LOCK, NODE_NVIDIA_REGISTER, POD_DEVICES_ALLOCATED, POD_DEVICES_TO_ALLOCATE, POD_NODE, POD_TIME } from '../core/annotations.js';
import { encodeNodeRegister } from '../core/codec/index.js';
import { ClusterState } from '../core/placement/cluster.js';
import { PlacementEngine } from '../core/placement/engine.js';
import { gpu, pod } from '../core/testing/builders.js';
import { nvidiaVendor } from '../core/vendors/nvidia.js';
import { DEFAULT_DEVICE_CONFIG } from '../config/device-config.js';
import { quotaResourcesFromConfig } from '../webhook/quota.js';
import { AllocationWrites } from './allocation-writes.js';
import { BusyNodes } from './busy-nodes.js';
import type { FilterExplanation } from './explain.js';
import { parseBindingArgs, parseExtenderArgs, WireError } from './extender-wire.js';
import { type EventType, failureSummary, type FilterDeps, filterPod } from './filter.js';
import { type NodeObject, nodeInventory } from './node-inventory.js';
import type { PodObject } from './pod-allocation.js';
import { SchedulerCache } from './scheduler-cache.js';

const NOW = new Date('2026-11-27T12:00:00Z');

/** A Node as a HAMi device plugin leaves it: the register annotation and the allocatable count. */
function gpuNode(name: string, gpus: number, memoryMiB = 24576, extra: Record<string, string> = {}): NodeObject {
  const devices = Array.from({ length: gpus }, (_, i) => gpu(`GPU-${name}-${String(i)}`, { index: i, memoryMiB, splitCount: 10 }));
  return {
    metadata: { name, annotations: { [NODE_NVIDIA_REGISTER]: encodeNodeRegister(devices), ...extra } },
    status: { allocatable: { 'nvidia.com/gpu': String(gpus * 10) } },
  };
}

function withUid(p: PodObject, uid: string, namespace = 'default'): PodObject {
  return { ...p, metadata: { ...p.metadata, uid, namespace } };
}

interface Harness {
  deps: FilterDeps;
  cache: SchedulerCache;
  patches: { pod: string; annotations: Readonly<Record<string, string>> }[];
  events: { pod: string; type: EventType; reason: string; message: string }[];
  problems: string[];
}

function harness(nodes: NodeObject[], annotate?: FilterDeps['annotatePod']): Harness {
  const problems: string[] = [];
  const cluster = new ClusterState();
  const cache = new SchedulerCache(cluster, (p) => problems.push(p));
  for (const n of nodes) cache.upsertNode(n);
  const vendors = [nvidiaVendor()];
  const patches: Harness['patches'] = [];
  const events: Harness['events'] = [];
  const deps: FilterDeps = {
    cache,
    engine: new PlacementEngine(cluster, vendors),
    vendors,
    annotatePod:
      annotate ??
      ((p, annotations) => {
        patches.push({ pod: p.metadata?.name ?? '', annotations });
        return Promise.resolve();
      }),
    writes: new AllocationWrites(),
    event: (p, type, reason, message) => events.push({ pod: p.metadata?.name ?? '', type, reason, message }),
    now: () => NOW,
  };
  return { deps, cache, patches, events, problems };
}

describe('nodeInventory', () => {
  test('devices from the register annotation, cordons from hami.io/device-cordon', () => {
    const { inventory, problems } = nodeInventory(gpuNode('n1', 2, 24576, { [NODE_DEVICE_CORDON]: 'GPU-n1-1, ' }));
    assert.deepEqual(problems, []);
    assert.equal(inventory?.devices.length, 2);
    assert.deepEqual([...(inventory?.cordoned ?? [])], ['GPU-n1-1']);
  });

  test('an allocatable count given as a JSON number counts, as Go reads a quantity', () => {
    const node = { ...gpuNode('n1', 2), status: { allocatable: { 'nvidia.com/gpu': 20 } } };
    assert.equal(nodeInventory(node).inventory?.devices.length, 2);
    assert.equal(nodeInventory({ ...node, status: { allocatable: { 'nvidia.com/gpu': 0 } } }).inventory, null);
  });

  test('a plugin whose resource is no longer allocatable has its devices dropped, with the reason', () => {
    const node = { ...gpuNode('n1', 2), status: { allocatable: { 'nvidia.com/gpu': '0' } } };
    const { inventory, problems } = nodeInventory(node);
    assert.equal(inventory, null);
    assert.match(problems[0] ?? '', /node n1: hami.io\/node-nvidia-register is set but status.allocatable\["nvidia.com\/gpu"\] is 0 or missing/);
  });

  test('a malformed annotation is a problem naming the field, never a throw', () => {
    const node: NodeObject = { metadata: { name: 'n1', annotations: { [NODE_NVIDIA_REGISTER]: '[{"id":"GPU-a","count":"ten"}]' } }, status: { allocatable: { 'nvidia.com/gpu': '10' } } };
    const { inventory, problems } = nodeInventory(node);
    assert.equal(inventory, null);
    assert.match(problems[0] ?? '', /node n1: .*count/);
  });
});

describe('extender wire', () => {
  test('ExtenderArgs keys are read as Go reads them: any case', () => {
    const args = parseExtenderArgs({ pod: { metadata: { name: 'p' } }, NODENAMES: ['a'], Nodes: null });
    assert.deepEqual(args.nodeNames, ['a']);
    assert.equal(args.nodes, null);
    assert.equal(args.pod?.metadata?.name, 'p');
  });

  test('a wrong field type is refused naming the Go field', () => {
    assert.throws(() => parseExtenderArgs({ Pod: {}, NodeNames: 'a' }), (e: unknown) => e instanceof WireError && /NodeNames/.test(e.message));
    assert.throws(() => parseBindingArgs({ PodName: 'p', PodNamespace: 'ns' }), (e: unknown) => e instanceof WireError && /Node:/.test(e.message));
  });

  test('a Pod or Node whose fields have the wrong types is refused naming the field and the value', () => {
    const refused = (pod: unknown, message: string): void => {
      assert.throws(
        () => parseExtenderArgs({ Pod: pod, NodeNames: ['n1'] }),
        (e: unknown) => e instanceof WireError && e.message === `ExtenderArgs: ${message}`,
      );
    };
    refused({ spec: { containers: 1.5 } }, 'Pod.spec.containers: expected array, received number (got 1.5)');
    refused({ spec: { containers: [null] } }, 'Pod.spec.containers[0]: expected object, received null (got null)');
    refused({ spec: { containers: [{ name: 'm', resources: { limits: { 'nvidia.com/gpumem': [] } } }] } }, 'Pod.spec.containers[0].resources.limits["nvidia.com/gpumem"]: expected a quantity: a string such as "3000" or "1Gi", or a number (got [])');
    refused({ metadata: { name: 'p', annotations: { 'hami.io/node-scheduler-policy': -1 } } }, 'Pod.metadata.annotations["hami.io/node-scheduler-policy"]: expected string, received number (got -1)');
    refused({ metadata: { namespace: true } }, 'Pod.metadata.namespace: expected string, received boolean (got true)');
    assert.throws(
      () => parseExtenderArgs({ Pod: {}, Nodes: { items: [{ metadata: { name: 'n1', annotations: { [NODE_DEVICE_CORDON]: ['GPU-1'] } } }] } }),
      (e: unknown) => e instanceof WireError && e.message === 'ExtenderArgs: Nodes.items[0].metadata.annotations["hami.io/device-cordon"]: expected string, received array (got ["GPU-1"])',
    );
    // Fields Tessera does not read pass through as they are.
    const args = parseExtenderArgs({ Pod: { metadata: { name: 'p', ownerReferences: 7 }, spec: { containers: [{ name: 'm', image: 1 }] } } });
    assert.equal((args.pod?.metadata as Record<string, unknown> | undefined)?.['ownerReferences'], 7);
  });
});

/** A value a JSON body could carry, put in place of a field of a valid Pod. */
function replaceAt(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  const [key, ...rest] = path;
  if (key === undefined) return replacement;
  if (Array.isArray(value)) return value.map((v, i) => (i === Number(key) % Math.max(1, value.length) ? replaceAt(v, rest, replacement) : v));
  if (typeof value !== 'object' || value === null) return value;
  return { ...value, [key]: replaceAt((value as Record<string, unknown>)[key], rest, replacement) };
}

describe('extender wire, any body', () => {
  test('a Pod with any field replaced by any JSON is refused with a WireError or filtered, never a throw', async () => {
    const valid = withUid(pod('infer').gpu(1).mem(3000).cores(30).build(), 'u1');
    const template = { ...valid, metadata: { ...valid.metadata, annotations: { 'hami.io/node-scheduler-policy': 'binpack', 'nvidia.com/use-gputype': 'A10' } }, spec: { ...valid.spec, initContainers: [{ name: 'init', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };
    const paths: (string | number)[][] = [
      ['metadata'], ['metadata', 'name'], ['metadata', 'namespace'], ['metadata', 'uid'], ['metadata', 'annotations'], ['metadata', 'annotations', 'hami.io/node-scheduler-policy'],
      ['metadata', 'annotations', 'nvidia.com/use-gputype'], ['spec'], ['spec', 'containers'], ['spec', 'containers', 0], ['spec', 'containers', 0, 'name'], ['spec', 'containers', 0, 'resources'],
      ['spec', 'containers', 0, 'resources', 'limits'], ['spec', 'containers', 0, 'resources', 'limits', 'nvidia.com/gpu'], ['spec', 'containers', 0, 'resources', 'limits', 'nvidia.com/gpumem'],
      ['spec', 'initContainers'], ['spec', 'initContainers', 0], ['spec', 'initContainers', 0, 'resources', 'limits'], ['status'], ['status', 'phase'],
    ];
    const h = harness([gpuNode('n1', 2), gpuNode('n2', 2)]);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 }), async (path, replacement) => {
        let args;
        try {
          args = parseExtenderArgs({ Pod: replaceAt(template, path, replacement), NodeNames: ['n1', 'n2'] });
        } catch (error) {
          assert.ok(error instanceof WireError, String(error));
          return;
        }
        const result = await filterPod(args, h.deps);
        h.deps.cache.forget('u1');
        assert.equal(typeof result.Error, 'string');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('filterPod', () => {
  test('a pod asking for no managed device passes through with the candidates untouched', async () => {
    const h = harness([gpuNode('n1', 1)]);
    const result = await filterPod({ pod: withUid(pod('web').build(), 'u1'), nodes: null, nodeNames: ['n1', 'n2'] }, h.deps);
    assert.deepEqual(result.NodeNames, ['n1', 'n2']);
    assert.equal(result.Error, '');
    assert.equal(h.patches.length, 0);
  });

  test('a share is placed: one node answered, the allocation written into the annotations, an event recorded', async () => {
    const h = harness([gpuNode('n1', 2), gpuNode('n2', 2)]);
    const p = withUid(pod('infer').gpu(1).mem(3000).cores(30).build(), 'u1');
    const result = await filterPod({ pod: p, nodes: null, nodeNames: ['n1', 'n2'] }, h.deps);
    assert.equal(result.Error, '');
    assert.equal(result.NodeNames?.length, 1);
    const chosen = result.NodeNames?.[0] ?? '';
    const written = h.patches[0]?.annotations ?? {};
    assert.equal(written[POD_NODE], chosen);
    assert.equal(written[POD_TIME], String(NOW.getTime() / 1000));
    assert.match(written[POD_DEVICES_ALLOCATED] ?? '', new RegExp(`^GPU-${chosen}-\\d,NVIDIA,3000,30:;$`));
    assert.equal(written[POD_DEVICES_TO_ALLOCATE], written[POD_DEVICES_ALLOCATED]);
    await h.deps.writes.drain();
    assert.equal(h.events[0]?.reason, 'FilteringSucceed');
    assert.equal(h.cache.allocation('u1')?.node, chosen);
  });

  test("a fit is answered as HAMi answers it, the chosen node alone; the nodes walked past are in the explanation", async () => {
    const h = harness([gpuNode('full', 1), gpuNode('free', 1)]);
    await filterPod({ pod: withUid(pod('big').gpu(1).mem(24000).cores(10).build(), 'u-big'), nodes: null, nodeNames: ['full'] }, h.deps);
    const explained: FilterExplanation[] = [];
    const result = await filterPod({ pod: withUid(pod('next').gpu(1).mem(3000).cores(30).build(), 'u-next'), nodes: null, nodeNames: ['full', 'free'] }, { ...h.deps, explain: (_, e) => explained.push(e) });
    assert.deepEqual(result, { Nodes: null, NodeNames: ['free'], FailedNodes: null, FailedAndUnresolvableNodes: null, Error: '' });
    assert.deepEqual(explained[0]?.failedNodes, { full: '1/1 CardInsufficientMemory' });
  });

  test('nothing fits: FailedNodes carries HAMi reasons per node, unknown names are "node unregistered", a Warning event sums them up', async () => {
    const h = harness([gpuNode('n1', 1, 8000), gpuNode('n2', 1, 8000)]);
    const p = withUid(pod('big').gpu(1).mem(16000).build(), 'u1');
    const result = await filterPod({ pod: p, nodes: null, nodeNames: ['n1', 'n2', 'ghost'] }, h.deps);
    assert.deepEqual(result.FailedNodes, { n1: '1/1 CardInsufficientMemory', n2: '1/1 CardInsufficientMemory', ghost: 'node unregistered' });
    assert.equal(result.NodeNames, null);
    assert.equal(h.events[0]?.reason, 'FilteringFailed');
    assert.equal(h.events[0]?.message, '2 nodes 1/1 CardInsufficientMemory(n1,n2); 1 nodes node unregistered(ghost)');
    assert.equal(h.patches.length, 0);
  });

  test('a bad request is an Error naming the container and field, and an event', async () => {
    const h = harness([gpuNode('n1', 1)]);
    const p = withUid(pod('bad').gpu(1).resource('nvidia.com/gpumem', 'lots').build(), 'u1');
    const result = await filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, h.deps);
    assert.match(result.Error, /main.*nvidia.com\/gpumem.*lots/);
    assert.equal(h.events[0]?.reason, 'FilteringFailed');
  });

  test('Filter answers before the annotation patch lands; the patch is tracked for Bind', async () => {
    let land: () => void = () => {};
    const h = harness([gpuNode('n1', 1)], () => new Promise<void>((resolve) => (land = resolve)));
    const p = withUid(pod('p').gpu(1).mem(3000).build(), 'u1');
    const result = await filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, h.deps);
    assert.deepEqual(result.NodeNames, ['n1']);
    assert.equal(h.cache.allocation('u1')?.node, 'n1', 'charged while the write is in flight');
    assert.equal(h.deps.writes.size, 1);
    assert.equal(h.events.length, 0, 'FilteringSucceed waits for the write');
    land();
    assert.equal(await h.deps.writes.written('u1'), null);
    assert.equal(h.events[0]?.reason, 'FilteringSucceed');
    assert.equal(h.deps.writes.size, 0);
  });

  test('when the annotation patch fails the usage is given back, a FilteringFailed event says why, and Bind hears it', async () => {
    const h = harness([gpuNode('n1', 1)], () => Promise.reject(new Error('409 Conflict')));
    const p = withUid(pod('p').gpu(1).mem(3000).build(), 'u1');
    const result = await filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, h.deps);
    assert.deepEqual(result.NodeNames, ['n1']);
    assert.equal(await h.deps.writes.written('u1'), '409 Conflict');
    assert.equal(h.cache.allocation('u1'), undefined);
    assert.equal(h.cache.cluster.podCount(), 0);
    assert.equal(h.events[0]?.reason, 'FilteringFailed');
    assert.match(h.events[0]?.message ?? '', /writing the allocation of default\/p failed: 409 Conflict/);
  });

  test("a pod filtered again waits for its first decision's write, so the two writes never cross", async () => {
    const order: string[] = [];
    let landFirst: () => void = () => {};
    let writes = 0;
    const h = harness([gpuNode('n1', 1)], (_p, annotations) => {
      writes += 1;
      order.push(`write ${String(writes)} ${annotations[POD_NODE] ?? ''}`);
      return writes === 1 ? new Promise<void>((resolve) => (landFirst = resolve)) : Promise.resolve();
    });
    const p = withUid(pod('p').gpu(1).mem(3000).build(), 'u1');
    await filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, h.deps);
    const again = filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, h.deps);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['write 1 n1'], 'the second Filter has not written yet');
    landFirst();
    assert.deepEqual((await again).NodeNames, ['n1']);
    assert.deepEqual(order, ['write 1 n1', 'write 2 n1']);
    assert.equal(h.cache.cluster.podCount(), 1);
  });

  test('filtering the same pod again gives back its first placement before choosing', async () => {
    const h = harness([gpuNode('n1', 1)]);
    const p = withUid(pod('p').gpu(1).mem(20000).build(), 'u1');
    for (let i = 0; i < 3; i++) {
      const result = await filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, h.deps);
      assert.deepEqual(result.NodeNames, ['n1'], `round ${String(i)}`);
    }
    assert.equal(h.cache.cluster.podCount(), 1);
  });

  test('concurrent filters never over-commit a device: each sees the others already charged', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const h = harness([gpuNode('n1', 1, 10000)], () => gate);
    const runs = Array.from({ length: 5 }, (_, i) =>
      filterPod({ pod: withUid(pod(`p${String(i)}`).gpu(1).mem(3000).build(), `u${String(i)}`), nodes: null, nodeNames: ['n1'] }, h.deps),
    );
    release();
    const results = await Promise.all(runs);
    assert.equal(results.filter((r) => r.NodeNames?.length === 1).length, 3, '3 × 3000 MiB fit in 10000 MiB');
    assert.equal(h.cache.cluster.node('n1')?.memory[0], 9000);
  });

  test('the Nodes path (Cluster Autoscaler) decides on the given objects and writes nothing', async () => {
    const h = harness([gpuNode('n1', 1)]);
    const template = gpuNode('template-1', 2);
    const p = withUid(pod('p').gpu(2).build(), 'u1');
    const result = await filterPod({ pod: p, nodes: [template], nodeNames: null }, h.deps);
    assert.deepEqual(result.Nodes?.items.map((n) => n.metadata?.name), ['template-1']);
    assert.equal(h.patches.length, 0);
    assert.equal(h.events.length, 0);
    assert.equal(h.cache.cluster.podCount(), 0);
  });

  test('GPU quota: a placement that would take the namespace over limits.nvidia.com/gpumem fails with ResourceQuotaNotFit', async () => {
    const h = harness([gpuNode('n1', 2)]);
    const quota = { metadata: { name: 'gpu', namespace: 'team-a' }, spec: { hard: { 'limits.nvidia.com/gpumem': '5000' } } };
    const deps: FilterDeps = { ...h.deps, quota: { resources: quotaResourcesFromConfig(DEFAULT_DEVICE_CONFIG), quotas: (ns) => (ns === 'team-a' ? [quota] : []) } };
    const first = await filterPod({ pod: withUid(pod('a').gpu(1).mem(3000).build(), 'ua', 'team-a'), nodes: null, nodeNames: ['n1'] }, deps);
    assert.deepEqual(first.NodeNames, ['n1']);
    const second = await filterPod({ pod: withUid(pod('b').gpu(1).mem(3000).build(), 'ub', 'team-a'), nodes: null, nodeNames: ['n1'] }, deps);
    assert.equal(second.NodeNames, null);
    assert.match(second.FailedNodes?.n1 ?? '', /^ResourceQuotaNotFit \(.*gpu.*limits.nvidia.com\/gpumem/);
    assert.equal(h.cache.allocation('ub'), undefined, 'nothing charged for the refused pod');
    const elsewhere = await filterPod({ pod: withUid(pod('c').gpu(1).mem(3000).build(), 'uc', 'team-b'), nodes: null, nodeNames: ['n1'] }, deps);
    assert.deepEqual(elsewhere.NodeNames, ['n1'], 'another namespace has no quota');
    // Filtering the first pod again does not count it twice.
    const again = await filterPod({ pod: withUid(pod('a').gpu(1).mem(3000).build(), 'ua', 'team-a'), nodes: null, nodeNames: ['n1'] }, deps);
    assert.deepEqual(again.NodeNames, ['n1']);
  });

  test('a node where another pod is on its way to the lock is passed over while another fits', async () => {
    const h = harness([gpuNode('n1', 2), gpuNode('n2', 2)]);
    const busy = new BusyNodes({ node: () => undefined, now: () => NOW });
    const deps: FilterDeps = { ...h.deps, busy };
    const explained: FilterExplanation[] = [];
    const first = await filterPod({ pod: withUid(pod('a').gpu(1).mem(3000).build(), 'u1'), nodes: null, nodeNames: ['n1', 'n2'] }, deps);
    assert.deepEqual(first.NodeNames, ['n1']);
    // Binpack would send the next pod to n1, the fuller node, where its Bind would meet a's lock.
    const second = await filterPod({ pod: withUid(pod('b').gpu(1).mem(3000).build(), 'u2'), nodes: null, nodeNames: ['n1', 'n2'] }, { ...deps, explain: (_p, e) => explained.push(e) });
    assert.deepEqual(second.NodeNames, ['n2']);
    assert.deepEqual(explained[0]?.busyNodes, ['n1']);
    // Both nodes busy: the fuller one again, as without the preference.
    const third = await filterPod({ pod: withUid(pod('c').gpu(1).mem(3000).build(), 'u3'), nodes: null, nodeNames: ['n1', 'n2'] }, deps);
    assert.deepEqual(third.NodeNames, ['n1']);
    // Without the preference (no busy): HAMi's choice.
    const plain = await filterPod({ pod: withUid(pod('d').gpu(1).mem(3000).build(), 'u4'), nodes: null, nodeNames: ['n1', 'n2'] }, h.deps);
    assert.deepEqual(plain.NodeNames, ['n1']);
  });

  test('a failed allocation write or a second Filter of the pod frees the node it was sent to', async () => {
    const h = harness([gpuNode('n1', 2)], () => Promise.reject(new Error('HTTP 500')));
    const busy = new BusyNodes({ node: () => undefined, now: () => NOW });
    await filterPod({ pod: withUid(pod('a').gpu(1).mem(3000).build(), 'u1'), nodes: null, nodeNames: ['n1'] }, { ...h.deps, busy });
    assert.equal(busy.busy('n1'), true);
    await h.deps.writes.drain();
    assert.equal(busy.busy('n1'), false);
    const ok = harness([gpuNode('n1', 2), gpuNode('n2', 2)]);
    const busy2 = new BusyNodes({ node: () => undefined, now: () => NOW });
    const p = withUid(pod('a').gpu(1).mem(3000).build(), 'u1');
    await filterPod({ pod: p, nodes: null, nodeNames: ['n1'] }, { ...ok.deps, busy: busy2 });
    await filterPod({ pod: p, nodes: null, nodeNames: ['n2'] }, { ...ok.deps, busy: busy2 });
    assert.deepEqual([busy2.busy('n1'), busy2.busy('n2')], [false, true]);
  });

  test('failureSummary groups nodes by reason, the most common first', () => {
    const text = failureSummary(new Map([['b', 'X'], ['a', 'X'], ['c', 'Y']]));
    assert.equal(text, '2 nodes X(a,b); 1 nodes Y(c)');
  });
});

describe('SchedulerCache', () => {
  const placed = (name: string, uid: string, node: string, allocation: string, extra: Partial<PodObject> = {}): PodObject => ({
    metadata: { name, namespace: 'default', uid, annotations: { [POD_NODE]: node, [POD_DEVICES_ALLOCATED]: allocation } },
    spec: { containers: [{ name: 'main' }] },
    ...extra,
  });

  test('usage is rebuilt from the allocated annotations, whatever order nodes and pods arrive in', () => {
    const pods = [placed('a', 'ua', 'n1', 'GPU-n1-0,NVIDIA,3000,30:;'), placed('b', 'ub', 'n1', 'GPU-n1-0,NVIDIA,5000,20:;')];
    const nodeFirst = new SchedulerCache(new ClusterState(), () => {});
    nodeFirst.upsertNode(gpuNode('n1', 1));
    for (const p of pods) nodeFirst.upsertPod(p);
    const podsFirst = new SchedulerCache(new ClusterState(), () => {});
    for (const p of pods) podsFirst.upsertPod(p);
    podsFirst.upsertNode(gpuNode('n1', 1));
    for (const c of [nodeFirst, podsFirst]) {
      const n = c.cluster.node('n1');
      assert.deepEqual([n?.tasks[0], n?.memory[0], n?.cores[0]], [2, 8000, 50]);
    }
  });

  test('finished pods hold nothing; after the init containers succeed only the app containers count', () => {
    const c = new SchedulerCache(new ClusterState(), () => {});
    c.upsertNode(gpuNode('n1', 1));
    c.upsertPod(placed('a', 'ua', 'n1', 'GPU-n1-0,NVIDIA,3000,30:;'));
    c.upsertPod(placed('a', 'ua', 'n1', 'GPU-n1-0,NVIDIA,3000,30:;', { status: { phase: 'Succeeded' } }));
    assert.equal(c.cluster.node('n1')?.memory[0], 0);
    const init = placed('i', 'ui', 'n1', 'GPU-n1-0,NVIDIA,8000,50:;GPU-n1-0,NVIDIA,2000,10:;', {
      spec: { initContainers: [{ name: 'warm' }], containers: [{ name: 'main' }] },
    });
    c.upsertPod(init);
    assert.equal(c.cluster.node('n1')?.memory[0], 8000);
    c.upsertPod({ ...init, status: { phase: 'Running', initContainerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } });
    assert.equal(c.cluster.node('n1')?.memory[0], 2000);
  });

  test('a malformed allocation is reported once and the previous record kept', () => {
    const problems: string[] = [];
    const c = new SchedulerCache(new ClusterState(), (p) => problems.push(p));
    c.upsertNode(gpuNode('n1', 1));
    c.upsertPod(placed('a', 'ua', 'n1', 'GPU-n1-0,NVIDIA,3000,30:;'));
    const broken = placed('a', 'ua', 'n1', 'GPU-n1-0,NVIDIA,lots,30:;');
    c.upsertPod(broken);
    c.upsertPod(broken);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /default\/a: .*usedmem.*lots/);
    assert.equal(c.cluster.node('n1')?.memory[0], 3000);
  });

  test('an assumed pod survives an informer update that predates its annotations', () => {
    const c = new SchedulerCache(new ClusterState(), () => {});
    c.upsertNode(gpuNode('n1', 1));
    c.assume('ua', 'n1', [[{ id: 'GPU-n1-0', vendor: 'NVIDIA', memoryMiB: 3000, cores: 30 }]], 0);
    c.upsertPod({ metadata: { name: 'a', namespace: 'default', uid: 'ua' }, spec: { containers: [{ name: 'main' }] } });
    assert.equal(c.cluster.node('n1')?.memory[0], 3000);
  });

  test("a node update that leaves its inventory's inputs alone (the node lock) is not read again; one that changes them is", () => {
    const c = new SchedulerCache(new ClusterState(), () => {});
    const node = gpuNode('n1', 2);
    c.upsertNode(node);
    const state = c.cluster.node('n1');
    c.upsertNode({ ...node, metadata: { ...node.metadata, annotations: { ...node.metadata?.annotations, [NODE_LOCK]: '2026-11-27T12:00:00Z,default,p' } } });
    assert.equal(c.cluster.node('n1'), state, 'the lock changes nothing the scheduler reads: the same node state, its cached scores kept');
    c.upsertNode({ ...node, metadata: { ...node.metadata, annotations: { ...node.metadata?.annotations, [NODE_DEVICE_CORDON]: 'GPU-n1-1' } } });
    assert.deepEqual([...(c.cluster.node('n1')?.cordoned ?? [])], ['GPU-n1-1']);
    c.upsertNode({ ...node, status: { allocatable: { 'nvidia.com/gpu': '0' } } });
    assert.equal(c.cluster.node('n1'), undefined, 'the device plugin has gone');
    c.upsertNode(node);
    assert.equal(c.cluster.node('n1')?.devices.length, 2);
  });

  test('a node that leaves and returns gets its pods charged again', () => {
    const c = new SchedulerCache(new ClusterState(), () => {});
    c.upsertNode(gpuNode('n1', 1));
    c.upsertPod(placed('a', 'ua', 'n1', 'GPU-n1-0,NVIDIA,3000,30:;'));
    c.removeNode('n1');
    c.upsertNode(gpuNode('n1', 1));
    assert.equal(c.cluster.node('n1')?.memory[0], 3000);
  });
});
