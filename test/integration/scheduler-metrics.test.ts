/**
 * The scheduler's `GET /metrics` end to end against the in-memory API server: a pod admitted by
 * the webhook, filtered and bound over HTTP as kube-scheduler would, then scraped; a pod that fits
 * nowhere is counted under its HAMi reasons; a ResourceQuota shows up as quota samples.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { NODES, PODS, RESOURCE_QUOTAS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { applyJsonPatch } from '../../src/apiserver/patch.js';
import { DEFAULT_DEVICE_CONFIG } from '../../src/config/device-config.js';
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

function admitted(name: string, namespace: string, limits: Record<string, string>): Record<string, unknown> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'main', image: 'cuda:13', resources: { limits } }] } };
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'r1', operation: 'CREATE', namespace, kind: { group: '', version: 'v1', kind: 'Pod' }, object: pod } };
  const result = admit(review, { config: DEFAULT_DEVICE_CONFIG });
  assert.ok(result.ok, 'the webhook answers');
  assert.equal(result.review.response.allowed, true, result.summary);
  return applyJsonPatch(pod as never, result.patch as never) as Record<string, unknown>;
}

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${scheduler.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.status, 200, `${path} answered ${String(response.status)}`);
  return (await response.json()) as Record<string, unknown>;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function scrape(): Promise<string> {
  assert.ok(scheduler.metricsUrl, 'the metrics endpoint is served');
  const response = await fetch(scheduler.metricsUrl);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of the one series of `name` whose labels include all of `labels`, or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  const found: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) found.push(Number(m[3]));
  }
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} matches ${String(found.length)} series`);
  return found[0];
}

before(async () => {
  api = await startApiServer();
  for (const name of NODE_NAMES) api.store.put(NODES, node(name));
  scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {}, metrics: { host: '127.0.0.1', port: 0 } });
  await until('the scheduler to be ready', () => scheduler.ready());
});

after(async () => {
  await scheduler.close();
  await api.close();
});

test('a bound share shows on its device and its container; the filter is timed', async () => {
  api.store.create(PODS, 'default', admitted('infer', 'default', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '3000', 'nvidia.com/gpucores': '30' }));
  const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', 'infer'), NodeNames: NODE_NAMES });
  assert.equal(filtered.Error, '');
  const chosen = (filtered.NodeNames as string[])[0] ?? '';
  const uid = (api.store.get(PODS, 'default', 'infer') as { metadata: { uid: string } }).metadata.uid;
  const bound = await post('/bind', { PodName: 'infer', PodNamespace: 'default', PodUID: uid, Node: chosen });
  assert.deepEqual(bound, { Error: '' });
  const uuid = scheduler.cache.allocation(uid)?.grants[0]?.[0]?.id ?? '';
  assert.match(uuid, new RegExp(`^GPU-${chosen}-\\d$`));

  const text = await scrape();
  const device = { node: chosen, device_uuid: uuid, device_type: 'NVIDIA-A10', zone: 'vGPU' };
  assert.equal(value(text, 'hami_gpu_memory_allocated_bytes', { ...device, device_cores: '100' }), 3145728000, '3000 MiB in bytes');
  assert.equal(value(text, 'hami_gpu_memory_limit_bytes', device), 24576 * 2 ** 20);
  assert.equal(value(text, 'hami_gpu_core_allocated_ratio', device), 30);
  assert.equal(value(text, 'hami_gpu_shared_count', device), 1);
  assert.equal(value(text, 'hami_node_gpu_memory_allocated_ratio', device), 3000 / 24576);
  assert.equal(value(text, 'hami_node_gpu_overview', { ...device, device_memory_limit: '24576' }), 3145728000);
  const container = { namespace: 'default', node: chosen, pod: 'infer', container_index: '0', device_uuid: uuid, zone: 'vGPU' };
  assert.equal(value(text, 'hami_vgpu_memory_allocated_bytes', container), 3145728000);
  assert.equal(value(text, 'hami_vgpu_core_allocated_ratio', container), 30);
  // The other three devices are there, holding nothing.
  assert.equal(text.split('\n').filter((l) => l.startsWith('hami_gpu_memory_allocated_bytes{')).length, 4);
  assert.ok((value(text, 'tessera_scheduler_filter_duration_seconds_count', { result: 'success' }) ?? 0) >= 1);
  assert.equal(value(text, 'tessera_scheduler_bind_duration_seconds_count', { result: 'success' }), 1);
  assert.equal(value(text, 'tessera_scheduler_nodes', {}), 2);
  assert.equal(value(text, 'tessera_scheduler_ready', {}), 1);
  assert.match(text, /^hami_build_info\{version="\d+\.\d+\.\d+.*\} 1$/m);
});

test('a pod that fits nowhere is counted under its HAMi reasons', async () => {
  api.store.create(PODS, 'default', admitted('huge', 'default', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '40000' }));
  const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', 'huge'), NodeNames: [...NODE_NAMES, 'cpu-only'] });
  assert.equal(filtered.NodeNames, null);
  const text = await scrape();
  assert.equal(value(text, 'tessera_scheduler_filter_failures_total', { reason: 'CardInsufficientMemory' }), 1);
  assert.equal(value(text, 'tessera_scheduler_filter_failures_total', { reason: 'NodeUnregistered' }), 1);
  assert.equal(value(text, 'tessera_scheduler_filter_duration_seconds_count', { result: 'failure' }), 1);
  assert.equal(value(text, 'hami_vgpu_memory_allocated_bytes', { pod: 'huge' }), undefined);
});

test('a GPU ResourceQuota is reported with what the namespace holds', async () => {
  api.store.create(RESOURCE_QUOTAS, 'default', { metadata: { name: 'gpu' }, spec: { hard: { 'limits.nvidia.com/gpumem': '20000', 'limits.nvidia.com/gpucores': '300' } } });
  await until('the quota in the scrape', async () => value(await scrape(), 'hami_resource_quota_limit', { namespace: 'default', quota_name: 'nvidia.com/gpumem' }) !== undefined);
  const text = await scrape();
  assert.equal(value(text, 'hami_resource_quota_used', { namespace: 'default', quota_name: 'nvidia.com/gpumem', limit: '20000', zone: 'vGPU' }), 3000);
  assert.equal(value(text, 'hami_resource_quota_used', { namespace: 'default', quota_name: 'nvidia.com/gpucores', limit: '300' }), 30);
  assert.equal(value(text, 'hami_resource_quota_limit', { namespace: 'default', quota_name: 'nvidia.com/gpucores' }), 300);
});

test('the dashboard shares the metrics port, and dashboard: false (--no-dashboard) takes it off', async () => {
  const base = (scheduler.metricsUrl ?? '').replace(/\/metrics$/, '');
  assert.equal((await fetch(`${base}/api/v1/dashboard`)).status, 200);
  assert.ok(scheduler.dashboard !== null);
  const without = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {}, metrics: { host: '127.0.0.1', port: 0 }, dashboard: false });
  try {
    const other = (without.metricsUrl ?? '').replace(/\/metrics$/, '');
    assert.equal(without.dashboard, null);
    assert.equal((await fetch(`${other}/api/v1/dashboard`)).status, 404);
    assert.equal((await fetch(`${other}/ui`)).status, 404);
    assert.equal((await fetch(`${other}/metrics`)).status, 200, 'the metrics stay');
  } finally {
    await without.close();
  }
});

test('other paths are 404; close() stops the endpoint', async () => {
  const url = scheduler.metricsUrl ?? '';
  assert.equal((await fetch(url.replace(/\/metrics$/, '/'))).status, 404);
  await scheduler.close();
  await assert.rejects(fetch(url));
  scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {} });
  assert.equal(scheduler.metricsUrl, null, 'off unless asked for');
});
