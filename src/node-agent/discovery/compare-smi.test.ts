import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { InputError } from '../../core/errors.js';
import type { DiscoveredDevice, DiscoveredInventory } from './backend.js';
import { compareWithSmi, parseSmiQuery, parseSmiTopoNvlinks, renderComparison } from './compare-smi.js';

/** `nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id,mig.mode.current --format=csv,noheader,nounits` on a 4-GPU box. */
const QUERY = `0, GPU-5c1b0f6e-3a2d-4e51-9f0a-1b2c3d4e5f60, NVIDIA H100 80GB HBM3, 81559, 00000000:18:00.0, Disabled
1, GPU-6d2c1f7e-4b3e-5f62-0a1b-2c3d4e5f6071, NVIDIA H100 80GB HBM3, 81559, 00000000:2A:00.0, Enabled
2, GPU-7e3d2a8f-5c4f-6a73-1b2c-3d4e5f607182, NVIDIA GB10, [N/A], 0000000F:01:00.0, [N/A]
3, GPU-8f4e3b9a-6d5a-7b84-2c3d-4e5f60718293, NVIDIA RTX A6000, Graphics, 49140, 00000000:CA:00.0, Disabled
`;

/** `nvidia-smi topo -m` as a terminal shows it (underlined header), with a NIC column and row. */
const TOPO = [
  '\t\u001b[4mGPU0\tGPU1\tGPU2\tGPU3\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\u001b[0m',
  'GPU0\t X \tNV12\tSYS\tSYS\tPHB\t0-23,48-71\t0\t\tN/A',
  'GPU1\tNV12\t X \tSYS\tSYS\tPHB\t0-23,48-71\t0\t\tN/A',
  'GPU2\tSYS\tSYS\t X \tNV4\tSYS\t24-47,72-95\t1\t\tN/A',
  'GPU3\tSYS\tSYS\tNV4\t X \tSYS\t24-47,72-95\t1\t\tN/A',
  'NIC0\tPHB\tPHB\tSYS\tSYS\t X \t\t\t\t',
  '',
  'Legend:',
  '',
  '  X    = Self',
  '  NV#  = Connection traversing a bonded set of # NVLinks',
].join('\n');

/** The H100 machine lent for device checks: one GPU, no pairs. */
const TOPO_ONE_GPU = '\tGPU0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\nGPU0\t X \t0-15\t0\t\tN/A\n';

function device(index: number, overrides: Partial<DiscoveredDevice> = {}): DiscoveredDevice {
  const gpu = parseSmiQuery(QUERY)[index];
  assert.ok(gpu);
  return {
    uuid: gpu.uuid,
    index,
    vendor: 'NVIDIA',
    name: gpu.name,
    memoryMiB: gpu.memoryMiB,
    pciBusId: gpu.pciBusId,
    numa: 0,
    healthy: true,
    migEnabled: gpu.migEnabled,
    ...overrides,
  };
}

function inventory(devices: DiscoveredDevice[], nvlinks: Record<string, number> = {}): DiscoveredInventory {
  const links = devices.flatMap((a, i) =>
    devices.slice(i + 1).map((b) => ({
      a: a.uuid,
      b: b.uuid,
      nvlinks: nvlinks[`${String(a.index)}-${String(b.index)}`] ?? 0,
      pcie: 'cross-cpu' as const,
    })),
  );
  return { devices, links };
}

describe('parseSmiQuery', () => {
  test('reads N/A memory and MIG, and a name holding a comma', () => {
    assert.deepEqual(
      parseSmiQuery(QUERY).map((g) => [g.index, g.name, g.memoryMiB, g.pciBusId, g.migEnabled]),
      [
        [0, 'NVIDIA H100 80GB HBM3', 81559, '00000000:18:00.0', false],
        [1, 'NVIDIA H100 80GB HBM3', 81559, '00000000:2A:00.0', true],
        [2, 'NVIDIA GB10', null, '0000000F:01:00.0', false],
        [3, 'NVIDIA RTX A6000, Graphics', 49140, '00000000:CA:00.0', false],
      ],
    );
  });

  const bad = [
    { name: 'too few fields', text: '0, GPU-1, NVIDIA A10\n', want: /:1: line="0, GPU-1, NVIDIA A10" has 3 fields/ },
    { name: 'memory with units', text: '0, GPU-1, NVIDIA A10, 23028 MiB, 00000000:01:00.0, Disabled\n', want: /memory\.total="23028 MiB" is not a whole number of MiB/ },
    { name: 'no index', text: 'x, GPU-1, NVIDIA A10, 23028, 00000000:01:00.0, Disabled\n', want: /index="x" is not a GPU index/ },
  ];
  for (const { name, text, want } of bad) {
    test(`error: ${name}`, () => {
      assert.throws(() => parseSmiQuery(text), (error: unknown) => error instanceof InputError && want.test(error.message));
    });
  }
});

describe('parseSmiTopoNvlinks', () => {
  test('NV<n> cells count, PCIe cells are 0, NICs are ignored', () => {
    assert.deepEqual(
      [...parseSmiTopoNvlinks(TOPO)],
      [
        ['0-1', 12],
        ['0-2', 0],
        ['0-3', 0],
        ['1-2', 0],
        ['1-3', 0],
        ['2-3', 4],
      ],
    );
  });

  test('one GPU, or no matrix, gives no pairs', () => {
    assert.equal(parseSmiTopoNvlinks(TOPO_ONE_GPU).size, 0);
    assert.equal(parseSmiTopoNvlinks('NVML: Unable to determine topology\n').size, 0);
  });
});

describe('compareWithSmi', () => {
  const smi = parseSmiQuery(QUERY);
  const topo = parseSmiTopoNvlinks(TOPO);

  test('the same facts in other spellings pass', () => {
    const devices = [0, 1, 2, 3].map((i) => device(i));
    devices[1] = device(1, { pciBusId: '0000:2a:00.0' });
    const rows = compareWithSmi(inventory(devices, { '0-1': 12, '2-3': 4 }), smi, topo);
    assert.deepEqual(
      rows.filter((r) => !r.same),
      [],
    );
    assert.equal(rows.length, 1 + 4 * 5 + 6, 'count, five fields per GPU, six pairs');
  });

  test('each differing fact is reported', () => {
    const devices = [
      device(0, { memoryMiB: 81920 }),
      device(1, { migEnabled: false }),
      device(2, { uuid: 'GPU-other' }),
      device(3, { pciBusId: '00000000:CB:00.0', name: 'NVIDIA RTX A6000' }),
    ];
    const rows = compareWithSmi(inventory(devices, { '0-1': 12 }), smi, topo);
    assert.deepEqual(
      rows.filter((r) => !r.same).map((r) => [r.device, r.field, r.nvml, r.smi]),
      [
        ['0', 'memory MiB', '81920', '81559'],
        ['1', 'mig', 'false', 'true'],
        ['2', 'uuid', 'GPU-other', 'GPU-7e3d2a8f-5c4f-6a73-1b2c-3d4e5f607182'],
        ['3', 'name', 'NVIDIA RTX A6000', 'NVIDIA RTX A6000, Graphics'],
        ['3', 'pci bus id', '00000000:CB:00.0', '00000000:CA:00.0'],
        ['2-3', 'nvlinks', '0', '4'],
      ],
    );
  });

  test('a GPU that nvidia-smi does not list, and the count', () => {
    const rows = compareWithSmi(inventory([device(0), device(1)]), smi.slice(0, 1));
    assert.deepEqual(
      rows.filter((r) => !r.same).map((r) => [r.device, r.field]),
      [
        ['all', 'GPU count'],
        ['1', 'present'],
      ],
    );
  });

  test('renders an aligned table with differences marked', () => {
    const text = renderComparison(compareWithSmi(inventory([device(0, { memoryMiB: 1 })]), smi.slice(0, 1)));
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^GPU\s+field\s+NVML \(Tessera\)\s+nvidia-smi$/);
    assert.match(text, /^0 +memory MiB +1 +81559 +DIFFERENT$/m);
    assert.match(text, /^0 +uuid +GPU-5c1b\S+ +GPU-5c1b\S+ +ok$/m);
  });
});
