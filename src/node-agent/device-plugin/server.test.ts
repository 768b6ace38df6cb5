/**
 * The device plugin server against the fake kubelet, over real unix sockets: registration,
 * ListAndWatch streaming, the RPCs' mapping and errors, and re-registration after a kubelet restart.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';

import { CallError, FakeKubelet } from '../../../test/support/fake-kubelet.js';
import { AllocateRefusal, type ContainerAllocation, type DevicePluginHandlers, type PluginDevice } from './handlers.js';
import { DevicePluginServer } from './server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Handlers with a settable slot list and a scripted Allocate. */
function fakeHandlers(initial: PluginDevice[]) {
  let slots = initial;
  const listeners = new Set<() => void>();
  let allocate: (requests: readonly (readonly string[])[]) => Promise<readonly ContainerAllocation[]> = () => Promise.resolve([]);
  const handlers: DevicePluginHandlers = {
    devices: () => slots,
    onDevicesChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    preferredAllocationAvailable: true,
    preferredAllocation: (available, mustInclude, size) => [...mustInclude, ...available.filter((id) => !mustInclude.includes(id))].slice(0, size),
    allocate: (requests) => allocate(requests),
  };
  return {
    handlers,
    setSlots(next: PluginDevice[]) {
      slots = next;
      for (const l of listeners) l();
    },
    onAllocate(fn: typeof allocate) {
      allocate = fn;
    },
    listeners,
  };
}

async function setUp(options: { kubeletFirst?: boolean; slots?: PluginDevice[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dp-'));
  const fake = fakeHandlers(options.slots ?? [{ id: 'GPU-a::0', health: 'Healthy' }, { id: 'GPU-a::1', health: 'Healthy', numa: 1 }]);
  let kubelet: FakeKubelet | undefined = options.kubeletFirst === false ? undefined : await FakeKubelet.start(dir);
  const server = new DevicePluginServer({ pluginDir: dir, socketName: 'tessera.sock', resourceName: 'nvidia.com/gpu', handlers: fake.handlers, watchIntervalMs: 100, maxRetryMs: 200 });
  await server.start();
  cleanups.push(async () => {
    await server.stop();
    await kubelet?.close();
  });
  return {
    dir,
    fake,
    server,
    get kubelet(): FakeKubelet {
      assert.ok(kubelet);
      return kubelet;
    },
    async startKubelet() {
      kubelet = await FakeKubelet.start(dir);
      return kubelet;
    },
  };
}

test('registers with the kubelet: version, endpoint, resource and options', async () => {
  const { kubelet } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  assert.deepEqual(kubelet.registrations[0], {
    version: 'v1beta1',
    endpoint: 'tessera.sock',
    resource_name: 'nvidia.com/gpu',
    options: { pre_start_required: false, get_preferred_allocation_available: true },
  });
  assert.deepEqual(await kubelet.options(), { pre_start_required: false, get_preferred_allocation_available: true });
});

test('ListAndWatch sends the slots with NUMA topology, then every change', async () => {
  const { kubelet, fake } = await setUp();
  await kubelet.until('the first list', () => kubelet.devices.length === 2);
  assert.deepEqual(kubelet.devices, [
    { ID: 'GPU-a::0', health: 'Healthy', topology: null },
    { ID: 'GPU-a::1', health: 'Healthy', topology: { nodes: [{ ID: '1' }] } },
  ]);
  fake.setSlots([{ id: 'GPU-a::0', health: 'Unhealthy' }, { id: 'GPU-a::1', health: 'Healthy', numa: 1 }]);
  await kubelet.until('the unhealthy slot', () => kubelet.devices[0]?.health === 'Unhealthy', 1000);
});

test('Allocate maps envs, mounts, device specs, annotations and CDI names', async () => {
  const { kubelet, fake } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  const seen: (readonly (readonly string[])[])[] = [];
  fake.onAllocate((requests) => {
    seen.push(requests);
    return Promise.resolve([
      {
        envs: { NVIDIA_VISIBLE_DEVICES: 'GPU-a', CUDA_DEVICE_SM_LIMIT: '30' },
        mounts: [{ containerPath: '/etc/ld.so.preload', hostPath: '/usr/local/vgpu/ld.so.preload', readOnly: true }],
        devices: [{ containerPath: '/dev/nvidia0', hostPath: '/dev/nvidia0', permissions: 'rw' }],
        annotations: { 'tessera.io/x': 'y' },
        cdiDevices: ['nvidia.com/gpu=GPU-a'],
      },
    ]);
  });
  const response = await kubelet.allocate([['GPU-a::1']]);
  assert.deepEqual(seen, [[['GPU-a::1']]]);
  assert.deepEqual(response.container_responses, [
    {
      envs: { NVIDIA_VISIBLE_DEVICES: 'GPU-a', CUDA_DEVICE_SM_LIMIT: '30' },
      mounts: [{ container_path: '/etc/ld.so.preload', host_path: '/usr/local/vgpu/ld.so.preload', read_only: true }],
      devices: [{ container_path: '/dev/nvidia0', host_path: '/dev/nvidia0', permissions: 'rw' }],
      annotations: { 'tessera.io/x': 'y' },
      cdi_devices: [{ name: 'nvidia.com/gpu=GPU-a' }],
    },
  ]);
});

test('a refusal reaches the kubelet with its code and message; any other error as INTERNAL', async () => {
  const { kubelet, fake } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  fake.onAllocate(() => Promise.reject(new AllocateRefusal(9, 'no binding pod found on node n1')));
  await assert.rejects(kubelet.allocate([['GPU-a::0']]), (e: unknown) => e instanceof CallError && e.code === 9 && e.details === 'no binding pod found on node n1');
  fake.onAllocate(() => Promise.reject(new Error('disk full')));
  await assert.rejects(kubelet.allocate([['GPU-a::0']]), (e: unknown) => e instanceof CallError && e.code === 13 && /disk full/.test(e.details));
});

test('GetPreferredAllocation and PreStartContainer answer', async () => {
  const { kubelet } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  const preferred = await kubelet.preferredAllocation(['a', 'b', 'c'], ['c'], 2);
  assert.deepEqual(preferred.container_responses, [{ deviceIDs: ['c', 'a'] }]);
  assert.deepEqual(await kubelet.preStart(['a']), {});
});

test('a plugin started before the kubelet registers once the kubelet appears', async () => {
  const setup = await setUp({ kubeletFirst: false });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(setup.server.registrations, 0);
  const kubelet = await setup.startKubelet();
  await kubelet.until('registration', () => kubelet.registrations.length === 1, 5000);
  await kubelet.until('the list', () => kubelet.devices.length === 2);
});

test('a kubelet restart (sockets removed, kubelet.sock recreated) → registered again within 5 s, and the new stream works', async () => {
  const { kubelet, fake, dir } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  const started = Date.now();
  await kubelet.restart();
  assert.equal(existsSync(join(dir, 'tessera.sock')), false, 'the restart removed the plugin socket');
  await kubelet.until('re-registration', () => kubelet.registrations.length === 2, 5000);
  assert.ok(Date.now() - started < 5000);
  assert.ok(existsSync(join(dir, 'tessera.sock')));
  await kubelet.until('the list on the new stream', () => kubelet.devices.length === 2);
  fake.setSlots([{ id: 'GPU-a::0', health: 'Unhealthy' }]);
  await kubelet.until('a change on the new stream', () => kubelet.devices.length === 1);
});

test('stop ends the streams, removes the socket and leaves no listener behind', async () => {
  const { kubelet, fake, server, dir } = await setUp();
  await kubelet.until('the list', () => kubelet.devices.length === 2);
  assert.equal(fake.listeners.size, 1);
  await server.stop();
  assert.equal(existsSync(join(dir, 'tessera.sock')), false);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fake.listeners.size, 0);
});

test('a socket path longer than a unix socket allows is refused with the flags to change', () => {
  const long = `/tmp/${'x'.repeat(120)}`;
  assert.throws(
    () => new DevicePluginServer({ pluginDir: long, socketName: 'a.sock', resourceName: 'nvidia.com/gpu', handlers: fakeHandlers([]).handlers }),
    /longer than the 107 a unix socket allows; use a shorter --plugin-dir or --socket-name/,
  );
});
