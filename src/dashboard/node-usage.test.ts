import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';

import { NodeUsageScraper, parseMonitorText } from './node-usage.js';

const MIB = 2 ** 20;
const TEXT = `# HELP hami_host_gpu_memory_used_bytes Device memory in use
# TYPE hami_host_gpu_memory_used_bytes gauge
hami_host_gpu_memory_used_bytes{node="n1",device_index="0",device_uuid="GPU-a",device_type="NVIDIA-T4"} ${String(2048 * MIB)}
hami_host_gpu_memory_used_bytes{node="n1",device_index="1",device_uuid="GPU-b",device_type="NVIDIA-T4"} 0
hami_host_gpu_utilization_ratio{node="n1",device_index="0",device_uuid="GPU-a",device_type="NVIDIA-T4"} 37
hami_vgpu_memory_used_bytes{namespace="ml",pod="train \\"x\\"",container="main",vdevice_index="0",device_uuid="GPU-a"} ${String(1024 * MIB)}
hami_vgpu_memory_used_bytes{namespace="ml",pod="train \\"x\\"",container="side",vdevice_index="0",device_uuid="GPU-a"} ${String(512 * MIB)}
hami_vgpu_memory_used_bytes{namespace="ml",pod="broken",container="main",vdevice_index="0",device_uuid="GPU-a"} NaNx
hami_vgpu_memory_limit_bytes{namespace="ml",pod="train",container="main",vdevice_index="0",device_uuid="GPU-a"} 4096
hami_host_gpu_utilization_ratio{node="n1",device_index="9"} 5
`;

test('parseMonitorText keeps memory and utilisation per GPU and memory per pod and GPU', () => {
  const usage = parseMonitorText(TEXT);
  assert.deepEqual(Object.fromEntries(usage.devices), {
    'GPU-a': { memoryUsedMiB: 2048, utilization: 37 },
    'GPU-b': { memoryUsedMiB: 0, utilization: 0 },
  });
  assert.deepEqual(Object.fromEntries(usage.containers), { 'ml/train "x"/GPU-a': 1536 }, 'containers summed; a bad value and other families passed over');
});

test('the scraper reads each advertised monitor and reports one that does not answer', async (t) => {
  const server = createServer((_, response) => response.end(TEXT));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const targets = [
    { node: 'n1', url: `http://127.0.0.1:${String(port)}/metrics` },
    { node: 'n2', url: `http://127.0.0.1:${String(closedPort)}/metrics` },
  ];
  const scraper = new NodeUsageScraper({ targets: () => targets });
  await scraper.scrapeAll();
  assert.equal(scraper.get('n1')?.problem, null);
  assert.equal(scraper.get('n1')?.devices.get('GPU-a')?.utilization, 37);
  assert.equal(scraper.get('n2')?.problem, `monitor http://127.0.0.1:${String(closedPort)}/metrics unreachable (ECONNREFUSED)`);
  targets.pop();
  await scraper.scrapeAll();
  assert.equal(scraper.get('n2'), undefined, 'a node no longer advertised is forgotten');
});

test('while nobody needs the usage no monitor is read, and what was read is forgotten', async (t) => {
  let requests = 0;
  const server = createServer((_, response) => {
    requests++;
    response.end(TEXT);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/metrics`;
  let watched = false;
  const scraper = new NodeUsageScraper({ targets: () => [{ node: 'n1', url }], intervalMs: 50, active: () => watched });
  t.after(async () => {
    await scraper.stop();
    server.close();
  });
  const until = async (what: string, condition: () => boolean): Promise<void> => {
    const end = Date.now() + 5000;
    while (!condition()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  scraper.start();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(requests, 0, 'not watched: nothing read');
  watched = true;
  await until('the usage to be read once watched', () => scraper.get('n1')?.devices.get('GPU-a')?.utilization === 37);
  watched = false;
  await until('the usage to be forgotten', () => scraper.get('n1') === undefined);
  const after = requests;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(requests, after, 'and no more reads');
});
