import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildRegion, writeRegion } from '../../../test/support/accounting-region.js';
import { decodeAccountingRegion } from '../accounting-region.js';
import type { ContainerRegion } from './container-usage.js';
import { cachedPodLookup, containerSamples, hostGpuSamples, MONITOR_METRICS, NodeMonitor } from './metrics.js';
import { startMetricsServer } from './server.js';

const MIB = 1024 * 1024;
const UUID = ['GPU-00000000-0000-0000-0000-000000000000', 'GPU-11111111-1111-1111-1111-111111111111'] as const;

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tessera-monitor-metrics-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('hostGpuSamples', () => {
  test('three series per GPU with HAMi labels; the memory controller one has no node; nulls are left out', () => {
    const samples = hostGpuSamples(
      'gpu-1',
      [
        { uuid: UUID[0], index: 0, memoryUsedBytes: 1024 * MIB, utilizationPercent: 35, memoryUtilizationPercent: 10 },
        { uuid: UUID[1], index: 1, memoryUsedBytes: null, utilizationPercent: null, memoryUtilizationPercent: null },
      ],
      (uuid) => (uuid === UUID[0] ? 'NVIDIA-NVIDIA A10' : 'unknown'),
    );
    const labels = { device_index: '0', device_uuid: UUID[0], device_type: 'NVIDIA-NVIDIA A10' };
    assert.deepEqual(samples, [
      { name: 'hami_host_gpu_memory_used_bytes', labels: { node: 'gpu-1', ...labels }, value: 1024 * MIB },
      { name: 'hami_host_gpu_utilization_ratio', labels: { node: 'gpu-1', ...labels }, value: 35 },
      { name: 'hami_host_gpu_memory_controller_utilization_ratio', labels, value: 10 },
    ]);
  });
});

describe('containerSamples', () => {
  const region = (lastKernelTime: number): ContainerRegion => ({
    podUid: 'uid-a',
    namespace: 'ml',
    pod: 'trainer',
    container: 'main',
    file: '/x/usage.cache',
    region: decodeAccountingRegion(
      buildRegion({
        devices: [
          { uuid: UUID[0], limitBytes: 4096n * 1048576n, smLimit: 25 },
          { uuid: UUID[1] }, // whole GPU: no memory limit, no SM limit
        ],
        processes: [
          { pid: 41, used: [1024n * 1048576n, 0n], smUtil: [10, 0] },
          { pid: 57, used: [512n * 1048576n, 64n * 1048576n], smUtil: [7, 3] },
          { pid: 99, status: 0, used: [9999n * 1048576n, 0n] }, // exited: not counted
        ],
        lastKernelTime,
      }),
    ),
  });

  test('per container and device: memory, limit, parts, utilisation, last kernel age, SM share', () => {
    const samples = containerSamples([region(1_800_000_000)], new Date(1_800_000_042_500));
    const table = (vdevice: string): Record<string, number> =>
      Object.fromEntries(samples.filter((s) => s.labels.vdevice_index === vdevice).map((s) => [s.name, s.value]));
    assert.deepEqual(table('0'), {
      hami_vgpu_memory_used_bytes: 1536 * MIB,
      hami_vgpu_memory_limit_bytes: 4096 * MIB,
      hami_container_device_memory_bytes: 1536 * MIB,
      hami_vgpu_memory_context_bytes: 0,
      hami_vgpu_memory_module_bytes: 0,
      hami_vgpu_memory_buffer_bytes: 1536 * MIB,
      hami_container_device_utilization_ratio: 17,
      hami_container_last_kernel_elapsed_seconds: 42,
      tessera_vgpu_sm_limit_ratio: 25,
    });
    assert.equal(table('1').hami_vgpu_memory_limit_bytes, 0);
    assert.equal(table('1').tessera_vgpu_sm_limit_ratio, 100);
    assert.equal(table('1').hami_vgpu_memory_used_bytes, 64 * MIB);
    assert.deepEqual(samples[0]?.labels, { namespace: 'ml', pod: 'trainer', container: 'main', vdevice_index: '0', device_uuid: UUID[0] });
  });

  test('no kernel yet: the last-kernel age is left out', () => {
    const names = containerSamples([region(0)], new Date()).map((s) => s.name);
    assert.equal(names.includes(MONITOR_METRICS.containerLastKernel.name), false);
    assert.equal(names.length, 2 * 8);
  });
});

describe('NodeMonitor', () => {
  test('one scrape: host and container series in the text exposition, with zone="vGPU"', async () => {
    const hook = join(scratch, 'hook-1');
    await writeRegion(hook, 'uid-a', 'main', { devices: [{ uuid: UUID[0], limitBytes: 2048n * 1048576n }], processes: [{ pid: 3, used: [100n * 1048576n] }] });
    const monitor = new NodeMonitor({
      nodeName: 'gpu-1',
      hookPath: hook,
      usage: () => Promise.resolve([{ uuid: UUID[0], index: 0, memoryUsedBytes: 5 * MIB, utilizationPercent: 50, memoryUtilizationPercent: 5 }]),
      deviceTypes: () => new Map([[UUID[0], 'NVIDIA-NVIDIA A10']]),
      pods: () => Promise.resolve((uid) => (uid === 'uid-a' ? { namespace: 'ml', name: 'trainer' } : undefined)),
    });
    const text = await monitor.metrics();
    const host = `node="gpu-1",device_index="0",device_uuid="${UUID[0]}",device_type="NVIDIA-NVIDIA A10",zone="vGPU"`;
    const ctr = `namespace="ml",pod="trainer",container="main",vdevice_index="0",device_uuid="${UUID[0]}",zone="vGPU"`;
    assert.ok(text.includes(`hami_host_gpu_memory_used_bytes{${host}} ${String(5 * MIB)}\n`), text);
    assert.ok(text.includes(`hami_host_gpu_utilization_ratio{${host}} 50\n`), text);
    assert.ok(text.includes(`hami_host_gpu_memory_controller_utilization_ratio{device_index="0",device_uuid="${UUID[0]}",device_type="NVIDIA-NVIDIA A10",zone="vGPU"} 5\n`), text);
    assert.ok(text.includes(`hami_vgpu_memory_used_bytes{${ctr}} ${String(100 * MIB)}\n`), text);
    assert.ok(text.includes(`hami_vgpu_memory_limit_bytes{${ctr}} ${String(2048 * MIB)}\n`), text);
    assert.ok(text.includes('# TYPE tessera_vgpu_sm_limit_ratio gauge\n'), text);
    assert.match(monitor.contentType, /^text\/plain/);
  });

  test('a failing backend or pod list leaves its part out, is logged once, and the next scrape recovers', async () => {
    const hook = join(scratch, 'hook-2');
    await writeRegion(hook, 'uid-a', 'main', { devices: [{ uuid: UUID[0] }] });
    const logs: string[] = [];
    let failing = true;
    const monitor = new NodeMonitor({
      nodeName: 'gpu-1',
      hookPath: hook,
      usage: () => (failing ? Promise.reject(new Error('nvmlDeviceGetMemoryInfo failed')) : Promise.resolve([])),
      deviceTypes: () => new Map(),
      pods: () => (failing ? Promise.reject(new Error('connection refused')) : Promise.resolve(() => ({ namespace: 'a', name: 'b' }))),
      log: (line) => logs.push(line),
    });
    for (let i = 0; i < 3; i++) {
      const text = await monitor.metrics();
      assert.doesNotMatch(text, /hami_vgpu_memory_used_bytes\{/);
    }
    assert.deepEqual(logs, [
      'node-agent: metrics: device usage: nvmlDeviceGetMemoryInfo failed; host metrics left out',
      'node-agent: metrics: cannot list the pods on gpu-1: connection refused; container metrics left out',
    ]);
    failing = false;
    assert.match(await monitor.metrics(), /hami_vgpu_memory_used_bytes\{namespace="a",pod="b"/);
  });
});

test('cachedPodLookup lists the pods once per TTL', async () => {
  let now = 0;
  let lists = 0;
  const pods = cachedPodLookup(
    () => {
      lists++;
      return Promise.resolve([{ metadata: { uid: 'u1', namespace: 'ml', name: 'a' } }, { metadata: {} }]);
    },
    5000,
    () => now,
  );
  assert.deepEqual((await pods())('u1'), { namespace: 'ml', name: 'a' });
  assert.equal((await pods())('u2'), undefined);
  now = 4999;
  await pods();
  assert.equal(lists, 1);
  now = 5000;
  await pods();
  assert.equal(lists, 2);
});

test('the server: GET /metrics renders, other paths 404, other methods 405, a render failure 500', async () => {
  let fail = false;
  const logs: string[] = [];
  const server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    render: () => (fail ? Promise.reject(new Error('boom')) : Promise.resolve('x 1\n')),
    log: (line) => logs.push(line),
  });
  try {
    const ok = await fetch(`${server.url}/metrics`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await ok.text(), 'x 1\n');
    assert.equal((await fetch(`${server.url}/metrics?debug=1`)).status, 200);
    const missing = await fetch(`${server.url}/`);
    assert.equal(missing.status, 404);
    await missing.text();
    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.text();
    fail = true;
    const failed = await fetch(`${server.url}/metrics`);
    assert.equal(failed.status, 500);
    assert.match(await failed.text(), /cannot render metrics: boom/);
    assert.deepEqual(logs, ['node-agent: metrics: boom']);
  } finally {
    await server.close();
  }
});
