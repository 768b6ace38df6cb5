/**
 * Allocate against the in-memory API server: the pod is found through the node lock (or HAMi's
 * fallback search), each container gets exactly its granted share, the pod is updated and the lock
 * released; every failure leaves the pod failed, the lock released and no files behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';

import { NODES, PODS, startApiServer, type ApiServer } from '../../apiserver/index.js';
import { DEFAULT_DEVICE_CONFIG, nodeSettings } from '../../config/device-config.js';
import { NODE_LOCK, POD_BIND_PHASE, POD_BIND_TIME, POD_DEVICES_ALLOCATED, POD_DEVICES_TO_ALLOCATE, POD_NODE } from '../../core/annotations.js';
import { encodeNodeLock, encodePodGrants } from '../../core/codec/index.js';
import type { Device, DeviceGrant, PodGrants } from '../../core/device.js';
import { gpu } from '../../core/testing/builders.js';
import { createKubeClient } from '../../k8s/client.js';
import { NodeLocker } from '../../k8s/node-lock.js';
import { AllocateRefusal } from '../device-plugin/handlers.js';
import { Allocator, GRPC } from './allocator.js';
import type { CdiOptions } from './cdi.js';

const NODE = 'gpu-1';
const DEVICES: readonly Device[] = [gpu('GPU-a', { index: 0, memoryMiB: 24576 }), gpu('GPU-b', { index: 1, memoryMiB: 24576 })];
const BY_ID = new Map(DEVICES.map((d) => [d.id, d]));

let api: ApiServer;
let dir: string;

function share(id: string, memoryMiB: number, cores: number): DeviceGrant {
  return { id, vendor: 'NVIDIA', memoryMiB, cores };
}

interface Container {
  name: string;
  env?: { name: string; value: string }[];
  resources?: { limits: Record<string, string> };
}

/** Puts a pod as the scheduler leaves it after Filter and Bind, holding the node lock unless told not to. */
function boundPod(name: string, grants: PodGrants, options: { init?: Container[]; containers?: Container[]; lock?: boolean; bindTime?: number } = {}): string {
  const text = encodePodGrants(grants);
  const containers = options.containers ?? [{ name: 'main' }];
  api.store.put(PODS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      annotations: {
        [POD_NODE]: NODE,
        [POD_DEVICES_TO_ALLOCATE]: text,
        [POD_DEVICES_ALLOCATED]: text,
        [POD_BIND_PHASE]: 'allocating',
        [POD_BIND_TIME]: String(options.bindTime ?? 1_800_000_000),
      },
    },
    spec: {
      nodeName: NODE,
      ...(options.init && { initContainers: options.init.map((c) => ({ image: 'busybox', ...c })) }),
      containers: containers.map((c) => ({ image: 'cuda', ...c })),
    },
    status: { phase: 'Pending' },
  });
  if (options.lock ?? true) {
    const node = api.store.get(NODES, '', NODE) as { metadata: { annotations?: Record<string, string> } };
    api.store.put(NODES, { ...node, metadata: { ...node.metadata, annotations: { ...node.metadata.annotations, [NODE_LOCK]: encodeNodeLock(new Date(), 'default', name) } } });
  }
  return (api.store.get(PODS, 'default', name) as { metadata: { uid: string } }).metadata.uid;
}

function stored(name: string): Record<string, string> {
  return (api.store.get(PODS, 'default', name) as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
}

function nodeLock(): string | undefined {
  return (api.store.get(NODES, '', NODE) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[NODE_LOCK];
}

function allocator(cdi?: CdiOptions): Allocator {
  const client = createKubeClient(api.kubeConfig());
  return new Allocator({
    client,
    locker: new NodeLocker(client),
    nodeName: NODE,
    devices: () => BY_ID,
    settings: () => nodeSettings(DEFAULT_DEVICE_CONFIG, NODE),
    nvidia: DEFAULT_DEVICE_CONFIG.nvidia,
    layout: { hookPath: join(dir, 'vgpu'), library: 'libtessera.so' },
    ...(cdi && { cdi }),
  });
}

async function refusal(promise: Promise<unknown>): Promise<AllocateRefusal> {
  const error = await promise.then(
    () => assert.fail('Allocate should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AllocateRefusal, String(error));
  return error;
}

before(async () => {
  api = await startApiServer();
});

after(async () => {
  await api.close();
});

beforeEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'alloc-'));
  for (const pod of api.store.list(PODS).items) api.store.delete(PODS, 'default', (pod as { metadata: { name: string } }).metadata.name);
  api.store.put(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
});

test('one container gets its env, mounts and limits file; the pod is marked success and the lock released', async () => {
  const uid = boundPod('infer', [[share('GPU-b', 3000, 30)]]);
  const [answer, ...rest] = await allocator().allocate([['GPU-a::3']]);
  assert.equal(rest.length, 0);
  const hook = join(dir, 'vgpu');
  assert.deepEqual(answer?.envs, {
    NVIDIA_VISIBLE_DEVICES: 'GPU-b',
    CUDA_DEVICE_MEMORY_LIMIT_0: '3000m',
    CUDA_DEVICE_SM_LIMIT: '30',
    CUDA_DEVICE_MEMORY_SHARED_CACHE: `${hook}/usage.cache`,
    LIBCUDA_LOG_LEVEL: '1',
  });
  assert.deepEqual(answer?.mounts, [
    { containerPath: hook, hostPath: `${hook}/containers/${uid}_main`, readOnly: false },
    { containerPath: `${hook}/libtessera.so`, hostPath: `${hook}/libtessera.so`, readOnly: true },
    { containerPath: '/etc/tessera', hostPath: `${hook}/limits/${uid}_main`, readOnly: true },
    { containerPath: '/tmp/vgpulock', hostPath: '/tmp/vgpulock', readOnly: false },
    { containerPath: '/etc/ld.so.preload', hostPath: `${hook}/ld.so.preload`, readOnly: true },
  ]);
  assert.deepEqual(answer?.cdiDevices, []);
  const limits = readFileSync(`${hook}/limits/${uid}_main/limits`, 'utf8');
  assert.match(limits, /^CUDA_DEVICE_MEMORY_LIMIT_0=3000m$/m);
  assert.match(limits, /^CUDA_DEVICE_SM_LIMIT=30$/m);
  assert.ok(existsSync(`${hook}/containers/${uid}_main`));
  assert.equal(stored('infer')[POD_DEVICES_TO_ALLOCATE], ';');
  assert.equal(stored('infer')[POD_BIND_PHASE], 'success');
  assert.equal(stored('infer')[POD_DEVICES_ALLOCATED], 'GPU-b,NVIDIA,3000,30:;', 'the decision of record is kept');
  assert.equal(nodeLock(), undefined);
});

test('an init container and two app containers are served in order; the lock is released after the last', async () => {
  boundPod('train', [[share('GPU-a', 1000, 10)], [], [share('GPU-a', 24576, 100), share('GPU-b', 24576, 100)], [share('GPU-b', 2000, 0)]], {
    init: [{ name: 'warmup' }, { name: 'fetch' }],
    containers: [{ name: 'trainer', resources: { limits: { 'nvidia.com/priority': '0' } } }, { name: 'sidecar' }],
  });
  const agent = allocator();
  const [init] = await agent.allocate([['x::0']]);
  assert.equal(init?.envs.NVIDIA_VISIBLE_DEVICES, 'GPU-a');
  assert.equal(stored('train')[POD_BIND_PHASE], 'allocating');
  assert.ok(nodeLock() !== undefined, 'still locked while containers are left');
  const [trainer, sidecar] = await agent.allocate([['a::0', 'b::0'], ['b::1']]);
  assert.equal(trainer?.envs.NVIDIA_VISIBLE_DEVICES, 'GPU-a,GPU-b');
  assert.equal(trainer?.envs.CUDA_DEVICE_MEMORY_LIMIT_1, '24576m');
  assert.equal(trainer?.envs.CUDA_TASK_PRIORITY, '0');
  assert.equal(sidecar?.envs.CUDA_DEVICE_SM_LIMIT, '0', 'a memory-only share is not throttled');
  assert.ok(sidecar?.mounts.some((m) => m.hostPath.endsWith('_sidecar')));
  assert.equal(stored('train')[POD_DEVICES_TO_ALLOCATE], ';;;;');
  assert.equal(stored('train')[POD_BIND_PHASE], 'success');
  assert.equal(nodeLock(), undefined);
});

test('a malformed decision fails the pod with the field named, releases the lock and writes nothing', async () => {
  boundPod('bad', [[share('GPU-a', 1000, 10)]]);
  const pod = api.store.get(PODS, 'default', 'bad') as { metadata: { annotations: Record<string, string> } };
  pod.metadata.annotations[POD_DEVICES_TO_ALLOCATE] = 'GPU-a,NVIDIA,lots,10:;';
  api.store.put(PODS, pod);
  const error = await refusal(allocator().allocate([['GPU-a::0']]));
  assert.equal(error.code, GRPC.INVALID_ARGUMENT);
  assert.match(error.message, /default\/bad.*hami\.io\/vgpu-devices-to-allocate\[0\]\[0\]\.usedmem/);
  assert.equal(stored('bad')[POD_BIND_PHASE], 'failed');
  assert.equal(nodeLock(), undefined);
  assert.equal(existsSync(join(dir, 'vgpu', 'limits')), false);
});

test('a pod the scheduler never saw gets a clear refusal and nothing changes', async () => {
  api.store.put(PODS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', namespace: 'default' }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'cuda' }] } });
  const error = await refusal(allocator().allocate([['GPU-a::0']]));
  assert.equal(error.code, GRPC.FAILED_PRECONDITION);
  assert.match(error.message, /no binding pod found on node gpu-1.*spec\.nodeName/);
  assert.equal((api.store.get(PODS, 'default', 'stray') as { metadata: { annotations?: unknown } }).metadata.annotations, undefined);
});

test('a request whose device count differs from the decision is refused; files of containers served in the same call are removed', async () => {
  const uid = boundPod('two', [[share('GPU-a', 1000, 10)], [share('GPU-a', 1000, 10), share('GPU-b', 1000, 10)]], { containers: [{ name: 'one' }, { name: 'two' }] });
  const error = await refusal(allocator().allocate([['a::0'], ['a::1']]));
  assert.equal(error.code, GRPC.INVALID_ARGUMENT);
  assert.match(error.message, /container two: device number not matched: the scheduler granted 2 device\(s\), the kubelet allocates 1/);
  assert.equal(existsSync(join(dir, 'vgpu', 'containers', `${uid}_one`)), false);
  assert.equal(existsSync(join(dir, 'vgpu', 'limits', `${uid}_one`)), false);
  assert.equal(stored('two')[POD_BIND_PHASE], 'failed');
  assert.equal(nodeLock(), undefined);
});

test('a decision naming a device this node does not have is refused', async () => {
  boundPod('elsewhere', [[share('GPU-zz', 1000, 10)]]);
  const error = await refusal(allocator().allocate([['a::0']]));
  assert.equal(error.code, GRPC.FAILED_PRECONDITION);
  assert.match(error.message, /GPU-zz is not registered on node gpu-1/);
});

test('without a lock naming it, the earliest bound waiting pod on the node is found', async () => {
  boundPod('later', [[share('GPU-a', 500, 5)]], { lock: false, bindTime: 1_800_000_100 });
  boundPod('earlier', [[share('GPU-b', 700, 7)]], { lock: false, bindTime: 1_800_000_050 });
  const [answer] = await allocator().allocate([['a::0']]);
  assert.equal(answer?.envs.NVIDIA_VISIBLE_DEVICES, 'GPU-b');
  assert.equal(stored('earlier')[POD_BIND_PHASE], 'success');
  assert.equal(stored('later')[POD_BIND_PHASE], 'allocating');
});

test('CDI mode answers CDI names and writes the spec with the same edits', async () => {
  const cdiDir = join(dir, 'cdi');
  const uid = boundPod('cdi', [[share('GPU-a', 4096, 25)]]);
  const [answer] = await allocator({ dir: cdiDir, gpuKind: 'nvidia.com/gpu' }).allocate([['a::0']]);
  assert.deepEqual(answer?.envs, {});
  assert.deepEqual(answer?.mounts, []);
  assert.deepEqual(answer?.cdiDevices, ['nvidia.com/gpu=GPU-a', `tessera.io/vgpu=${uid}_main`]);
  const spec = JSON.parse(readFileSync(join(cdiDir, `tessera.io-vgpu_${uid}_main.json`), 'utf8')) as {
    cdiVersion: string;
    kind: string;
    devices: { name: string; containerEdits: { env: string[]; mounts: { containerPath: string; options: string[] }[] } }[];
  };
  assert.equal(spec.kind, 'tessera.io/vgpu');
  assert.equal(spec.devices[0]?.name, `${uid}_main`);
  assert.ok(spec.devices[0]?.containerEdits.env.includes('CUDA_DEVICE_MEMORY_LIMIT_0=4096m'));
  assert.deepEqual(spec.devices[0]?.containerEdits.mounts.find((m) => m.containerPath === '/etc/ld.so.preload')?.options, ['ro', 'nosuid', 'nodev', 'bind']);
});

test('CUDA_DISABLE_CONTROL skips the preload only for a container holding whole GPUs', async () => {
  const off = [{ name: 'CUDA_DISABLE_CONTROL', value: 'true' }];
  boundPod('whole', [[share('GPU-a', 24576, 100)]], { containers: [{ name: 'main', env: off }] });
  const [whole] = await allocator().allocate([['a::0']]);
  assert.equal(whole?.mounts.some((m) => m.containerPath === '/etc/ld.so.preload'), false);
  boundPod('shared', [[share('GPU-b', 2048, 20)]], { containers: [{ name: 'main', env: off }] });
  const [shared] = await allocator().allocate([['b::0']]);
  assert.equal(shared?.mounts.some((m) => m.containerPath === '/etc/ld.so.preload'), true);
});

test('a bad priority value fails the pod naming the resource and the value', async () => {
  boundPod('prio', [[share('GPU-a', 1000, 10)]], { containers: [{ name: 'main', resources: { limits: { 'nvidia.com/priority': 'high' } } }] });
  const error = await refusal(allocator().allocate([['a::0']]));
  assert.match(error.message, /container main: nvidia\.com\/priority must be a whole number .*"high"/);
  assert.equal(stored('prio')[POD_BIND_PHASE], 'failed');
});
