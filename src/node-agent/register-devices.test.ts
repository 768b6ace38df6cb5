import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_DEVICE_CONFIG, nodeSettings, parseDeviceConfig } from '../config/device-config.js';
import type { DiscoveredDevice, DiscoveredInventory } from './discovery/backend.js';
import { nvidiaType, registerDevices } from './register-devices.js';

function gpu(index: number, extra: Partial<DiscoveredDevice> = {}): DiscoveredDevice {
  return {
    uuid: `GPU-0000000${index}-aaaa-bbbb-cccc-dddddddddddd`,
    index,
    vendor: 'NVIDIA',
    name: 'NVIDIA A100-SXM4-80GB',
    memoryMiB: 81920,
    pciBusId: `00000000:1${index}:00.0`,
    numa: index < 2 ? 0 : 1,
    healthy: true,
    migEnabled: false,
    ...extra,
  };
}

const defaults = nodeSettings(DEFAULT_DEVICE_CONFIG, 'n1');

test('type carries the NVIDIA- prefix even when the NVML name starts with NVIDIA, as real HAMi nodes show', () => {
  assert.equal(nvidiaType('NVIDIA H20-3e'), 'NVIDIA-NVIDIA H20-3e');
  assert.equal(nvidiaType('Tesla V100-PCIE-32GB'), 'NVIDIA-Tesla V100-PCIE-32GB');
  assert.equal(nvidiaType('NVIDIA-Tesla T4'), 'NVIDIA-Tesla T4');
});

test('devices register with split count, scaled memory and cores, NUMA and health', () => {
  const config = parseDeviceConfig(
    'nvidia:\n  deviceSplitCount: 4\n  deviceMemoryScaling: 1.5\n  deviceCoreScaling: 2\nnodeconfig:\n  - name: n1\n    devicememoryscaling: 0.5\n',
  );
  const inventory: DiscoveredInventory = { devices: [gpu(0), gpu(1, { healthy: false, healthReason: 'XID 79' })], links: [] };
  const result = registerDevices(inventory, nodeSettings(config, 'n1'));
  assert.deepEqual(
    result.devices.map((d) => [d.id.slice(0, 12), d.index, d.type, d.memoryMiB, d.cores, d.splitCount, d.numa, d.healthy, d.mode]),
    [
      ['GPU-00000000', 0, 'NVIDIA-NVIDIA A100-SXM4-80GB', 40960, 200, 4, 0, true, 'hami-core'],
      ['GPU-00000001', 1, 'NVIDIA-NVIDIA A100-SXM4-80GB', 40960, 200, 4, 0, false, 'hami-core'],
    ],
  );
  assert.match(result.problems.join('\n'), /device 1 .* unhealthy: XID 79/);
});

test('filterdevices hides GPUs by UUID and by index; links to hidden GPUs go too', () => {
  const config = parseDeviceConfig(
    `nvidia: {}\nnodeconfig:\n  - name: n1\n    filterdevices:\n      uuid: ["${gpu(0).uuid}"]\n      index: [2]\n`,
  );
  const inventory: DiscoveredInventory = {
    devices: [gpu(0), gpu(1), gpu(2), gpu(3)],
    links: [
      { a: gpu(0).uuid, b: gpu(1).uuid, nvlinks: 12, pcie: 'same-board' },
      { a: gpu(1).uuid, b: gpu(3).uuid, nvlinks: 0, pcie: 'cross-cpu' },
    ],
  };
  const result = registerDevices(inventory, nodeSettings(config, 'n1'));
  assert.deepEqual(result.devices.map((d) => d.index), [1, 3]);
  assert.deepEqual(result.links, [
    { from: gpu(1).uuid, to: gpu(3).uuid, score: 10 },
    { from: gpu(3).uuid, to: gpu(1).uuid, score: 10 },
  ]);
});

test('pair score is the PCIe relation plus 100 per NVLink, capped at 18 links', () => {
  const devices = [gpu(0), gpu(1), gpu(2)];
  const links = [
    { a: gpu(0).uuid, b: gpu(1).uuid, nvlinks: 12, pcie: 'same-cpu' as const },
    { a: gpu(0).uuid, b: gpu(2).uuid, nvlinks: 30, pcie: 'single-switch' as const },
    { a: gpu(1).uuid, b: gpu(2).uuid, nvlinks: 0, pcie: 'host-bridge' as const },
  ];
  const scores = registerDevices({ devices, links }, defaults).links.filter((l) => l.from < l.to).map((l) => l.score);
  assert.deepEqual(scores, [1220, 1850, 30]);
});

test('memory NVML cannot report uses preConfiguredDeviceMemory, or leaves the device out with a reason', () => {
  const inventory: DiscoveredInventory = { devices: [gpu(0, { memoryMiB: null, name: 'NVIDIA GB10' })], links: [] };
  const without = registerDevices(inventory, defaults);
  assert.equal(without.devices.length, 0);
  assert.match(without.problems[0] ?? '', /reports no memory size .* preConfiguredDeviceMemory/);
  const config = parseDeviceConfig('nvidia:\n  preConfiguredDeviceMemory: 119000\n');
  assert.equal(registerDevices(inventory, nodeSettings(config, 'n1')).devices[0]?.memoryMiB, 119000);
});

test('MIG-enabled GPUs and MIG operating mode are refused with a way out, not registered as shares', () => {
  const mig = registerDevices({ devices: [gpu(0, { migEnabled: true }), gpu(1)], links: [] }, defaults);
  assert.deepEqual(mig.devices.map((d) => d.index), [1]);
  assert.match(mig.problems[0] ?? '', /MIG mode enabled.*Disable MIG/);
  const config = parseDeviceConfig('nvidia: {}\nnodeconfig:\n  - name: n1\n    operatingmode: mig\n');
  const node = registerDevices({ devices: [gpu(0)], links: [] }, nodeSettings(config, 'n1'));
  assert.equal(node.devices.length, 0);
  assert.match(node.problems[0] ?? '', /operatingmode "mig"/);
});
