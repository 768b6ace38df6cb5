import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RequestError } from './errors.js';
import { podRequest } from './request.js';
import { pod } from './testing/builders.js';
import { nvidiaVendor } from './vendors/nvidia.js';

const vendors = [nvidiaVendor()];

test('asks per container, with HAMi defaulting', () => {
  const cases = [
    { name: 'memory and cores', pod: pod().gpu(1).mem(3000).cores(30), want: { count: 1, memoryMiB: 3000, memoryPercent: 100, cores: 30 } },
    { name: 'bare gpu is the whole card', pod: pod().gpu(2), want: { count: 2, memoryMiB: null, memoryPercent: 100, cores: 100 } },
    { name: '100% memory is exclusive', pod: pod().gpu(1).memPercent(100), want: { count: 1, memoryMiB: null, memoryPercent: 100, cores: 100 } },
    { name: 'a share of memory is not', pod: pod().gpu(1).memPercent(25), want: { count: 1, memoryMiB: null, memoryPercent: 25, cores: 0 } },
    { name: 'memory without a count gets defaultGPUNum', pod: pod().mem('4Gi'), want: { count: 1, memoryMiB: 4 * 1024 ** 3, memoryPercent: 100, cores: 0 } },
    { name: 'cores alone', pod: pod().cores(50), want: { count: 1, memoryMiB: null, memoryPercent: 100, cores: 50 } },
    { name: 'explicit cores win', pod: pod().gpu(1).cores(10), want: { count: 1, memoryMiB: null, memoryPercent: 100, cores: 10 } },
  ];
  for (const c of cases) {
    const req = podRequest(c.pod.build(), vendors);
    const ask = req.containers[0]?.asks[0];
    assert.ok(ask, c.name);
    assert.deepEqual(
      { count: ask.count, memoryMiB: ask.memoryMiB, memoryPercent: ask.memoryPercent, cores: ask.cores },
      c.want,
      c.name,
    );
  }
});

test('limits first, then requests; init containers first', () => {
  const req = podRequest(
    {
      metadata: { name: 'p' },
      spec: {
        initContainers: [{ name: 'warm', resources: { requests: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '1000' } } }],
        containers: [
          { name: 'cpu' },
          {
            name: 'app',
            resources: { limits: { 'nvidia.com/gpu': 1, 'nvidia.com/gpumem': '2000' }, requests: { 'nvidia.com/gpumem': '9999' } },
          },
        ],
      },
    },
    vendors,
  );
  assert.deepEqual(
    req.containers.map((c) => [c.name, c.init, c.position, c.asks[0]?.memoryMiB ?? null]),
    [
      ['warm', true, 0, 1000],
      ['cpu', false, 1, null],
      ['app', false, 2, 2000],
    ],
  );
  assert.equal(req.asksDevices, true);
});

test('configurable resource names and defaults', () => {
  const v = nvidiaVendor({ resourceCountName: 'example.com/vgpu', defaultMemory: 2048, defaultCores: 20, memoryFactor: 1024 });
  const a = podRequest(pod().resource('example.com/vgpu', 1).build(), [v]).containers[0]?.asks[0];
  assert.deepEqual([a?.memoryMiB, a?.cores], [2048, 100]);
  const b = podRequest(pod().resource('example.com/vgpu', 1).mem(4).build(), [v]).containers[0]?.asks[0];
  assert.deepEqual([b?.memoryMiB, b?.cores], [4096, 20]);
});

test('bad values name the container, the field and the value', () => {
  const cases = [
    { pod: pod().gpu('1.5'), field: 'nvidia.com/gpu', value: '1.5' },
    { pod: pod().gpu(1).memPercent(150), field: 'nvidia.com/gpumem-percentage', value: '150' },
    { pod: pod().gpu(1).cores(101), field: 'nvidia.com/gpucores', value: '101' },
    { pod: pod().gpu(1).mem('lots'), field: 'nvidia.com/gpumem', value: 'lots' },
    { pod: pod().gpu(-1), field: 'nvidia.com/gpu', value: '-1' },
    { pod: pod().gpu(1).annotate('hami.io/gpu-scheduler-policy', 'fastest'), field: 'hami.io/gpu-scheduler-policy', value: 'fastest' },
    { pod: pod().gpu(1).annotate('hami.io/gpu-scheduler-policy', 'binpack,spread'), field: 'hami.io/gpu-scheduler-policy', value: 'binpack,spread' },
    { pod: pod().gpu(1).annotate('hami.io/node-scheduler-policy', 'random'), field: 'hami.io/node-scheduler-policy', value: 'random' },
    { pod: pod().gpu(1).annotate('hami.io/device-scoring-weights', 'slot=1,core=1'), field: 'hami.io/device-scoring-weights', value: 'slot=1,core=1' },
    { pod: pod().gpu(1).annotate('hami.io/device-scoring-weights', 'slot=0,core=0,memory=0'), field: 'hami.io/device-scoring-weights', value: 'slot=0,core=0,memory=0' },
    { pod: pod().gpu(1).annotate('nvidia.com/numa-bind', 'yes'), field: 'nvidia.com/numa-bind', value: 'yes' },
  ];
  for (const c of cases) {
    assert.throws(
      () => podRequest(c.pod.build(), vendors),
      (e: unknown) => e instanceof RequestError && e.field === c.field && e.value === c.value && e.message.includes(c.value),
      c.field,
    );
  }
  assert.throws(() => podRequest({ spec: { containers: [] } }, vendors), RequestError);
});

test('policies, weights and constraints from annotations', () => {
  const req = podRequest(
    pod()
      .gpu(2)
      .annotate('hami.io/node-scheduler-policy', 'spread')
      .annotate('hami.io/gpu-scheduler-policy', 'mutex, binpack ,numa')
      .annotate('hami.io/device-scoring-weights', 'slot=1,core=1,memory=3')
      .annotate('nvidia.com/use-gputype', 'A100,H100')
      .annotate('nvidia.com/nouse-gpuuuid', 'GPU-bad')
      .annotate('nvidia.com/numa-bind', 'TRUE')
      .build(),
    vendors,
  );
  assert.equal(req.nodePolicy, 'spread');
  assert.deepEqual(req.devicePolicy, ['mutex', 'binpack', 'numa']);
  assert.deepEqual(req.weights, { slot: 1, core: 1, memory: 3 });
  const c = req.constraints.get('NVIDIA');
  assert.deepEqual([c?.useTypes, c?.avoidIds, c?.numaBind], [['A100', 'H100'], ['GPU-bad'], true]);
});

test('CPU and memory requests: app containers summed, the largest init container if larger, limits when no request', () => {
  const p = pod()
    .resource('cpu', '1500m')
    .resource('memory', '2Gi')
    .container('sidecar')
    .resource('cpu', '0.5')
    .resource('memory', '512Mi')
    .initContainer('setup')
    .resource('cpu', '4')
    .resource('memory', '1Gi')
    .build();
  // App: 1500m + 500m = 2000m, 2048 + 512 = 2560 MiB; init: 4000m, 1024 MiB → max per resource.
  assert.deepEqual(podRequest(p, vendors).host, { cpuMilli: 4000, memoryMiB: 2560 });
  assert.deepEqual(podRequest(pod().gpu(1).build(), vendors).host, { cpuMilli: 0, memoryMiB: 0 });
  assert.throws(
    () => podRequest(pod().resource('cpu', 'two').build(), vendors),
    (e: unknown) => e instanceof RequestError && /resources\.requests\.cpu="two" is not a quantity/.test(e.message),
  );
});
