/**
 * The node monitor end to end: the agent runs against the in-memory API server with mock GPUs
 * whose usage the devices file sets, a container's accounting region is written where the
 * enforcement library keeps it, and `GET /metrics` on the agent's metrics port reports both under
 * HAMi's vGPUmonitor names, with exact values. Editing the file or the region changes the next
 * scrape.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { NODES, PODS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { startNodeAgent, type RunningNodeAgent } from '../../src/node-agent/agent.js';
import { mockUuid } from '../../src/node-agent/discovery/mock-format.js';
import { openBackend } from '../../src/node-agent/discovery/index.js';
import { writeRegion } from '../support/accounting-region.js';
import { FakeKubelet } from '../support/fake-kubelet.js';

const NODE = 'gpu-1';
const MIB = 1024 * 1024;
const GPU0 = mockUuid(NODE, 0);
const GPU1 = mockUuid(NODE, 1);
let api: ApiServer;
let agent: RunningNodeAgent;
let kubelet: FakeKubelet;
let root: string;
let hook: string;
let devicesFile: string;
let podUid: string;
const logs: string[] = [];

function devices(usedMiB: number, utilization: number): string {
  return [
    'devices:',
    '  - name: NVIDIA A10',
    '    memoryMiB: 24576',
    `    usage: { memoryUsedMiB: ${String(usedMiB)}, utilization: ${String(utilization)}, memoryUtilization: 12 }`,
    '  - name: NVIDIA A10',
    '    memoryMiB: 24576',
    '',
  ].join('\n');
}

async function scrape(): Promise<string> {
  assert.ok(agent.metricsUrl !== null);
  const response = await fetch(`${agent.metricsUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one series, by its exact label set; undefined when absent. */
function value(text: string, name: string, labels: string): string | undefined {
  const prefix = `${name}{${labels}} `;
  return text
    .split('\n')
    .find((line) => line.startsWith(prefix))
    ?.slice(prefix.length);
}

const host = (index: number, uuid: string): string =>
  `node="${NODE}",device_index="${String(index)}",device_uuid="${uuid}",device_type="NVIDIA-NVIDIA A10",zone="vGPU"`;
const ctr = (): string => `namespace="default",pod="trainer",container="main",vdevice_index="0",device_uuid="${GPU0}",zone="vGPU"`;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'na-metrics-'));
  hook = join(root, 'vgpu');
  const pluginDir = join(root, 'dp');
  mkdirSync(pluginDir);
  devicesFile = join(root, 'devices.yaml');
  writeFileSync(devicesFile, devices(1024, 35));
  api = await startApiServer();
  api.store.put(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
  const pod = api.store.create(PODS, 'default', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'trainer', namespace: 'default' },
    spec: { nodeName: NODE, containers: [{ name: 'main', image: 'cuda' }] },
  }) as { metadata: { uid: string } };
  podUid = pod.metadata.uid;
  kubelet = await FakeKubelet.start(pluginDir);
  agent = await startNodeAgent({
    kubeConfig: api.kubeConfig(),
    nodeName: NODE,
    backend: await openBackend({ devices: devicesFile, nodeName: NODE }),
    pluginDir,
    layout: { hookPath: hook, library: 'libtessera.so' },
    healthIntervalMs: 100,
    registerIntervalMs: 300,
    metrics: { host: '127.0.0.1', port: 0 },
    log: (line) => logs.push(line),
  });
});

after(async () => {
  const url = agent.metricsUrl ?? '';
  await agent.close();
  await assert.rejects(fetch(`${url}/metrics`), 'close() stops the metrics server');
  await kubelet.close();
  await api.close();
  rmSync(root, { recursive: true, force: true });
});

test('host metrics: memory in use and utilisation of every GPU, from the backend', async () => {
  const text = await scrape();
  assert.equal(value(text, 'hami_host_gpu_memory_used_bytes', host(0, GPU0)), String(1024 * MIB), text);
  assert.equal(value(text, 'hami_host_gpu_utilization_ratio', host(0, GPU0)), '35');
  assert.equal(
    value(text, 'hami_host_gpu_memory_controller_utilization_ratio', `device_index="0",device_uuid="${GPU0}",device_type="NVIDIA-NVIDIA A10",zone="vGPU"`),
    '12',
  );
  assert.equal(value(text, 'hami_host_gpu_memory_used_bytes', host(1, GPU1)), '0');
  assert.equal(value(text, 'hami_host_gpu_utilization_ratio', host(1, GPU1)), '0');
  assert.doesNotMatch(text, /hami_vgpu_memory_used_bytes\{/, 'no container has a region yet');

  writeFileSync(devicesFile, devices(2048, 90));
  const next = await scrape();
  assert.equal(value(next, 'hami_host_gpu_memory_used_bytes', host(0, GPU0)), String(2048 * MIB));
  assert.equal(value(next, 'hami_host_gpu_utilization_ratio', host(0, GPU0)), '90');
});

test("container metrics: the pod's region, named by namespace, pod and container", async () => {
  const lastKernel = Math.floor(Date.now() / 1000) - 30;
  await writeRegion(hook, podUid, 'main', {
    devices: [{ uuid: GPU0, limitBytes: 3000n * 1048576n, smLimit: 30 }],
    processes: [
      { pid: 11, used: [700n * 1048576n] },
      { pid: 12, used: [300n * 1048576n] },
    ],
    lastKernelTime: lastKernel,
  });
  await writeRegion(hook, 'not-a-pod-here', 'main', { devices: [{ uuid: GPU1 }] });
  const text = await scrape();
  assert.equal(value(text, 'hami_vgpu_memory_used_bytes', ctr()), String(1000 * MIB), text);
  assert.equal(value(text, 'hami_container_device_memory_bytes', ctr()), String(1000 * MIB));
  assert.equal(value(text, 'hami_vgpu_memory_limit_bytes', ctr()), String(3000 * MIB));
  assert.equal(value(text, 'hami_vgpu_memory_buffer_bytes', ctr()), String(1000 * MIB));
  assert.equal(value(text, 'hami_container_device_utilization_ratio', ctr()), '0');
  assert.equal(value(text, 'tessera_vgpu_sm_limit_ratio', ctr()), '30');
  const elapsed = Number(value(text, 'hami_container_last_kernel_elapsed_seconds', ctr()));
  assert.ok(elapsed >= 30 && elapsed <= 35, String(elapsed));
  assert.equal(text.split('\n').filter((line) => line.startsWith('hami_vgpu_memory_used_bytes{')).length, 1, 'the region of a pod not on the node is skipped');
  assert.ok(logs.some((line) => line.includes('not-a-pod-here_main') && line.includes('is not on this node')), logs.join('\n'));
});

test('the metrics port answers 404 elsewhere', async () => {
  const response = await fetch(`${agent.metricsUrl ?? ''}/healthz`);
  assert.equal(response.status, 404);
  await response.text();
});
