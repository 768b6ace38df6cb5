/**
 * The scheduler end to end against the in-memory API server, through real sockets: a pod goes
 * through the admission webhook's decision, is created, then filtered and bound over the extender's
 * HTTP endpoints, as kube-scheduler would drive them; a restarted scheduler rebuilds exactly the
 * usage it had.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { EVENTS, NAMESPACES, NODES, PODS, RESOURCE_QUOTAS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { applyJsonPatch } from '../../src/apiserver/patch.js';
import { DEFAULT_DEVICE_CONFIG } from '../../src/config/device-config.js';
import { NODE_LOCK, POD_BIND_PHASE, POD_DEVICES_ALLOCATED, POD_NODE } from '../../src/core/annotations.js';
import { gpu } from '../../src/core/testing/builders.js';
import { registeredNode } from '../support/registered-node.js';
import { startScheduler, type RunningScheduler } from '../../src/scheduler/scheduler.js';
import { admit } from '../../src/webhook/admission.js';

let api: ApiServer;
let scheduler: RunningScheduler;
const NODE_NAMES = ['gpu-a', 'gpu-b'];

function node(name: string): unknown {
  const devices = [0, 1].map((i) => gpu(`GPU-${name}-${String(i)}`, { index: i, memoryMiB: 24576, splitCount: 10, type: 'NVIDIA-A10' }));
  return registeredNode(name, devices, { cpu: '32', memory: '128Gi', pods: '110' });
}

function podSpec(name: string, limits: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}` }, spec: { containers: [{ name: 'main', image: 'cuda:13', resources: { limits } }] } };
}

/** The webhook's decision applied, as the API server would before storing the pod. */
function admitted(pod: Record<string, unknown>): Record<string, unknown> {
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'r1', operation: 'CREATE', namespace: 'default', kind: { group: '', version: 'v1', kind: 'Pod' }, object: pod } };
  const result = admit(review, { config: DEFAULT_DEVICE_CONFIG });
  assert.ok(result.ok, 'the webhook answers');
  assert.equal(result.review.response.allowed, true, result.summary);
  return applyJsonPatch(pod as never, result.patch as never) as Record<string, unknown>;
}

async function post(path: string, body: unknown, url = scheduler.url): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.status, 200, `${path} answered ${String(response.status)}`);
  return (await response.json()) as Record<string, unknown>;
}

async function until(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function storedPod(name: string): { metadata: { annotations?: Record<string, string> }; spec: { nodeName?: string; schedulerName?: string } } {
  return api.store.get(PODS, 'default', name) as never;
}

before(async () => {
  api = await startApiServer();
  for (const name of NODE_NAMES) api.store.put(NODES, node(name));
  scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {} });
  await until('the scheduler to be ready', () => scheduler.ready());
});

after(async () => {
  await scheduler.close();
  await api.close();
});

test('a share goes webhook → filter → bind and ends bound with the allocation annotations', async () => {
  const pod = admitted(podSpec('infer', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '3000' }));
  api.store.create(PODS, 'default', pod);
  assert.equal(storedPod('infer').spec.schedulerName, 'hami-scheduler');
  await until('the scheduler to see the pod', () => scheduler.cache.cluster.nodes.length === 2);

  const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', 'infer'), NodeNames: NODE_NAMES });
  assert.equal(filtered.Error, '');
  const chosen = (filtered.NodeNames as string[])[0] ?? '';
  assert.ok(NODE_NAMES.includes(chosen));

  const bound = await post('/bind', { PodName: 'infer', PodNamespace: 'default', PodUID: (storedPod('infer').metadata as { uid?: string }).uid, Node: chosen });
  assert.deepEqual(bound, { Error: '' });

  const stored = storedPod('infer');
  assert.equal(stored.spec.nodeName, chosen);
  assert.equal(stored.metadata.annotations?.[POD_NODE], chosen);
  assert.match(stored.metadata.annotations?.[POD_DEVICES_ALLOCATED] ?? '', new RegExp(`^GPU-${chosen}-\\d,NVIDIA,3000,\\d+:;$`));
  assert.equal(stored.metadata.annotations?.[POD_BIND_PHASE], 'allocating');
  const lock = (api.store.get(NODES, '', chosen) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[NODE_LOCK] ?? '';
  assert.match(lock, /,default,infer$/, 'the node is locked for the device plugin');
  await until('both events', () => {
    const reasons = api.store.list(EVENTS, { namespace: 'default' }).items.map((e) => (e as { reason?: string }).reason);
    return reasons.includes('FilteringSucceed') && reasons.includes('BindingSucceed');
  });
});

test("an allocation write the API server refuses: Filter has answered, Bind fails and takes nothing, the next Filter and Bind place the pod", async () => {
  const pod = admitted(podSpec('flaky', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '2000' }));
  api.store.create(PODS, 'default', pod);
  await until('the scheduler to see the pod', () => scheduler.cache.cluster.nodes.length === 2);
  const uid = (storedPod('flaky').metadata as { uid?: string }).uid ?? '';
  api.faults.failNext(1, { match: { method: 'PATCH', path: '/api/v1/namespaces/default/pods/flaky' } });

  const first = await post('/filter', { Pod: api.store.get(PODS, 'default', 'flaky'), NodeNames: NODE_NAMES });
  assert.equal(first.Error, '', 'Filter answers before its write lands');
  const refused = await post('/bind', { PodName: 'flaky', PodNamespace: 'default', PodUID: uid, Node: (first.NodeNames as string[])[0] });
  assert.match(String(refused.Error), /^bind default\/flaky: its allocation was not written \(.*\); it must be filtered again$/);
  assert.equal(scheduler.cache.allocation(uid), undefined, 'the charge was given back');
  assert.equal(storedPod('flaky').spec.nodeName, undefined, 'not bound');
  for (const name of NODE_NAMES) {
    const lock = (api.store.get(NODES, '', name) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[NODE_LOCK] ?? '';
    assert.doesNotMatch(lock, /,flaky$/, 'no lock taken for it');
  }

  const again = await post('/filter', { Pod: api.store.get(PODS, 'default', 'flaky'), NodeNames: NODE_NAMES });
  const chosen = (again.NodeNames as string[])[0] ?? '';
  // The first test's pod holds its node's lock until its device plugin would release it.
  for (const name of NODE_NAMES) api.store.patch(NODES, '', name, 'merge', { metadata: { annotations: { [NODE_LOCK]: null } } });
  assert.deepEqual(await post('/bind', { PodName: 'flaky', PodNamespace: 'default', PodUID: uid, Node: chosen }), { Error: '' });
  assert.equal(storedPod('flaky').spec.nodeName, chosen);
  assert.equal(storedPod('flaky').metadata.annotations?.[POD_NODE], chosen);
  await until('the FilteringFailed event naming the write', () =>
    api.store.list(EVENTS, { namespace: 'default' }).items.some((e) => (e as { reason?: string; message?: string }).reason === 'FilteringFailed' && /writing the allocation of default\/flaky failed/.test((e as { message?: string }).message ?? '')),
  );
});

test('a pod that fits nowhere gets HAMi reasons per node and a FilteringFailed event', async () => {
  const pod = admitted(podSpec('huge', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '40000' }));
  api.store.create(PODS, 'default', pod);
  const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', 'huge'), NodeNames: [...NODE_NAMES, 'cpu-only'] });
  assert.deepEqual(filtered.FailedNodes, { 'gpu-a': '2/2 CardInsufficientMemory', 'gpu-b': '2/2 CardInsufficientMemory', 'cpu-only': 'node unregistered' });
  await until('the event', () => api.store.list(EVENTS, { namespace: 'default' }).items.some((e) => (e as { reason?: string }).reason === 'FilteringFailed'));
});

test('GPU quota: a ResourceQuota on limits.nvidia.com/gpumem stops the pod that would exceed it', async () => {
  api.store.create(NAMESPACES, '', { metadata: { name: 'team-q' } });
  api.store.create(RESOURCE_QUOTAS, 'team-q', { metadata: { name: 'gpu' }, spec: { hard: { 'limits.nvidia.com/gpumem': '4000' } } });
  await until('the quota informer', () => api.store.list(RESOURCE_QUOTAS, {}).items.length === 1);
  await new Promise((r) => setTimeout(r, 1000)); // the scheduler's quota informer is not observable from here
  const results: Record<string, unknown>[] = [];
  for (const name of ['q1', 'q2']) {
    const pod = { ...podSpec(name, { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '3000' }), metadata: { name, namespace: 'team-q', uid: `uid-${name}` } };
    api.store.create(PODS, 'team-q', pod);
    results.push(await post('/filter', { Pod: api.store.get(PODS, 'team-q', name), NodeNames: NODE_NAMES }));
  }
  assert.equal((results[0]?.NodeNames as string[]).length, 1);
  assert.equal(results[1]?.NodeNames, null);
  assert.match(Object.values(results[1]?.FailedNodes as Record<string, string>)[0] ?? '', /^ResourceQuotaNotFit/);
  for (const name of ['q1', 'q2']) api.store.delete(PODS, 'team-q', name);
});

test('a scheduler started from scratch rebuilds exactly the usage the first one had', async () => {
  for (let i = 0; i < 6; i++) {
    const name = `batch-${String(i)}`;
    api.store.create(PODS, 'default', admitted(podSpec(name, { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': String(2000 + 500 * i), 'nvidia.com/gpucores': '10' })));
    const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', name), NodeNames: NODE_NAMES });
    assert.equal((filtered.NodeNames as string[]).length, 1, String(filtered.Error));
  }
  const usage = (s: RunningScheduler) => NODE_NAMES.map((n) => { const st = s.cache.cluster.node(n); return [...(st?.memory ?? [])].concat([...(st?.cores ?? [])], [...(st?.tasks ?? [])]); });
  // The first scheduler's cache has its own decisions; the informer's echo of the annotations must agree.
  await until('every decision written', () => [0, 1, 2, 3, 4, 5].every((i) => storedPod(`batch-${String(i)}`).metadata.annotations?.[POD_NODE] !== undefined));
  const before = usage(scheduler);
  await scheduler.close();
  scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {} });
  await until('the new scheduler to be ready', () => scheduler.ready());
  assert.deepEqual(usage(scheduler), before);
});
