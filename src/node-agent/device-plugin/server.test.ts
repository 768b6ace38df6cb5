/**
 * The device plugin server against the fake kubelet, over real unix sockets: registration,
 * ListAndWatch streaming, the RPCs' mapping and errors, and re-registration after a kubelet restart.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { afterEach, test } from 'node:test';

import { loadSync } from '@grpc/proto-loader';

import { CallError, FakeKubelet } from '../../../test/support/fake-kubelet.js';
import { AllocateRefusal, type ContainerAllocation, type DevicePluginHandlers, type PluginDevice } from './handlers.js';
import { devicePluginProtoPath } from './proto.js';
import { DevicePluginServer } from './server.js';

/** A hung socket fails its test instead of the whole run. */
const LIMIT = { timeout: 10_000 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Polls `condition` every 10 ms; fails the test after `timeoutMs`. */
async function eventually(what: string, condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const EMPTY: ContainerAllocation = { envs: {}, mounts: [], devices: [], annotations: {}, cdiDevices: [] };

/** Handlers with a settable slot list and a scripted Allocate (by default one empty answer per container). */
function fakeHandlers(initial: PluginDevice[]) {
  let slots = initial;
  const listeners = new Set<() => void>();
  let allocate: (requests: readonly (readonly string[])[]) => Promise<readonly ContainerAllocation[]> = (requests) => Promise.resolve(requests.map(() => EMPTY));
  let devices = (): readonly PluginDevice[] => slots;
  let preferred = (available: readonly string[], mustInclude: readonly string[], size: number): readonly string[] =>
    [...mustInclude, ...available.filter((id) => !mustInclude.includes(id))].slice(0, size);
  const handlers: DevicePluginHandlers = {
    devices: () => devices(),
    onDevicesChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    preferredAllocationAvailable: true,
    preferredAllocation: (available, mustInclude, size) => preferred(available, mustInclude, size),
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
    onDevices(fn: typeof devices) {
      devices = fn;
    },
    onPreferred(fn: typeof preferred) {
      preferred = fn;
    },
    listeners,
  };
}

async function setUp(options: { kubeletFirst?: boolean; slots?: PluginDevice[]; resourceName?: string; beforeStart?: (dir: string) => void } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dp-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const fake = fakeHandlers(options.slots ?? [{ id: 'GPU-a::0', health: 'Healthy' }, { id: 'GPU-a::1', health: 'Healthy', numa: 1 }]);
  let kubelet: FakeKubelet | undefined = options.kubeletFirst === false ? undefined : await FakeKubelet.start(dir);
  const logs: string[] = [];
  options.beforeStart?.(dir);
  const server = new DevicePluginServer({
    pluginDir: dir,
    socketName: 'tessera.sock',
    resourceName: options.resourceName ?? 'nvidia.com/gpu',
    handlers: fake.handlers,
    log: (line) => logs.push(line),
    watchIntervalMs: 100,
    maxRetryMs: 200,
  });
  await server.start();
  cleanups.push(async () => {
    await server.stop();
    await kubelet?.close();
  });
  return {
    dir,
    fake,
    server,
    logs,
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

test('registers with the kubelet: version, endpoint, resource and options', LIMIT, async () => {
  const { kubelet } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  assert.deepEqual(kubelet.registrations[0], {
    version: 'v1beta1',
    endpoint: 'tessera.sock',
    resource_name: 'nvidia.com/gpu',
    options: { pre_start_required: false, get_preferred_allocation_available: true },
  });
  assert.deepEqual(await kubelet.getOptions(), { pre_start_required: false, get_preferred_allocation_available: true });
});

test('ListAndWatch sends the slots with NUMA topology, then every change', LIMIT, async () => {
  const { kubelet, fake } = await setUp();
  await kubelet.until('the first list', () => kubelet.devices.length === 2);
  assert.deepEqual(kubelet.devices, [
    { ID: 'GPU-a::0', health: 'Healthy', topology: null },
    { ID: 'GPU-a::1', health: 'Healthy', topology: { nodes: [{ ID: '1' }] } },
  ]);
  fake.setSlots([{ id: 'GPU-a::0', health: 'Unhealthy' }, { id: 'GPU-a::1', health: 'Healthy', numa: 1 }]);
  const started = performance.now();
  await kubelet.waitForDevices((devices) => devices[0]?.health === 'Unhealthy', 1000);
  assert.ok(performance.now() - started < 1000);
});

test('Allocate maps envs, mounts, device specs, annotations and CDI names', LIMIT, async () => {
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

test('a refusal reaches the kubelet with its code and message; any other error as INTERNAL', LIMIT, async () => {
  const { kubelet, fake } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  fake.onAllocate(() => Promise.reject(new AllocateRefusal(9, 'no binding pod found on node n1')));
  await assert.rejects(kubelet.allocate([['GPU-a::0']]), (e: unknown) => e instanceof CallError && e.code === 9 && e.details === 'no binding pod found on node n1');
  fake.onAllocate(() => Promise.reject(new Error('disk full')));
  await assert.rejects(kubelet.allocate([['GPU-a::0']]), (e: unknown) => e instanceof CallError && e.code === 13 && /disk full/.test(e.details));
});

test('GetPreferredAllocation and PreStartContainer answer', LIMIT, async () => {
  const { kubelet } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  const preferred = await kubelet.getPreferredAllocation([
    { available: ['a', 'b', 'c'], mustInclude: ['c'], size: 2 },
    { available: ['d', 'e'], size: 1 },
  ]);
  assert.deepEqual(preferred.container_responses, [{ deviceIDs: ['c', 'a'] }, { deviceIDs: ['d'] }]);
  assert.deepEqual(await kubelet.preStart(['a']), {});
});

test('a plugin started before the kubelet registers once the kubelet appears', LIMIT, async () => {
  const setup = await setUp({ kubeletFirst: false });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(setup.server.registrations, 0);
  const kubelet = await setup.startKubelet();
  await kubelet.until('registration', () => kubelet.registrations.length === 1, 5000);
  await kubelet.until('the list', () => kubelet.devices.length === 2);
});

test('a kubelet restart (sockets removed, kubelet.sock recreated) → registered again within 5 s, and the new stream works', LIMIT, async () => {
  const { kubelet, fake, dir, server, logs } = await setUp();
  await kubelet.waitForDevices((devices) => devices.length === 2);
  const tookMs = await kubelet.restart(5000);
  assert.ok(tookMs < 5000, `re-registered after ${tookMs} ms`);
  assert.equal(kubelet.registrations.length, 2);
  assert.equal(kubelet.registrations[1]?.endpoint, 'tessera.sock');
  await eventually('the server to count the registration', () => server.registrations === 2);
  assert.ok(statSync(join(dir, 'tessera.sock')).isSocket());
  assert.ok(logs.some((line) => line.includes('is gone (kubelet restart?); serving it again')), 'served on a fresh socket');
  await kubelet.waitForDevices((devices) => devices.length === 2);
  fake.setSlots([{ id: 'GPU-a::0', health: 'Unhealthy' }]);
  await kubelet.waitForDevices((devices) => devices.length === 1 && devices[0]?.health === 'Unhealthy', 1000);
  // The old kubelet's stream is gone, and so is its subscription.
  assert.equal(fake.listeners.size, 1);
  const response = await kubelet.allocate([['GPU-a::0']]);
  assert.equal(response.container_responses.length, 1);
});

test('a kubelet restart that leaves the plugin socket in place still re-registers', LIMIT, async () => {
  const { kubelet, dir, server } = await setUp();
  await eventually('the first registration', () => server.registrations === 1);
  let heard = 0;
  const off = server.onRegistered(() => heard++);
  await kubelet.close();
  const again = await FakeKubelet.start(dir);
  cleanups.push(() => again.close());
  await again.until('registration with the new kubelet', () => again.registrations.length === 1, 5000);
  await eventually('onRegistered', () => heard === 1 && server.registrations === 2);
  off();
  await again.waitForDevices((devices) => devices.length === 2);
});

test('stop ends the streams, removes the socket and leaves no listener behind', LIMIT, async () => {
  const { kubelet, fake, server, dir } = await setUp();
  await kubelet.until('the list', () => kubelet.devices.length === 2);
  assert.equal(fake.listeners.size, 1);
  await server.stop();
  assert.equal(existsSync(join(dir, 'tessera.sock')), false);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fake.listeners.size, 0);
});

test('Allocate answers every container request in order; a count mismatch or a synchronous throw is INTERNAL', LIMIT, async () => {
  const { kubelet, fake, logs } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  fake.onAllocate((requests) => Promise.resolve(requests.map((ids) => ({ ...EMPTY, envs: { IDS: ids.join(',') } }))));
  const response = await kubelet.allocate([['GPU-a::0'], ['GPU-a::1', 'GPU-b::0']]);
  assert.deepEqual(
    response.container_responses.map((r) => r.envs),
    [{ IDS: 'GPU-a::0' }, { IDS: 'GPU-a::1,GPU-b::0' }],
  );
  fake.onAllocate(() => Promise.resolve([EMPTY]));
  await assert.rejects(kubelet.allocate([['GPU-a::0'], ['GPU-a::1']]), (e: unknown) => e instanceof CallError && e.code === 13 && /answered 1 container\(s\) for 2/.test(e.details));
  fake.onAllocate(() => {
    throw new TypeError('boom');
  });
  await assert.rejects(kubelet.allocate([['GPU-a::0']]), (e: unknown) => e instanceof CallError && e.code === 13 && e.details === 'Allocate: boom');
  assert.ok(logs.some((line) => line.includes('Allocate failed') && line.includes('boom')));
});

test('GetPreferredAllocation: a throwing handler is INTERNAL with its message', LIMIT, async () => {
  const { kubelet, fake } = await setUp();
  await kubelet.until('registration', () => kubelet.registrations.length === 1);
  fake.onPreferred(() => {
    throw new Error('no such slot GPU-z::0');
  });
  await assert.rejects(kubelet.getPreferredAllocation([{ available: ['GPU-z::0'], size: 1 }]), (e: unknown) => e instanceof CallError && e.code === 13 && e.details === 'GetPreferredAllocation: no such slot GPU-z::0');
});

test('ListAndWatch: a failing device list is logged and skipped; the stream stays open for the next change', LIMIT, async () => {
  const { kubelet, fake, logs } = await setUp();
  await kubelet.waitForDevices((devices) => devices.length === 2);
  fake.onDevices(() => {
    throw new Error('NVML went away');
  });
  fake.setSlots([]);
  assert.ok(logs.some((line) => line.includes('listing the devices failed') && line.includes('NVML went away')));
  fake.onDevices(() => [{ id: 'GPU-a::0', health: 'Unhealthy' }]);
  fake.setSlots([]);
  await kubelet.waitForDevices((devices) => devices.length === 1, 1000);
  assert.equal(kubelet.streamError, undefined);
  assert.equal(fake.listeners.size, 1);
});

test('registration refused by the kubelet is logged once and retried, never thrown', LIMIT, async () => {
  const { kubelet, server, logs } = await setUp({ resourceName: 'gpu' });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(kubelet.registrations.length, 0);
  assert.equal(server.registrations, 0);
  const refusals = logs.filter((line) => line.includes('not registered') && line.includes('invalid resource name'));
  assert.equal(refusals.length, 1, logs.join('\n'));
});

test('start replaces a stale file at the socket path', LIMIT, async () => {
  const { kubelet, dir } = await setUp({ beforeStart: (d) => writeFileSync(join(d, 'tessera.sock'), 'left over') });
  await kubelet.waitForDevices((devices) => devices.length === 2);
  assert.ok(statSync(join(dir, 'tessera.sock')).isSocket());
});

test('start in a missing directory fails with the path and the fix', LIMIT, async () => {
  const dir = join(tmpdir(), `dp-missing-${process.pid}`);
  const server = new DevicePluginServer({ pluginDir: dir, socketName: 'a.sock', resourceName: 'nvidia.com/gpu', handlers: fakeHandlers([]).handlers });
  await assert.rejects(server.start(), new RegExp(`cannot serve unix://${dir}/a.sock: .*; check that ${dir} exists and is writable`));
  await server.stop();
});

test('a socket name that is not a plain file name is refused', LIMIT, () => {
  assert.throws(
    () => new DevicePluginServer({ pluginDir: '/tmp', socketName: 'sub/a.sock', resourceName: 'nvidia.com/gpu', handlers: fakeHandlers([]).handlers }),
    /the socket name must be a file name in \/tmp, got "sub\/a.sock"/,
  );
});

/** The published v1beta1 API (kubelet pkg/apis/deviceplugin/v1beta1): every field's name and number. */
const PUBLISHED_FIELDS: Record<string, Record<string, number>> = {
  Empty: {},
  RegisterRequest: { version: 1, endpoint: 2, resource_name: 3, options: 4 },
  DevicePluginOptions: { pre_start_required: 1, get_preferred_allocation_available: 2 },
  ListAndWatchResponse: { devices: 1 },
  Device: { ID: 1, health: 2, topology: 3 },
  TopologyInfo: { nodes: 1 },
  NUMANode: { ID: 1 },
  PreferredAllocationRequest: { container_requests: 1 },
  ContainerPreferredAllocationRequest: { available_deviceIDs: 1, must_include_deviceIDs: 2, allocation_size: 3 },
  PreferredAllocationResponse: { container_responses: 1 },
  ContainerPreferredAllocationResponse: { deviceIDs: 1 },
  AllocateRequest: { container_requests: 1 },
  ContainerAllocateRequest: { devices_ids: 1 },
  AllocateResponse: { container_responses: 1 },
  ContainerAllocateResponse: { envs: 1, mounts: 2, devices: 3, annotations: 4, cdi_devices: 5 },
  Mount: { container_path: 1, host_path: 2, read_only: 3 },
  DeviceSpec: { container_path: 1, host_path: 2, permissions: 3 },
  CDIDevice: { name: 1 },
  PreStartContainerRequest: { devices_ids: 1 },
  PreStartContainerResponse: {},
};

test('the proto matches the published API: packages, method paths, field names and numbers', LIMIT, () => {
  const definition = loadSync(devicePluginProtoPath(), { keepCase: true });
  const messages = Object.keys(definition).filter((name) => 'type' in (definition[name] ?? {}));
  assert.deepEqual(messages.sort(), Object.keys(PUBLISHED_FIELDS).map((name) => `v1beta1.${name}`).sort());
  for (const [name, fields] of Object.entries(PUBLISHED_FIELDS)) {
    const type = (definition[`v1beta1.${name}`] as unknown as { type: { field: { name: string; number: number }[] } }).type;
    assert.deepEqual(Object.fromEntries(type.field.map((f) => [f.name, f.number])), fields, name);
  }
  const methods = (service: string) =>
    Object.values(definition[`v1beta1.${service}`] as unknown as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>).map(
      (m) => `${m.path}${m.responseStream ? ' (stream)' : ''}${m.requestStream ? ' (client stream)' : ''}`,
    );
  assert.deepEqual(methods('Registration'), ['/v1beta1.Registration/Register']);
  assert.deepEqual(methods('DevicePlugin'), [
    '/v1beta1.DevicePlugin/GetDevicePluginOptions',
    '/v1beta1.DevicePlugin/ListAndWatch (stream)',
    '/v1beta1.DevicePlugin/GetPreferredAllocation',
    '/v1beta1.DevicePlugin/Allocate',
    '/v1beta1.DevicePlugin/PreStartContainer',
  ]);
});

test('the proto is found from the package root, wherever the module sits below it', LIMIT, () => {
  const root = mkdtempSync(join(tmpdir(), 'pr-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'package.json'), '{}');
  const module = join(root, 'dist', 'node-agent', 'device-plugin', 'proto.js');
  assert.throws(() => devicePluginProtoPath(module), /proto\/deviceplugin\/v1beta1\/api.proto is missing; the package at .* must ship/);
  assert.equal(devicePluginProtoPath(fileURLToPath(import.meta.url)), join(fileURLToPath(new URL('../../../', import.meta.url)), 'proto/deviceplugin/v1beta1/api.proto'));
});

test('a socket path longer than a unix socket allows is refused with the flags to change', LIMIT, () => {
  const long = `/tmp/${'x'.repeat(120)}`;
  assert.throws(
    () => new DevicePluginServer({ pluginDir: long, socketName: 'a.sock', resourceName: 'nvidia.com/gpu', handlers: fakeHandlers([]).handlers }),
    /longer than the 107 a unix socket allows; use a shorter --plugin-dir or --socket-name/,
  );
});
