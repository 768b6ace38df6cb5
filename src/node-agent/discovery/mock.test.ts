import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DiscoveryError } from './backend.js';
import { MockBackend } from './mock.js';
import { mockUuid, parseMockDevices, parseMockFile } from './mock-format.js';

const FILE = 'devices.yaml';
const EXAMPLE = resolve(import.meta.dirname, '../../../deploy/examples/mock-devices.yaml');

function parse(text: string, nodeName = 'node-a') {
  return parseMockDevices(text, FILE, nodeName);
}

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tessera-mock-test-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('mock devices format', () => {
  test('a device with only the required fields gets the defaults', () => {
    const { devices, links } = parse('devices:\n  - name: NVIDIA A10\n    memoryMiB: 23028\n');
    assert.deepEqual(devices, [
      {
        uuid: mockUuid('node-a', 0),
        index: 0,
        vendor: 'NVIDIA',
        name: 'NVIDIA A10',
        memoryMiB: 23028,
        pciBusId: '00000000:01:00.0',
        numa: 0,
        healthy: true,
        migEnabled: false,
      },
    ]);
    assert.deepEqual(links, []);
  });

  test('derived UUIDs are uuid-shaped, stable, and differ between nodes and indexes', () => {
    assert.match(mockUuid('node-a', 0), /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(mockUuid('node-a', 3), mockUuid('node-a', 3));
    assert.notEqual(mockUuid('node-a', 0), mockUuid('node-b', 0));
    assert.notEqual(mockUuid('node-a', 0), mockUuid('node-a', 1));
  });

  test('every field set, count expanded in order, links by index and by UUID', () => {
    const { devices, links } = parse(`
devices:
  - name: NVIDIA H100 80GB HBM3
    memoryMiB: 81559
    count: 2
    numa: 1
    mig: true
  - name: Ascend 910B
    vendor: Ascend
    memoryMiB: null
    uuid: NPU-7
    pciBusId: 0000:c1:00.0
    healthy: false
    healthReason: XID 79
links:
  - between: [0, NPU-7]
    nvlinks: 4
    pcie: host-bridge
`);
    assert.deepEqual(
      devices.map((d) => [d.index, d.uuid, d.vendor, d.memoryMiB, d.numa, d.migEnabled, d.pciBusId, d.healthy, d.healthReason]),
      [
        [0, mockUuid('node-a', 0), 'NVIDIA', 81559, 1, true, '00000000:01:00.0', true, undefined],
        [1, mockUuid('node-a', 1), 'NVIDIA', 81559, 1, true, '00000000:02:00.0', true, undefined],
        [2, 'NPU-7', 'Ascend', null, 0, false, '00000000:C1:00.0', false, 'XID 79'],
      ],
    );
    assert.deepEqual(links, [
      { a: mockUuid('node-a', 0), b: mockUuid('node-a', 1), nvlinks: 0, pcie: 'same-cpu' },
      { a: mockUuid('node-a', 0), b: 'NPU-7', nvlinks: 4, pcie: 'host-bridge' },
      { a: mockUuid('node-a', 1), b: 'NPU-7', nvlinks: 0, pcie: 'cross-cpu' },
    ]);
  });

  test('an unhealthy device without a reason says where it was marked', () => {
    const { devices } = parse('devices:\n  - { name: A10, memoryMiB: 1, healthy: false }\n');
    assert.equal(devices[0]?.healthReason, `marked unhealthy in ${FILE}`);
  });

  test('usage: per device, copied to every device of a counted entry, zeros by default', () => {
    const { usage } = parseMockFile(
      [
        'devices:',
        '  - name: NVIDIA A10',
        '    memoryMiB: 24576',
        '    count: 2',
        '    usage: { memoryUsedMiB: 1024, utilization: 35, memoryUtilization: 10 }',
        '  - { name: NVIDIA A10, memoryMiB: null, usage: { utilization: 100 } }',
        '  - { name: NVIDIA A10, memoryMiB: 24576 }',
        '',
      ].join('\n'),
      FILE,
      'node-a',
    );
    const MIB = 1024 * 1024;
    assert.deepEqual(
      usage.map((u) => [u.uuid, u.index, u.memoryUsedBytes, u.utilizationPercent, u.memoryUtilizationPercent]),
      [
        [mockUuid('node-a', 0), 0, 1024 * MIB, 35, 10],
        [mockUuid('node-a', 1), 1, 1024 * MIB, 35, 10],
        [mockUuid('node-a', 2), 2, 0, 100, 0],
        [mockUuid('node-a', 3), 3, 0, 0, 0],
      ],
    );
  });

  test('an empty device list is a node without GPUs', () => {
    assert.deepEqual(parse('devices: []\n'), { devices: [], links: [] });
  });

  const errors: { name: string; text: string; want: RegExp }[] = [
    {
      name: 'missing memoryMiB',
      text: 'devices:\n  - name: A10\n',
      want: /^devices\.yaml:2: devices\[0\]\.memoryMiB is missing; must be the total memory as a whole number of MiB/,
    },
    {
      name: 'memoryMiB with a unit',
      text: 'devices:\n  - name: A10\n    memoryMiB: 24Gi\n',
      want: /^devices\.yaml:3: devices\[0\]\.memoryMiB="24Gi" must be the total memory as a whole number of MiB, e\.g\. `memoryMiB: 81920`/,
    },
    {
      name: 'fractional count',
      text: 'devices:\n  - name: A10\n    memoryMiB: 1\n    count: 1.5\n',
      want: /^devices\.yaml:4: devices\[0\]\.count=1\.5 must be a whole number from 1 to 64/,
    },
    {
      name: 'misspelt field',
      text: 'devices:\n  - name: A10\n    memoryMib: 1\n',
      want: /^devices\.yaml:3: devices\[0\] has unknown field "memoryMib" \(did you mean "memoryMiB"\?\); the fields are name, memoryMiB, count,.*\(and 1 more problem\)$/,
    },
    {
      name: 'uuid on a counted entry',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2, uuid: GPU-1 }\n',
      want: /^devices\.yaml:2: devices\[0\]\.uuid="GPU-1" cannot be set on an entry with count 2/,
    },
    {
      name: 'duplicate uuid',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, uuid: GPU-1 }\n  - { name: A10, memoryMiB: 1, uuid: GPU-1 }\n',
      want: /^devices\.yaml:3: devices\[1\]\.uuid="GPU-1" is also the UUID of device 0; UUIDs must be unique/,
    },
    {
      name: 'uuid with a separator of the register annotation',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, uuid: "GPU-1,2" }\n',
      want: /devices\[0\]\.uuid="GPU-1,2" must not contain ",", ":" or ";"/,
    },
    {
      name: 'bad bus id',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, pciBusId: slot-3 }\n',
      want: /devices\[0\]\.pciBusId="slot-3" must be a PCI bus id such as 00000000:17:00\.0/,
    },
    {
      name: 'bus id colliding with a derived one',
      text: 'devices:\n  - { name: A10, memoryMiB: 1 }\n  - { name: A10, memoryMiB: 1, pciBusId: "0000:01:00.0" }\n',
      want: /devices\[1\]\.pciBusId="0000:01:00\.0" is also the bus id of device 0/,
    },
    {
      name: 'reason on a healthy device',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, healthReason: broken }\n',
      want: /devices\[0\]\.healthReason="broken" is only meaningful beside `healthy: false`/,
    },
    {
      name: 'link to a device that does not exist',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2 }\nlinks:\n  - between: [0, 2]\n',
      want: /^devices\.yaml:4: links\[0\]\.between\[1\]=2 is not a device: indexes run from 0 to 1 after expanding count/,
    },
    {
      name: 'link to an unknown UUID',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2 }\nlinks:\n  - between: [0, GPU-x]\n',
      want: /links\[0\]\.between\[1\]="GPU-x" is not the UUID of any device in the file/,
    },
    {
      name: 'link of a device to itself',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2, numa: 0 }\nlinks:\n  - between: [1, 1]\n',
      want: /links\[0\]\.between=\[1,1\] links device 1 to itself/,
    },
    {
      name: 'pair listed twice',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2 }\nlinks:\n  - between: [0, 1]\n  - between: [1, 0]\n',
      want: /^devices\.yaml:5: links\[1\]\.between=\[1,0\] repeats the pair of links\[0\]/,
    },
    {
      name: 'one-ended link',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2 }\nlinks:\n  - between: [0]\n',
      want: /links\[0\]\.between=\[0\] must name two devices/,
    },
    {
      name: 'too many NVLinks',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2 }\nlinks:\n  - { between: [0, 1], nvlinks: 19 }\n',
      want: /links\[0\]\.nvlinks=19 must be a whole number of NVLinks from 0 to 18/,
    },
    {
      name: 'unknown PCIe relation',
      text: 'devices:\n  - { name: A10, memoryMiB: 1, count: 2 }\nlinks:\n  - { between: [0, 1], pcie: nvswitch }\n',
      want: /links\[0\]\.pcie="nvswitch" must be one of same-board, single-switch, multi-switch, host-bridge, same-cpu, cross-cpu/,
    },
    {
      name: 'usage above 100 percent',
      text: 'devices:\n  - name: A10\n    memoryMiB: 1\n    usage:\n      utilization: 101\n',
      want: /^devices\.yaml:5: devices\[0\]\.usage\.utilization=101 must be the GPU utilisation in percent, a whole number from 0 to 100/,
    },
    {
      name: 'more memory used than the device has',
      text: 'devices:\n  - { name: A10, memoryMiB: 10, usage: { memoryUsedMiB: 11 } }\n',
      want: /devices\[0\]\.usage\.memoryUsedMiB=11 is more than the device's memoryMiB \(10\)/,
    },
    {
      name: 'misspelt usage field',
      text: 'devices:\n  - { name: A10, memoryMiB: 10, usage: { memoryUsedMib: 1 } }\n',
      want: /devices\[0\]\.usage has unknown field "memoryUsedMib" \(did you mean "memoryUsedMiB"\?\); the fields are memoryUsedMiB, utilization, memoryUtilization$/,
    },
    {
      name: 'invalid YAML',
      text: 'devices:\n  - name: [A10\n',
      want: /^devices\.yaml:3:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/,
    },
    { name: 'empty file', text: '', want: /^devices\.yaml: the file is empty; it needs a `devices:` list/ },
    { name: 'no devices key', text: 'gpus: []\n', want: /^devices\.yaml:1: the file has unknown field "gpus"; the fields are devices, links/ },
    {
      name: 'a list instead of a mapping',
      text: '- name: A10\n',
      want: /^devices\.yaml:1: the file \(\[\{"name":"A10"\}\]\) must be a mapping with a `devices:` list/,
    },
    {
      name: 'several problems: the first is reported, the rest counted',
      text: 'devices:\n  - { name: "", memoryMiB: -1 }\n',
      want: /devices\[0\]\.name="" must be the product name.*\(and 1 more problem\)/,
    },
  ];
  for (const { name, text, want } of errors) {
    test(`error: ${name}`, () => {
      assert.throws(
        () => parse(text),
        (error: unknown) => {
          assert.ok(error instanceof DiscoveryError, String(error));
          assert.equal(error.code, 'TESSERA_ERR_DISCOVERY');
          assert.match(error.message, want);
          return true;
        },
      );
    });
  }
});

describe('MockBackend', () => {
  async function file(name: string, text: string): Promise<string> {
    const path = join(scratch, name);
    await writeFile(path, text);
    return path;
  }

  test('re-reads the file: health edited at run time shows in the next inventory', async () => {
    const path = await file('health.yaml', 'devices:\n  - { name: A10, memoryMiB: 23028, count: 2 }\n');
    const backend = await MockBackend.open({ file: path, nodeName: 'node-a' });
    assert.equal(backend.source, `mock (${path})`);
    assert.deepEqual(
      (await backend.inventory()).devices.map((d) => d.healthy),
      [true, true],
    );

    await writeFile(
      path,
      'devices:\n  - { name: A10, memoryMiB: 23028 }\n  - { name: A10, memoryMiB: 23028, healthy: false, healthReason: XID 79 }\n',
    );
    const { devices } = await backend.inventory();
    assert.deepEqual(
      devices.map((d) => [d.uuid, d.healthy, d.healthReason]),
      [
        [mockUuid('node-a', 0), true, undefined],
        [mockUuid('node-a', 1), false, 'XID 79'],
      ],
      'same UUIDs, the second now unhealthy',
    );
    await backend.close();
  });

  test('a file that turns malformed throws, and reads again once fixed', async () => {
    const good = 'devices:\n  - { name: A10, memoryMiB: 23028 }\n';
    const path = await file('broken.yaml', good);
    const backend = await MockBackend.open({ file: path, nodeName: 'node-a' });
    await writeFile(path, 'devices:\n  - { name: A10 }\n');
    await assert.rejects(backend.inventory(), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError);
      assert.ok(error.message.startsWith(`${path}:2: devices[0].memoryMiB is missing`), error.message);
      return true;
    });
    await writeFile(path, good);
    assert.equal((await backend.inventory()).devices.length, 1);
    await backend.close();
  });

  test('open() fails at once on a missing or malformed file', async () => {
    const missing = join(scratch, 'absent.yaml');
    await assert.rejects(MockBackend.open({ file: missing, nodeName: 'n' }), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError);
      assert.match(error.message, /^cannot read the mock devices file .*absent\.yaml: ENOENT.*check the --devices path/);
      return true;
    });
    const bad = await file('bad.yaml', 'devices: 3\n');
    await assert.rejects(MockBackend.open({ file: bad, nodeName: 'n' }), /devices=3 must be a list of devices/);
  });

  test('close() is idempotent and inventory() after it rejects', async () => {
    const backend = await MockBackend.open({ file: EXAMPLE, nodeName: 'n' });
    await backend.close();
    await backend.close();
    await assert.rejects(backend.inventory(), /inventory\(\) after close\(\)/);
    await assert.rejects(backend.usage(), /usage\(\) after close\(\)/);
  });

  test('the example file: 4 NVLinked A100s on NUMA 0, 4 A10s on NUMA 1', async () => {
    const backend = await MockBackend.open({ file: EXAMPLE, nodeName: 'gpu-node-1' });
    const { devices, links } = await backend.inventory();
    await backend.close();
    assert.deepEqual(
      devices.map((d) => [d.index, d.name, d.memoryMiB, d.numa]),
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
        i < 4 ? [i, 'NVIDIA A100-SXM4-80GB', 81920, 0] : [i, 'NVIDIA A10', 23028, 1],
      ),
    );
    assert.equal(links.length, 28);
    const between = (a: number, b: number) => links.find((l) => l.a === devices[a]?.uuid && l.b === devices[b]?.uuid);
    assert.deepEqual(between(0, 1), { a: devices[0]?.uuid, b: devices[1]?.uuid, nvlinks: 12, pcie: 'single-switch' });
    assert.equal(between(1, 2)?.nvlinks, 0);
    assert.equal(between(1, 2)?.pcie, 'same-cpu');
    assert.equal(between(3, 4)?.pcie, 'cross-cpu');
    assert.equal(between(6, 7)?.pcie, 'single-switch');
  });
});
