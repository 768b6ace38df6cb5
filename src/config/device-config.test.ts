import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ConfigError } from '../core/errors.js';
import {
  DEFAULT_DEVICE_CONFIG,
  loadDeviceConfig,
  loadNodeConfigJson,
  nodeSettings,
  parseDeviceConfig,
  parseNodeConfigJson,
  withNodeConfig,
  type CompiledDeviceConfig,
  type NodeSettings,
  type NvidiaConfig,
} from './device-config.js';

const CHART_CONFIG = fileURLToPath(new URL('./testdata/hami-chart-device-config.yaml', import.meta.url));

const HAMI_DEFAULTS: NvidiaConfig = {
  resourceCountName: 'nvidia.com/gpu',
  resourceMemoryName: 'nvidia.com/gpumem',
  resourceMemoryPercentageName: 'nvidia.com/gpumem-percentage',
  resourceCoreName: 'nvidia.com/gpucores',
  resourcePriorityName: 'nvidia.com/priority',
  overwriteEnv: false,
  defaultMemory: 0,
  defaultCores: 0,
  defaultGPUNum: 1,
  memoryFactor: 1,
  disableCoreLimit: false,
  gpuCorePolicy: 'default',
  runtimeClassName: undefined,
  migProfileAllowlist: [],
  deviceSplitCount: 10,
  deviceMemoryScaling: 1,
  deviceCoreScaling: 1,
  preConfiguredDeviceMemory: 0,
  libCudaLogLevel: 1,
  enableNumaTopology: false,
};

/** NodeSettings as plain data, sets as sorted arrays, for deepEqual. */
function plain(settings: NodeSettings) {
  return {
    ...settings,
    filterDevices: {
      uuids: [...settings.filterDevices.uuids].sort(),
      indexes: [...settings.filterDevices.indexes].sort((a, b) => a - b),
    },
  };
}

/** Runs `f`, which must throw a ConfigError, and returns it. */
function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'TESSERA_ERR_CONFIG');
    return err;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

async function rejectsWithConfigError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

/** Lets a test try to write into what the types say is read-only. */
function writable(value: unknown): Record<string, unknown> {
  return value as Record<string, unknown>;
}

describe('defaults', () => {
  test('DEFAULT_DEVICE_CONFIG holds HAMi’s NVIDIA defaults and nothing else', () => {
    assert.deepEqual(DEFAULT_DEVICE_CONFIG.nvidia, HAMI_DEFAULTS);
    assert.deepEqual(DEFAULT_DEVICE_CONFIG.vendors, {});
    assert.deepEqual(DEFAULT_DEVICE_CONFIG.nodeConfig, []);
  });

  const sameAsDefaults: { name: string; text: string }[] = [
    { name: 'empty nvidia mapping', text: 'nvidia: {}' },
    { name: 'every key present and empty (a chart value rendered empty)', text: `nvidia:\n${Object.keys(HAMI_DEFAULTS).map((k) => `  ${k}:`).join('\n')}\n` },
    { name: 'runtimeClassName "" as the chart renders it', text: 'nvidia:\n  runtimeClassName: ""\n' },
    { name: 'empty migProfileAllowlist', text: 'nvidia:\n  migProfileAllowlist: []\n' },
  ];
  for (const c of sameAsDefaults) {
    test(`defaults apply: ${c.name}`, () => {
      assert.deepEqual(parseDeviceConfig(c.text).nvidia, HAMI_DEFAULTS);
    });
  }

  test('a node without an entry gets the nvidia defaults', () => {
    assert.deepEqual(plain(nodeSettings(DEFAULT_DEVICE_CONFIG, 'gpu-node-1')), {
      operatingMode: 'hami-core',
      deviceSplitCount: 10,
      deviceMemoryScaling: 1,
      deviceCoreScaling: 1,
      preConfiguredDeviceMemory: 0,
      enableNumaTopology: false,
      libCudaLogLevel: 1,
      migStrategy: 'none',
      filterDevices: { uuids: [], indexes: [] },
      enableGetPreferredAllocation: false,
    });
  });

  test('without an nvidia section, nvidia is undefined and node settings use HAMi’s defaults', () => {
    const config = parseDeviceConfig('cambricon:\n  resourceCountName: cambricon.com/vmlu\n');
    assert.equal(config.nvidia, undefined);
    assert.deepEqual(config.vendors, { cambricon: { resourceCountName: 'cambricon.com/vmlu' } });
    assert.equal(nodeSettings(config, 'n').deviceSplitCount, 10);
  });
});

describe('HAMi chart configuration', () => {
  test('the chart-rendered device-config.yaml loads', async () => {
    const config = await loadDeviceConfig(CHART_CONFIG);
    assert.equal(config.source, CHART_CONFIG);
    assert.deepEqual({ ...config.nvidia, migProfileAllowlist: [] }, HAMI_DEFAULTS);
    assert.equal(config.nvidia?.migProfileAllowlist.length, 9);
    assert.deepEqual(config.nvidia?.migProfileAllowlist[8], {
      models: ['RTX PRO 6000 Blackwell Server Edition'],
      profiles: ['1g.24gb', '2g.48gb', '4g.96gb'],
    });
    assert.deepEqual(Object.keys(config.vendors), [
      'cambricon',
      'hygon',
      'metax',
      'enflame',
      'mthreads',
      'iluvatars',
      'kunlun',
      'awsneuron',
      'amd',
      'vastai',
      'biren',
      'vnpus',
    ]);
    assert.equal(config.vendors.iluvatars?.length, 4);
    assert.deepEqual(config.vendors.mthreads?.['memoryPerCard'], [96]);
    assert.equal(config.vendors.metax?.['sgpuTopologyAware'], false);
    const ascend = config.vendors.vnpus?.['configs'];
    assert.ok(Array.isArray(ascend));
    assert.equal(ascend.length, 3);
  });

  test('every nvidia key written with a non-default value comes through', () => {
    const config = parseDeviceConfig(`
nvidia:
  resourceCountName: example.com/vgpu
  resourceMemoryName: example.com/vgpu-memory
  resourceMemoryPercentageName: example.com/vgpu-memory-percent
  resourceCoreName: example.com/vgpu-cores
  resourcePriorityName: example.com/vgpu-priority
  overwriteEnv: true
  defaultMemory: 4096
  defaultCores: 25
  defaultGPUNum: 2
  memoryFactor: 1024
  disableCoreLimit: true
  gpuCorePolicy: force
  runtimeClassName: nvidia
  migProfileAllowlist:
    - models: [A100-SXM4-40GB]
      profiles: [1g.5gb, 7g.40gb]
  deviceSplitCount: 4
  deviceMemoryScaling: 1.5
  deviceCoreScaling: 2
  preConfiguredDeviceMemory: 98304
  libCudaLogLevel: "4"
  enableNumaTopology: true
`);
    assert.deepEqual(config.nvidia, {
      resourceCountName: 'example.com/vgpu',
      resourceMemoryName: 'example.com/vgpu-memory',
      resourceMemoryPercentageName: 'example.com/vgpu-memory-percent',
      resourceCoreName: 'example.com/vgpu-cores',
      resourcePriorityName: 'example.com/vgpu-priority',
      overwriteEnv: true,
      defaultMemory: 4096,
      defaultCores: 25,
      defaultGPUNum: 2,
      memoryFactor: 1024,
      disableCoreLimit: true,
      gpuCorePolicy: 'force',
      runtimeClassName: 'nvidia',
      migProfileAllowlist: [{ models: ['A100-SXM4-40GB'], profiles: ['1g.5gb', '7g.40gb'] }],
      deviceSplitCount: 4,
      deviceMemoryScaling: 1.5,
      deviceCoreScaling: 2,
      preConfiguredDeviceMemory: 98304,
      libCudaLogLevel: 4,
      enableNumaTopology: true,
    });
  });

  const logLevels: { written: string; want: number }[] = [
    { written: '0', want: 0 },
    { written: '1', want: 1 },
    { written: '3', want: 3 },
    { written: '"4"', want: 4 },
    { written: "'0'", want: 0 },
  ];
  for (const c of logLevels) {
    test(`libCudaLogLevel: ${c.written} reads as ${c.want}`, () => {
      assert.equal(parseDeviceConfig(`nvidia:\n  libCudaLogLevel: ${c.written}\n`).nvidia?.libCudaLogLevel, c.want);
    });
  }

  test('YAML anchors, aliases and merge keys resolve', () => {
    const config = parseDeviceConfig(`
nvidia:
  <<: {deviceSplitCount: 4, deviceMemoryScaling: 2}
  deviceMemoryScaling: 3
cambricon: &names {resourceCountName: cambricon.com/vmlu}
hygon: *names
`);
    assert.equal(config.nvidia?.deviceSplitCount, 4);
    assert.equal(config.nvidia?.deviceMemoryScaling, 3);
    assert.deepEqual(config.vendors.hygon, { resourceCountName: 'cambricon.com/vmlu' });
  });
});

describe('per-node overrides', () => {
  const config = parseDeviceConfig(`
nvidia:
  deviceSplitCount: 8
  deviceMemoryScaling: 1.5
  libCudaLogLevel: 3
  enableNumaTopology: true
nodeconfig:
  - name: gpu-a
    operatingmode: mig
    migstrategy: mixed
    devicesplitcount: 2
  - name: gpu-b.example.com
    devicememoryscaling: 1
    devicecorescaling: 2
    preconfigureddevicememory: 131072
    enablenumatopology: false
    libcudaloglevel: "0"
    filterdevices: {uuid: [GPU-0f3e, GPU-77aa], index: [3, 1]}
    enablegetpreferredallocation: true
  - name: gpu-c
    operatingmode: mps
    filterdevices: {index: [0]}
  - name: gpu-d
    devicesplitcount:
`);

  const base = {
    operatingMode: 'hami-core',
    deviceSplitCount: 8,
    deviceMemoryScaling: 1.5,
    deviceCoreScaling: 1,
    preConfiguredDeviceMemory: 0,
    enableNumaTopology: true,
    libCudaLogLevel: 3,
    migStrategy: 'none',
    filterDevices: { uuids: [] as string[], indexes: [] as number[] },
    enableGetPreferredAllocation: false,
  };
  const cases: { node: string; want: typeof base }[] = [
    { node: 'gpu-a', want: { ...base, operatingMode: 'mig', migStrategy: 'mixed', deviceSplitCount: 2 } },
    {
      node: 'gpu-b.example.com',
      want: {
        ...base,
        deviceMemoryScaling: 1,
        deviceCoreScaling: 2,
        preConfiguredDeviceMemory: 131072,
        enableNumaTopology: false,
        libCudaLogLevel: 0,
        filterDevices: { uuids: ['GPU-0f3e', 'GPU-77aa'], indexes: [1, 3] },
        enableGetPreferredAllocation: true,
      },
    },
    { node: 'gpu-c', want: { ...base, operatingMode: 'mps', filterDevices: { uuids: [], indexes: [0] } } },
    { node: 'gpu-d', want: base },
    { node: 'not-listed', want: base },
    { node: 'GPU-A', want: base },
  ];
  for (const c of cases) {
    test(`node ${c.node}`, () => {
      assert.deepEqual(plain(nodeSettings(config, c.node)), c.want);
    });
  }

  test('node settings are frozen and their sets are copies', () => {
    const settings = nodeSettings(config, 'gpu-b.example.com');
    assert.ok(Object.isFrozen(settings));
    assert.ok(Object.isFrozen(settings.filterDevices));
    (settings.filterDevices.uuids as Set<string>).add('GPU-ffff');
    assert.equal(nodeSettings(config, 'gpu-b.example.com').filterDevices.uuids.has('GPU-ffff'), false);
  });

  test('HAMi’s config.json parses, keys matched case-insensitively as Go’s encoding/json does', () => {
    const entries = parseNodeConfigJson(`{
  "nodeconfig": [
    {"name": "your-node-name", "operatingmode": "hami-core", "devicememoryscaling": 1, "devicesplitcount": 10,
     "devicecorescaling": 1, "preconfigureddevicememory": 0, "enablenumatopology": false, "libcudaloglevel": "1",
     "migstrategy": "none", "filterdevices": {"uuid": [], "index": []}, "enablegetpreferredallocation": false},
    {"name": "gpu-e", "DeviceSplitCount": 3, "filterDevices": {"UUID": ["GPU-1"], "Index": [2]}}
  ]
}`);
    assert.equal(entries.length, 2);
    const merged = withNodeConfig(DEFAULT_DEVICE_CONFIG, entries);
    assert.equal(nodeSettings(merged, 'your-node-name').libCudaLogLevel, 1);
    assert.deepEqual(plain(nodeSettings(merged, 'gpu-e')), {
      ...plain(nodeSettings(DEFAULT_DEVICE_CONFIG, 'gpu-e')),
      deviceSplitCount: 3,
      filterDevices: { uuids: ['GPU-1'], indexes: [2] },
    });
    assert.deepEqual(DEFAULT_DEVICE_CONFIG.nodeConfig, [], 'withNodeConfig leaves its input alone');
    assert.ok(Object.isFrozen(merged) && Object.isFrozen(merged.nodeConfig));
  });

  test('an empty nodeconfig file section is no entries', () => {
    assert.deepEqual(parseNodeConfigJson('{"nodeconfig": []}'), []);
    assert.deepEqual(parseNodeConfigJson('{}'), []);
  });

  test('withNodeConfig refuses a node configured twice across the two files', () => {
    const entries = parseNodeConfigJson('{"nodeconfig": [{"name": "gpu-z"}, {"name": "gpu-a"}]}');
    const err = configError(() => withNodeConfig(config, entries, '/config/config.json'));
    assert.equal(err.source, '/config/config.json');
    assert.equal(err.path, 'nodeconfig[1].name');
    assert.equal(err.value, 'gpu-a');
  });
});

describe('errors name the path and the value', () => {
  const cases: { name: string; text: string; path: string; value: string; reason: RegExp }[] = [
    // wrong type
    { name: 'memory as a quantity string', text: 'nvidia:\n  defaultMemory: 4Gi\n', path: 'nvidia.defaultMemory', value: '4Gi', reason: /integer number of MiB/ },
    { name: 'number written as a string', text: 'nvidia:\n  deviceSplitCount: "10"\n', path: 'nvidia.deviceSplitCount', value: '10', reason: /integer, at least 1/ },
    { name: 'YAML 1.1 boolean', text: 'nvidia:\n  overwriteEnv: yes\n', path: 'nvidia.overwriteEnv', value: 'yes', reason: /true or false/ },
    { name: 'section not a mapping', text: 'nvidia: [a, b]\n', path: 'nvidia', value: '["a","b"]', reason: /must be a mapping/ },
    { name: 'nodeconfig not a list', text: 'nvidia: {}\nnodeconfig: {name: a}\n', path: 'nodeconfig', value: '{"name":"a"}', reason: /must be a list/ },
    { name: 'filter index not a number', text: 'nvidia: {}\nnodeconfig: [{name: a, filterdevices: {index: [x]}}]\n', path: 'nodeconfig[0].filterdevices.index[0]', value: 'x', reason: /GPU index/ },
    { name: 'vendor section a scalar', text: 'cambricon: 5\n', path: 'cambricon', value: '5', reason: /must be a mapping/ },
    { name: 'iluvatars not a list', text: 'iluvatars: {chipName: BI-V150}\n', path: 'iluvatars', value: '{"chipName":"BI-V150"}', reason: /must be a list/ },
    { name: 'document a list', text: '- nvidia\n', path: '(root)', value: '["nvidia"]', reason: /must be a mapping/ },
    // out of range
    { name: 'negative default memory', text: 'nvidia:\n  defaultMemory: -3\n', path: 'nvidia.defaultMemory', value: '-3', reason: /from 0 to 2147483647/ },
    { name: 'cores over 100', text: 'nvidia:\n  defaultCores: 101\n', path: 'nvidia.defaultCores', value: '101', reason: /from 0 to 100/ },
    { name: 'zero default GPU count', text: 'nvidia:\n  defaultGPUNum: 0\n', path: 'nvidia.defaultGPUNum', value: '0', reason: /from 1/ },
    { name: 'fractional memory factor', text: 'nvidia:\n  memoryFactor: 1.5\n', path: 'nvidia.memoryFactor', value: '1.5', reason: /integer/ },
    { name: 'zero split count', text: 'nvidia:\n  deviceSplitCount: 0\n', path: 'nvidia.deviceSplitCount', value: '0', reason: /at least 1/ },
    { name: 'zero memory scaling', text: 'nvidia:\n  deviceMemoryScaling: 0\n', path: 'nvidia.deviceMemoryScaling', value: '0', reason: /greater than 0/ },
    { name: 'infinite core scaling', text: 'nvidia:\n  deviceCoreScaling: .inf\n', path: 'nvidia.deviceCoreScaling', value: 'Infinity', reason: /number/ },
    { name: 'negative preconfigured memory', text: 'nvidia:\n  preConfiguredDeviceMemory: -1\n', path: 'nvidia.preConfiguredDeviceMemory', value: '-1', reason: /at least 0/ },
    { name: 'node split count', text: 'nvidia: {}\nnodeconfig:\n  - name: a\n  - name: b\n    devicesplitcount: -3\n', path: 'nodeconfig[1].devicesplitcount', value: '-3', reason: /at least 1/ },
    // not one of the allowed values
    { name: 'log level 2', text: 'nvidia:\n  libCudaLogLevel: 2\n', path: 'nvidia.libCudaLogLevel', value: '2', reason: /one of 0, 1, 3, 4/ },
    { name: 'core policy', text: 'nvidia:\n  gpuCorePolicy: always\n', path: 'nvidia.gpuCorePolicy', value: 'always', reason: /default, force, disable/ },
    { name: 'operating mode', text: 'nvidia: {}\nnodeconfig: [{name: a, operatingmode: vgpu}]\n', path: 'nodeconfig[0].operatingmode', value: 'vgpu', reason: /hami-core, mig, mps/ },
    { name: 'MIG strategy', text: 'nvidia: {}\nnodeconfig: [{name: a, migstrategy: all}]\n', path: 'nodeconfig[0].migstrategy', value: 'all', reason: /none, single, mixed/ },
    // unknown keys
    { name: 'unknown top-level key', text: 'nvidia: {}\nascend: {}\n', path: 'ascend', value: '{}', reason: /unknown key/ },
    { name: 'unknown nvidia key, case slip', text: 'nvidia:\n  deviceSplitcount: 5\n', path: 'nvidia.deviceSplitcount', value: '5', reason: /did you mean deviceSplitCount\?/ },
    { name: 'unknown nvidia key, typo', text: 'nvidia:\n  defaultMemmory: 5\n', path: 'nvidia.defaultMemmory', value: '5', reason: /did you mean defaultMemory\?/ },
    { name: 'HAMi’s retired knownMigGeometries', text: 'nvidia:\n  knownMigGeometries: []\n', path: 'nvidia.knownMigGeometries', value: '[]', reason: /migProfileAllowlist/ },
    { name: 'unknown node key', text: 'nvidia: {}\nnodeconfig: [{name: a, splitcount: 2}]\n', path: 'nodeconfig[0].splitcount', value: '2', reason: /unknown key/ },
    { name: 'unknown filter key', text: 'nvidia: {}\nnodeconfig: [{name: a, filterdevices: {uuids: []}}]\n', path: 'nodeconfig[0].filterdevices.uuids', value: '[]', reason: /did you mean uuid\?/ },
    { name: 'unknown allowlist key', text: 'nvidia:\n  migProfileAllowlist: [{models: [A30], profiles: [1g.6gb], count: 4}]\n', path: 'nvidia.migProfileAllowlist[0].count', value: '4', reason: /unknown key/ },
    // resource and object names
    { name: 'resource name without domain', text: 'nvidia:\n  resourceCountName: gpu\n', path: 'nvidia.resourceCountName', value: 'gpu', reason: /domain is missing/ },
    { name: 'resource domain upper-case', text: 'nvidia:\n  resourceMemoryName: NVIDIA.com/gpumem\n', path: 'nvidia.resourceMemoryName', value: 'NVIDIA.com/gpumem', reason: /DNS-1123/ },
    { name: 'resource in kubernetes.io', text: 'nvidia:\n  resourceCoreName: kubernetes.io/gpucores\n', path: 'nvidia.resourceCoreName', value: 'kubernetes.io/gpucores', reason: /reserved/ },
    { name: 'resource name part empty', text: 'nvidia:\n  resourcePriorityName: nvidia.com/\n', path: 'nvidia.resourcePriorityName', value: 'nvidia.com/', reason: /name is missing/ },
    { name: 'resource name with two slashes', text: 'nvidia:\n  resourceCountName: nvidia.com/gpu/x\n', path: 'nvidia.resourceCountName', value: 'nvidia.com/gpu/x', reason: /one "\/"/ },
    { name: 'resource name part with a space', text: 'nvidia:\n  resourceMemoryPercentageName: "nvidia.com/gpu mem"\n', path: 'nvidia.resourceMemoryPercentageName', value: 'nvidia.com/gpu mem', reason: /letters, digits/ },
    { name: 'resource name part over 63 characters', text: `nvidia:\n  resourceCountName: nvidia.com/${'g'.repeat(64)}\n`, path: 'nvidia.resourceCountName', value: `nvidia.com/${'g'.repeat(64)}`, reason: /at most 63/ },
    { name: 'two resources under one name', text: 'nvidia:\n  resourceCoreName: nvidia.com/gpumem\n', path: 'nvidia.resourceCoreName', value: 'nvidia.com/gpumem', reason: /also the name of nvidia.resourceMemoryName/ },
    { name: 'runtime class name', text: 'nvidia:\n  runtimeClassName: Kata_QEMU\n', path: 'nvidia.runtimeClassName', value: 'Kata_QEMU', reason: /DNS-1123/ },
    { name: 'MIG profile with a media extension', text: 'nvidia:\n  migProfileAllowlist: [{models: [A100], profiles: [1g.5gb, 1g.5gb+me]}]\n', path: 'nvidia.migProfileAllowlist[0].profiles[1]', value: '1g.5gb+me', reason: /MIG profile name/ },
    { name: 'MIG allowlist without models', text: 'nvidia:\n  migProfileAllowlist: [{models: [], profiles: [1g.5gb]}]\n', path: 'nvidia.migProfileAllowlist[0].models', value: '[]', reason: /at least one GPU model/ },
    { name: 'MIG allowlist without profiles key', text: 'nvidia:\n  migProfileAllowlist: [{models: [A30]}]\n', path: 'nvidia.migProfileAllowlist[0].profiles', value: '', reason: /is required/ },
    { name: 'node name not DNS-1123', text: 'nvidia: {}\nnodeconfig: [{name: Node_A}]\n', path: 'nodeconfig[0].name', value: 'Node_A', reason: /DNS-1123/ },
    { name: 'node without a name', text: 'nvidia: {}\nnodeconfig: [{devicesplitcount: 2}]\n', path: 'nodeconfig[0].name', value: '', reason: /is required/ },
    { name: 'duplicate node name', text: 'nvidia: {}\nnodeconfig:\n  - name: gpu-a\n  - name: gpu-b\n  - name: gpu-a\n', path: 'nodeconfig[2].name', value: 'gpu-a', reason: /repeats nodeconfig\[0\]\.name/ },
    // whole-document problems
    { name: 'no vendor section', text: 'nodeconfig: []\n', path: '(root)', value: '{"nodeconfig":[]}', reason: /no vendor section/ },
    { name: 'only a null vendor section', text: 'nvidia:\n', path: '(root)', value: '{"nvidia":null}', reason: /no vendor section/ },
    { name: 'empty file', text: '', path: '(root)', value: '', reason: /is empty/ },
    { name: 'comments only', text: '# device-config.yaml\n\n', path: '(root)', value: '', reason: /is empty/ },
    { name: 'YAML syntax error', text: 'nvidia:\n  defaultMemory: 1\n  deviceSplitCount: @2\n', path: '(yaml)', value: 'deviceSplitCount: @2', reason: /not valid YAML: .*reserved character @ \(line 3:21\)/ },
    { name: 'YAML flow list left open', text: 'nvidia:\n  migProfileAllowlist: [\n', path: '(yaml)', value: '', reason: /not valid YAML: .*\(line 3:1\)/ },
    { name: 'YAML duplicate key', text: 'nvidia:\n  defaultMemory: 1\n  defaultMemory: 2\n', path: '(yaml)', value: 'defaultMemory: 2', reason: /unique \(line 3:3\)/ },
    { name: 'two YAML documents', text: 'nvidia: {}\n---\nnvidia: {}\n', path: '(yaml)', value: '---', reason: /more than one document .*\(line 2:1\)/ },
    { name: 'self-referencing alias', text: 'nvidia: {}\ncambricon: &a {self: *a}\n', path: '(yaml)', value: '', reason: /refers to the node that contains it/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const err = configError(() => parseDeviceConfig(c.text, 'cm/device-config.yaml'));
      assert.equal(err.source, 'cm/device-config.yaml');
      assert.equal(err.path, c.path);
      assert.equal(err.value, c.value);
      assert.match(err.message, c.reason);
      assert.ok(err.message.startsWith(`cm/device-config.yaml: ${c.path}=`), err.message);
    });
  }

  test('validation errors say where in the file', () => {
    const err = configError(() => parseDeviceConfig('nvidia:\n  overwriteEnv: false\n  defaultCores: 250\n'));
    assert.match(err.message, /\(line 3:17\)/);
  });

  test('one error for all problems: the first in file order, then how many more and where', () => {
    const err = configError(() =>
      parseDeviceConfig(`
nodeconfig:
  - name: gpu-a
    devicesplitcount: 0
nvidia:
  defaultCores: 101
  deviceSplitcount: 3
unknown: 1
`),
    );
    assert.equal(err.path, 'nodeconfig[0].devicesplitcount');
    assert.equal(err.value, '0');
    assert.match(err.message, /; and 3 more problems: nvidia\.defaultCores, nvidia\.deviceSplitcount, unknown$/);
  });

  test('a long list of problems is cut short', () => {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const err = configError(() => parseDeviceConfig(`nvidia: {}\n${keys.map((k) => `${k}: 1`).join('\n')}\n`));
    assert.equal(err.path, 'a');
    assert.match(err.message, /and 7 more problems: b, c, d, e, f, …$/);
  });

  const jsonCases: { name: string; text: string; path: string; value: string; reason: RegExp }[] = [
    { name: 'out of range, with its line', text: '{"nodeconfig": [\n  {"name": "a", "devicesplitcount": -3}\n]}', path: 'nodeconfig[0].devicesplitcount', value: '-3', reason: /at least 1 \(line 2:37\)/ },
    { name: 'log level as an unknown string', text: '{"nodeconfig": [{"name": "a", "libcudaloglevel": "debug"}]}', path: 'nodeconfig[0].libcudaloglevel', value: 'debug', reason: /one of 0, 1, 3, 4/ },
    { name: 'unknown key', text: '{"nodeconfig": [{"name": "a", "devicesplit": 2}]}', path: 'nodeconfig[0].devicesplit', value: '2', reason: /did you mean devicesplitcount\?/ },
    { name: 'unknown top-level key', text: '{"nodeconfig": [], "global": {}}', path: 'global', value: '{}', reason: /unknown key/ },
    { name: 'duplicate node name', text: '{"nodeconfig": [{"name": "a"}, {"name": "a"}]}', path: 'nodeconfig[1].name', value: 'a', reason: /repeats nodeconfig\[0\]\.name/ },
    { name: 'not an object', text: '[]', path: '(root)', value: '[]', reason: /JSON object/ },
    { name: 'syntax error', text: '{"nodeconfig": [{"name": "a"}\n', path: '(json)', value: '', reason: /not valid JSON: .*\(line 2:1\)/ },
    { name: 'syntax error inside a line', text: '{"nodeconfig": [{"name": "a",}]}', path: '(json)', value: '{"nodeconfig": [{"name": "a",}]}', reason: /not valid JSON: .*\(line 1:30\)/ },
    { name: 'empty file', text: '\n', path: '(root)', value: '', reason: /is empty/ },
  ];
  for (const c of jsonCases) {
    test(`config.json: ${c.name}`, () => {
      const err = configError(() => parseNodeConfigJson(c.text, 'config.json'));
      assert.equal(err.source, 'config.json');
      assert.equal(err.path, c.path);
      assert.equal(err.value, c.value);
      assert.match(err.message, c.reason);
    });
  }

  test('a missing file is a ConfigError on (file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-config-'));
    try {
      for (const load of [loadDeviceConfig, loadNodeConfigJson]) {
        const missing = join(dir, 'absent.yaml');
        const err = await rejectsWithConfigError(load(missing));
        assert.equal(err.source, missing);
        assert.equal(err.path, '(file)');
        assert.match(err.message, /does not exist/);
      }
      const err = await rejectsWithConfigError(loadDeviceConfig(dir));
      assert.equal(err.path, '(file)');
      assert.match(err.message, /cannot be read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the compiled configuration is deep-frozen', () => {
  const load = (): Promise<CompiledDeviceConfig> => loadDeviceConfig(CHART_CONFIG);
  const mutations: { name: string; mutate: (config: CompiledDeviceConfig) => void }[] = [
    { name: 'replace a section', mutate: (c) => void (writable(c)['nvidia'] = undefined) },
    { name: 'change an nvidia value', mutate: (c) => void (writable(c.nvidia)['deviceSplitCount'] = 100) },
    { name: 'add a key', mutate: (c) => void (writable(c.nvidia)['extra'] = 1) },
    { name: 'delete a key', mutate: (c) => void delete writable(c.nvidia)['defaultMemory'] },
    { name: 'grow the MIG allowlist', mutate: (c) => void (c.nvidia?.migProfileAllowlist as unknown[]).push({}) },
    { name: 'edit a MIG model list', mutate: (c) => void ((c.nvidia?.migProfileAllowlist[0]?.models as string[])[0] = 'A31') },
    { name: 'edit a vendor section', mutate: (c) => void (writable(c.vendors.cambricon)['resourceCountName'] = 'x/y') },
    { name: 'edit deep inside a vendor section', mutate: (c) => void (writable((c.vendors.vnpus?.['configs'] as unknown[])[0])['aiCore'] = 1) },
    { name: 'add a vendor', mutate: (c) => void (writable(c.vendors)['ascend'] = {}) },
    { name: 'add a node override', mutate: (c) => void (c.nodeConfig as unknown[]).push({ name: 'x' }) },
  ];
  for (const m of mutations) {
    test(m.name, async () => {
      const config = await load();
      assert.throws(() => m.mutate(config), TypeError);
    });
  }

  test('node overrides, their filter lists and DEFAULT_DEVICE_CONFIG are frozen too', () => {
    const config = parseDeviceConfig('nvidia: {}\nnodeconfig: [{name: a, filterdevices: {uuid: [GPU-1], index: [0]}}]\n');
    const entry = config.nodeConfig[0];
    assert.ok(entry !== undefined);
    assert.throws(() => void (writable(entry)['deviceSplitCount'] = 1), TypeError);
    assert.throws(() => void (entry.filterDevices?.uuids as string[]).push('GPU-2'), TypeError);
    assert.throws(() => void (writable(DEFAULT_DEVICE_CONFIG.nvidia)['defaultMemory'] = 1), TypeError);
    assert.throws(() => void (writable(DEFAULT_DEVICE_CONFIG)['nvidia'] = undefined), TypeError);
  });
});
