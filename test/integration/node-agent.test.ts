/**
 * The node agent end to end, through real sockets and the in-memory API server: mock GPUs are
 * registered on the Node, the kubelet (a fake one, over the device plugin's unix sockets) counts
 * the slots, the scheduler places a pod through its extender's HTTP endpoints, and the kubelet's
 * Allocate gets exactly the env and mounts of the decision; then the pod's annotations are updated
 * and the node lock released. Health changes, cordons, the handshake and a kubelet restart follow.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { NODES, PODS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { applyJsonPatch } from '../../src/apiserver/patch.js';
import { DEFAULT_DEVICE_CONFIG } from '../../src/config/device-config.js';
import {
  NODE_DEVICE_CORDON,
  NODE_HANDSHAKE,
  NODE_LOCK,
  NODE_NVIDIA_REGISTER,
  NODE_NVIDIA_SCORE,
  POD_BIND_PHASE,
  POD_DEVICES_ALLOCATED,
  POD_DEVICES_TO_ALLOCATE,
} from '../../src/core/annotations.js';
import { decodeNodeRegister, decodePodGrants } from '../../src/core/codec/index.js';
import { startNodeAgent, type RunningNodeAgent } from '../../src/node-agent/agent.js';
import { openBackend } from '../../src/node-agent/discovery/index.js';
import { startScheduler, type RunningScheduler } from '../../src/scheduler/scheduler.js';
import { admit } from '../../src/webhook/admission.js';
import { CallError, FakeKubelet } from '../support/fake-kubelet.js';

const NODE = 'gpu-1';
let api: ApiServer;
let scheduler: RunningScheduler;
let agent: RunningNodeAgent;
let kubelet: FakeKubelet;
let root: string;
let devicesFile: string;
const logs: string[] = [];

function mockDevices(healthy1 = true): string {
  return [
    'devices:',
    '  - name: NVIDIA A10',
    '    memoryMiB: 24576',
    '    count: 1',
    '  - name: NVIDIA A10',
    '    memoryMiB: 24576',
    `    healthy: ${String(healthy1)}`,
    ...(healthy1 ? [] : ['    healthReason: XID 79']),
    'links:',
    '  - between: [0, 1]',
    '    nvlinks: 4',
    '',
  ].join('\n');
}

function node(): { metadata: { annotations?: Record<string, string> }; status?: { allocatable?: Record<string, string> } } {
  return api.store.get(NODES, '', NODE) as never;
}

function annotateNode(annotations: Record<string, string | null>): void {
  api.store.patch(NODES, '', NODE, 'merge', { metadata: { annotations } });
}

function pod(name: string): { metadata: { uid: string; annotations: Record<string, string> }; spec: { nodeName?: string } } {
  return api.store.get(PODS, 'default', name) as never;
}

/** What the kubelet does with ListAndWatch: the healthy slot count becomes the Node's allocatable. */
function publishAllocatable(): void {
  const healthy = kubelet.devices.filter((d) => d.health === 'Healthy').length;
  const current = node();
  if (current.status?.allocatable?.['nvidia.com/gpu'] === String(healthy)) return;
  api.store.updateStatus(NODES, '', NODE, { ...current, status: { allocatable: { cpu: '32', memory: '128Gi', pods: '110', 'nvidia.com/gpu': String(healthy) } } });
}

async function until(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; agent log:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${scheduler.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

/** Creates the pod as admitted by the webhook, then filters and binds it as kube-scheduler would. */
async function schedule(name: string, spec: Record<string, unknown>): Promise<void> {
  const raw = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec };
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: name, operation: 'CREATE', namespace: 'default', kind: { group: '', version: 'v1', kind: 'Pod' }, object: raw } };
  const admitted = admit(review, { config: DEFAULT_DEVICE_CONFIG });
  assert.ok(admitted.ok, 'the webhook answers');
  assert.equal(admitted.review.response.allowed, true, admitted.summary);
  api.store.create(PODS, 'default', applyJsonPatch(raw as never, admitted.patch as never));
  const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', name), NodeNames: [NODE] });
  assert.deepEqual(filtered.NodeNames, [NODE], JSON.stringify(filtered.FailedNodes));
  assert.deepEqual(await post('/bind', { PodName: name, PodNamespace: 'default', PodUID: pod(name).metadata.uid, Node: NODE }), { Error: '' });
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'na-'));
  const pluginDir = join(root, 'dp');
  mkdirSync(pluginDir);
  devicesFile = join(root, 'devices.yaml');
  writeFileSync(devicesFile, mockDevices());
  api = await startApiServer();
  api.store.put(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
  kubelet = await FakeKubelet.start(pluginDir);
  agent = await startNodeAgent({
    kubeConfig: api.kubeConfig(),
    nodeName: NODE,
    backend: await openBackend({ devices: devicesFile, nodeName: NODE }),
    pluginDir,
    layout: { hookPath: join(root, 'vgpu'), library: 'libtessera.so' },
    healthIntervalMs: 100,
    registerIntervalMs: 300,
    log: (line) => logs.push(line),
  });
  await kubelet.until('the slots', () => kubelet.devices.length === 20);
  publishAllocatable();
  scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {} });
  await until('the scheduler to be ready', () => scheduler.ready());
  await until('the scheduler to see the GPUs', () => scheduler.cache.cluster.nodes.length === 1);
});

after(async () => {
  await scheduler.close();
  await agent.close();
  await kubelet.close();
  await api.close();
});

test('the node registers its GPUs with HAMi fields and pair scores; the kubelet counts split-count slots', () => {
  const annotations = node().metadata.annotations ?? {};
  const devices = decodeNodeRegister(annotations[NODE_NVIDIA_REGISTER] ?? '', 'NVIDIA');
  assert.deepEqual(
    devices.map((d) => [d.index, d.type, d.memoryMiB, d.cores, d.splitCount, d.healthy]),
    [
      [0, 'NVIDIA-NVIDIA A10', 24576, 100, 10, true],
      [1, 'NVIDIA-NVIDIA A10', 24576, 100, 10, true],
    ],
  );
  assert.match(annotations[NODE_NVIDIA_SCORE] ?? '', /"score":\{"GPU-[^"]+":420\}/, '4 NVLinks + same CPU');
  assert.equal(kubelet.registrations[0]?.resource_name, 'nvidia.com/gpu');
  assert.ok(kubelet.devices.every((d) => d.health === 'Healthy' && /^GPU-.+::\d$/.test(d.ID)));
});

test('scheduler decision → Allocate → the exact env and mounts → pod annotations updated → lock released', async () => {
  await schedule('infer', { containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '3000', 'nvidia.com/gpucores': '30' } } }] });
  const decided = decodePodGrants(pod('infer').metadata.annotations[POD_DEVICES_ALLOCATED] ?? '');
  const chosen = decided[0]?.[0]?.id ?? '';
  assert.match(node().metadata.annotations?.[NODE_LOCK] ?? '', /,default,infer$/);

  const response = await kubelet.allocate([[kubelet.devices[7]?.ID ?? '']]);
  const hook = join(root, 'vgpu');
  const uid = pod('infer').metadata.uid;
  assert.deepEqual(response.container_responses[0]?.envs, {
    NVIDIA_VISIBLE_DEVICES: chosen,
    CUDA_DEVICE_MEMORY_LIMIT_0: '3000m',
    CUDA_DEVICE_SM_LIMIT: '30',
    CUDA_DEVICE_MEMORY_SHARED_CACHE: `${hook}/usage.cache`,
    LIBCUDA_LOG_LEVEL: '1',
  });
  assert.deepEqual(
    response.container_responses[0]?.mounts.map((m) => `${m.host_path} -> ${m.container_path} ${m.read_only ? 'ro' : 'rw'}`),
    [
      `${hook}/containers/${uid}_main -> ${hook} rw`,
      `${hook}/libtessera.so -> ${hook}/libtessera.so ro`,
      `${hook}/limits/${uid}_main -> /etc/tessera ro`,
      '/tmp/vgpulock -> /tmp/vgpulock rw',
      `${hook}/ld.so.preload -> /etc/ld.so.preload ro`,
    ],
  );
  assert.match(readFileSync(join(hook, 'limits', `${uid}_main`, 'limits'), 'utf8'), /^CUDA_DEVICE_MEMORY_LIMIT_0=3000m$/m);
  assert.equal(pod('infer').metadata.annotations[POD_BIND_PHASE], 'success');
  assert.equal(pod('infer').metadata.annotations[POD_DEVICES_TO_ALLOCATE], ';');
  assert.equal(node().metadata.annotations?.[NODE_LOCK], undefined, 'the next pod may bind here');
});

test('an init container and two app containers each get their own entry, in the order the kubelet starts them', async () => {
  const gpu = (mem: string) => ({ limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': mem, 'nvidia.com/gpucores': '10' } });
  await schedule('multi', {
    initContainers: [{ name: 'warm', image: 'cuda', resources: gpu('1000') }],
    containers: [
      { name: 'app', image: 'cuda', resources: gpu('2000') },
      { name: 'side', image: 'cuda', resources: gpu('1500') },
    ],
  });
  const memories: string[] = [];
  for (let i = 0; i < 3; i++) {
    const response = await kubelet.allocate([['x::0']]);
    memories.push(response.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0 ?? '');
    assert.equal(pod('multi').metadata.annotations[POD_BIND_PHASE], i < 2 ? 'allocating' : 'success');
  }
  assert.deepEqual(memories, ['1000m', '2000m', '1500m']);
  assert.equal(node().metadata.annotations?.[NODE_LOCK], undefined);
});

test('a pod the scheduler never saw gets a clear refusal', async () => {
  api.store.create(PODS, 'default', { metadata: { name: 'direct' }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } });
  await assert.rejects(kubelet.allocate([['x::0']]), (e: unknown) => e instanceof CallError && e.code === 9 && /no binding pod found on node gpu-1/.test(e.details));
});

test('a GPU turning unhealthy is streamed to the kubelet and changes the register annotation', async () => {
  writeFileSync(devicesFile, mockDevices(false));
  await kubelet.until('unhealthy slots', () => kubelet.devices.filter((d) => d.health === 'Unhealthy').length === 10, 2000);
  await until('the annotation', () => decodeNodeRegister(node().metadata.annotations?.[NODE_NVIDIA_REGISTER] ?? '', 'NVIDIA')[1]?.healthy === false);
  publishAllocatable();
  writeFileSync(devicesFile, mockDevices(true));
  await kubelet.until('healthy again', () => kubelet.devices.every((d) => d.health === 'Healthy'), 2000);
});

test('the handshake is answered and a cordoned GPU is advertised unhealthy', async () => {
  annotateNode({ [NODE_HANDSHAKE]: 'Requesting_2026-11-27 10:00:00' });
  await until('the answer', () => (node().metadata.annotations?.[NODE_HANDSHAKE] ?? '').startsWith('Reported '));
  const first = decodeNodeRegister(node().metadata.annotations?.[NODE_NVIDIA_REGISTER] ?? '', 'NVIDIA')[0]?.id ?? '';
  annotateNode({ [NODE_DEVICE_CORDON]: first });
  await kubelet.until('cordoned slots', () => kubelet.devices.filter((d) => d.ID.startsWith(first) && d.health === 'Unhealthy').length === 10, 2000);
  annotateNode({ [NODE_DEVICE_CORDON]: null });
  await kubelet.until('uncordoned', () => kubelet.devices.every((d) => d.health === 'Healthy'), 2000);
});

test('a kubelet restart: the agent registers again within 5 s and keeps serving Allocate', async () => {
  const before = kubelet.registrations.length;
  const started = Date.now();
  await kubelet.restart();
  await kubelet.until('re-registration', () => kubelet.registrations.length === before + 1, 5000);
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
  await kubelet.until('the slots', () => kubelet.devices.length === 20);
  await schedule('after-restart', { containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '1000' } } }] });
  const response = await kubelet.allocate([['x::0']]);
  assert.equal(response.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0, '1000m');
});
