import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildNvmlStub, STUB_ENV, writeStubHardware } from '../../../test/support/nvml-stub.js';
import type { DiscoveredLink } from './backend.js';
import { DiscoveryError } from './backend.js';
import { NvmlBackend } from './nvml.js';

const UUID = [0, 1, 2, 3].map((i) => `GPU-${String(i).repeat(8)}-aaaa-bbbb-cccc-0000000000${String(i)}${String(i)}`);
const BUS = ['00000000:17:00.0', '00000000:31:00.0', '00000000:B1:00.0', '00000001:CA:00.0'];

/** A 4-GPU box: two NVLink pairs, one per CPU socket, the last GPU in PCI domain 1. */
const FOUR_GPUS = [
  ...UUID.map((uuid, i) => `gpu ${uuid} 81920 ${BUS[i] ?? ''} 0 NVIDIA A100-SXM4-80GB`),
  'nvlink 0 1 12',
  'nvlink 2 3 12',
  'topo 0 1 10',
  'topo 2 3 10',
  ...['0 2', '0 3', '1 2', '1 3'].map((pair) => `topo ${pair} 50`),
];

let stub: string;
let scratch: string;

before(async () => {
  stub = await buildNvmlStub();
  scratch = await mkdtemp(join(tmpdir(), 'tessera-nvml-test-'));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let caseNumber = 0;

/** A hardware file and a sysfs tree in a fresh folder; numa maps sysfs names to numa_node contents. */
async function box(lines: readonly string[], numa: Readonly<Record<string, string>> = {}): Promise<{ hardware: string; sysfs: string }> {
  const dir = join(scratch, String(caseNumber++));
  const sysfs = join(dir, 'sys');
  await mkdir(sysfs, { recursive: true });
  for (const [name, value] of Object.entries(numa)) {
    const device = join(sysfs, 'bus', 'pci', 'devices', name);
    await mkdir(device, { recursive: true });
    await writeFile(join(device, 'numa_node'), `${value}\n`);
  }
  const hardware = join(dir, 'hardware.txt');
  await writeStubHardware(hardware, lines);
  process.env[STUB_ENV] = hardware;
  return { hardware, sysfs };
}

/** Runs body with an open backend and closes it whatever happens. */
async function withBackend(
  sysfs: string,
  body: (backend: NvmlBackend) => Promise<void>,
  library: string = stub,
): Promise<void> {
  const backend = await NvmlBackend.open({ library, sysfsRoot: sysfs });
  try {
    await body(backend);
  } finally {
    await backend.close();
  }
}

function link(links: readonly DiscoveredLink[], a: number, b: number): DiscoveredLink | undefined {
  return links.find((l) => l.a === UUID[a] && l.b === UUID[b]);
}

describe('NvmlBackend inventory', () => {
  test('a 4-GPU box: identity, NUMA from sysfs, NVLink pairs and PCIe relations', async () => {
    const { sysfs } = await box(FOUR_GPUS, {
      '0000:17:00.0': '0',
      '0000:31:00.0': '0',
      '0000:b1:00.0': '1',
      '0001:ca:00.0': '1',
    });
    await withBackend(sysfs, async (backend) => {
      assert.equal(backend.source, `nvml (${stub})`);
      const inventory = await backend.inventory();
      assert.deepEqual(
        inventory.devices,
        UUID.map((uuid, index) => ({
          uuid,
          index,
          vendor: 'NVIDIA',
          name: 'NVIDIA A100-SXM4-80GB',
          memoryMiB: 81920,
          pciBusId: BUS[index],
          numa: index < 2 ? 0 : 1,
          healthy: true,
          migEnabled: false,
        })),
      );
      assert.equal(inventory.links.length, 6, 'every pair once');
      const cases: { pair: [number, number]; nvlinks: number; pcie: string }[] = [
        { pair: [0, 1], nvlinks: 12, pcie: 'single-switch' },
        { pair: [2, 3], nvlinks: 12, pcie: 'single-switch' },
        { pair: [0, 2], nvlinks: 0, pcie: 'cross-cpu' },
        { pair: [0, 3], nvlinks: 0, pcie: 'cross-cpu' },
        { pair: [1, 2], nvlinks: 0, pcie: 'cross-cpu' },
        { pair: [1, 3], nvlinks: 0, pcie: 'cross-cpu' },
      ];
      for (const { pair, nvlinks, pcie } of cases) {
        const found = link(inventory.links, ...pair);
        assert.ok(found, `link ${pair.join('-')} listed`);
        assert.equal(found.nvlinks, nvlinks, `nvlinks ${pair.join('-')}`);
        assert.equal(found.pcie, pcie, `pcie ${pair.join('-')}`);
      }
    });
  });

  test('numa_node of -1, or no file, reads as node 0', async () => {
    const { sysfs } = await box(FOUR_GPUS, { '0000:17:00.0': '-1', '0000:31:00.0': '1' });
    await withBackend(sysfs, async (backend) => {
      const { devices } = await backend.inventory();
      assert.deepEqual(
        devices.map((d) => d.numa),
        [0, 1, 0, 0],
      );
    });
  });

  test('memory NOT_SUPPORTED is null; MIG mode is read, NOT_SUPPORTED is false', async () => {
    const { sysfs } = await box([
      `gpu ${UUID[0] ?? ''} na 00000000:01:00.0 na NVIDIA GB10`,
      `gpu ${UUID[1] ?? ''} 81559 00000000:02:00.0 1 NVIDIA H100 80GB HBM3`,
      `gpu ${UUID[2] ?? ''} 81559 00000000:03:00.0 0 NVIDIA H100 80GB HBM3`,
    ]);
    await withBackend(sysfs, async (backend) => {
      const { devices, links } = await backend.inventory();
      assert.deepEqual(
        devices.map((d) => [d.name, d.memoryMiB, d.migEnabled]),
        [
          ['NVIDIA GB10', null, false],
          ['NVIDIA H100 80GB HBM3', 81559, true],
          ['NVIDIA H100 80GB HBM3', 81559, false],
        ],
      );
      assert.ok(
        links.every((l) => l.nvlinks === 0 && l.pcie === 'same-cpu'),
        'no NVLink (NOT_SUPPORTED) and the stub’s default level NODE',
      );
    });
  });

  test('PCIe level NOT_SUPPORTED falls back to the NUMA nodes', async () => {
    const { sysfs } = await box([...FOUR_GPUS, 'topo 0 1 na', 'topo 0 2 na'], {
      '0000:b1:00.0': '1',
    });
    await withBackend(sysfs, async (backend) => {
      const { links } = await backend.inventory();
      assert.equal(link(links, 0, 1)?.pcie, 'same-cpu');
      assert.equal(link(links, 0, 2)?.pcie, 'cross-cpu');
    });
  });
});

describe('NvmlBackend NVSwitch', () => {
  const SWITCHED = [...FOUR_GPUS.slice(0, 4), 'switchlinks 0 12', 'switchlinks 1 12', 'switchlinks 2 12', 'nvlink 0 1 2'];

  test('links to a switch count towards every other GPU on the switch', async () => {
    const { sysfs } = await box(SWITCHED);
    await withBackend(sysfs, async (backend) => {
      const { links } = await backend.inventory();
      assert.equal(link(links, 0, 1)?.nvlinks, 14, 'two direct links plus twelve through the switch');
      assert.equal(link(links, 0, 2)?.nvlinks, 12);
      assert.equal(link(links, 1, 2)?.nvlinks, 12);
      assert.equal(link(links, 0, 3)?.nvlinks, 0, 'GPU 3 has no switch link');
    });
  });

  test('without nvmlDeviceGetNvLinkRemoteDeviceType only direct links count', async () => {
    const old = await buildNvmlStub({ withoutRemoteDeviceType: true });
    const { sysfs } = await box(SWITCHED);
    await withBackend(
      sysfs,
      async (backend) => {
        const { links } = await backend.inventory();
        assert.equal(link(links, 0, 1)?.nvlinks, 2);
        assert.equal(link(links, 0, 2)?.nvlinks, 0);
      },
      old,
    );
  });
});

describe('NvmlBackend health', () => {
  test('XID 79 makes exactly its device unhealthy, for good; XID 13 does not', async () => {
    const { hardware, sysfs } = await box(FOUR_GPUS);
    await withBackend(sysfs, async (backend) => {
      assert.ok((await backend.inventory()).devices.every((d) => d.healthy));

      await writeStubHardware(hardware, [...FOUR_GPUS, 'xid 1 13', 'xid 2 79']);
      const second = await backend.inventory();
      assert.deepEqual(
        second.devices.map((d) => [d.healthy, d.healthReason]),
        [
          [true, undefined],
          [true, undefined],
          [false, 'XID 79: GPU has fallen off the bus'],
          [true, undefined],
        ],
      );
      assert.ok(!('healthReason' in (second.devices[0] ?? {})), 'no healthReason key on a healthy device');

      const third = await backend.inventory();
      assert.equal(third.devices[2]?.healthy, false, 'sticky: the event was drained, the verdict stays');
      assert.equal(third.devices[2]?.healthReason, 'XID 79: GPU has fallen off the bus');
    });
  });

  test('an XID without a description is reported by number; the first reason stays', async () => {
    const { hardware, sysfs } = await box(FOUR_GPUS);
    await withBackend(sysfs, async (backend) => {
      await writeStubHardware(hardware, [...FOUR_GPUS, 'xid 0 61', 'xid 0 48']);
      const { devices } = await backend.inventory();
      assert.equal(devices[0]?.healthReason, 'XID 61');
    });
  });

  test('a device without event support is skipped, the others still report XIDs', async () => {
    const lines = [...FOUR_GPUS, 'noevents 0'];
    const { hardware, sysfs } = await box(lines);
    await withBackend(sysfs, async (backend) => {
      await writeStubHardware(hardware, [...lines, 'xid 0 79', 'xid 3 48']);
      const { devices } = await backend.inventory();
      assert.deepEqual(
        devices.map((d) => d.healthy),
        [true, true, true, false],
      );
    });
  });

  test('a GPU lost at run time turns unhealthy and keeps its last facts', async () => {
    const { hardware, sysfs } = await box(FOUR_GPUS);
    await withBackend(sysfs, async (backend) => {
      await backend.inventory();
      await writeStubHardware(hardware, [...FOUR_GPUS, 'lost 3']);
      const { devices } = await backend.inventory();
      const lost = devices[3];
      assert.equal(lost?.healthy, false);
      assert.match(lost.healthReason ?? '', /GPU is lost/);
      assert.equal(lost.uuid, UUID[3]);
      assert.equal(lost.memoryMiB, 81920);
      assert.deepEqual(
        devices.slice(0, 3).map((d) => d.healthy),
        [true, true, true],
      );
    });
  });

  test('a GPU lost before it was read fails open() naming the call and the device', async () => {
    const { sysfs } = await box([...FOUR_GPUS, 'lost 1']);
    await assert.rejects(NvmlBackend.open({ library: stub, sysfsRoot: sysfs }), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError);
      assert.equal(error.code, 'TESSERA_ERR_DISCOVERY');
      assert.match(error.message, /^nvmlDeviceGetPciInfo_v3 failed for device 1: GPU is lost \(NVML return 15/);
      assert.match(error.message, /reset the GPU/);
      return true;
    });
  });
});

describe('NvmlBackend usage', () => {
  test('memory in use and utilisation rates per device; zeros without a usage line', async () => {
    const { sysfs } = await box([...FOUR_GPUS, 'usage 0 20480 35 12', 'usage 2 81920 100 100']);
    await withBackend(sysfs, async (backend) => {
      assert.deepEqual(
        (await backend.usage()).map((u) => [u.index, u.uuid, u.memoryUsedBytes, u.utilizationPercent, u.memoryUtilizationPercent]),
        [
          [0, UUID[0], 20480 * 1024 * 1024, 35, 12],
          [1, UUID[1], 0, 0, 0],
          [2, UUID[2], 81920 * 1024 * 1024, 100, 100],
          [3, UUID[3], 0, 0, 0],
        ],
      );
    });
  });

  test('usage is read again at every call; NOT_SUPPORTED and a lost GPU give null', async () => {
    const lines = ['gpu GPU-a 24576 00000000:17:00.0 0 NVIDIA A10', 'gpu GPU-b na 00000000:31:00.0 na NVIDIA GB10'];
    const { hardware, sysfs } = await box([...lines, 'usage 0 100 1 2']);
    await withBackend(sysfs, async (backend) => {
      assert.deepEqual((await backend.usage())[0]?.memoryUsedBytes, 100 * 1024 * 1024);
      await writeStubHardware(hardware, [...lines, 'usage 0 200 3 4', 'usage 1 0 na 0']);
      assert.deepEqual(
        (await backend.usage()).map((u) => [u.memoryUsedBytes, u.utilizationPercent, u.memoryUtilizationPercent]),
        [
          [200 * 1024 * 1024, 3, 4],
          [null, null, null],
        ],
      );
      await writeStubHardware(hardware, [...lines, 'lost 0']);
      assert.deepEqual((await backend.usage())[0], {
        uuid: 'GPU-a',
        index: 0,
        memoryUsedBytes: null,
        utilizationPercent: null,
        memoryUtilizationPercent: null,
      });
    });
  });
});

describe('NvmlBackend failures and lifecycle', () => {
  test('a missing library says which path was tried and points to the mock backend', async () => {
    const missing = join(scratch, 'nowhere', 'libnvidia-ml.so.1');
    await assert.rejects(NvmlBackend.open({ library: missing }), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError);
      assert.ok(error.message.startsWith(`cannot load the NVML library ${JSON.stringify(missing)}`), error.message);
      assert.match(error.message, /--devices <file\.yaml>/);
      return true;
    });
  });

  test('nvmlInit_v2 failing gives NVML’s own error string', async () => {
    const { sysfs } = await box([...FOUR_GPUS, 'initerror 9']);
    await assert.rejects(NvmlBackend.open({ library: stub, sysfsRoot: sysfs }), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError);
      assert.match(error.message, /^nvmlInit_v2 failed: Driver Not Loaded \(NVML return 9, library /);
      assert.match(error.message, /load the NVIDIA kernel driver/);
      return true;
    });
  });

  test('a failed open leaves NVML usable for the next one', async () => {
    const { sysfs } = await box([...FOUR_GPUS, 'lost 0']);
    await assert.rejects(NvmlBackend.open({ library: stub, sysfsRoot: sysfs }), DiscoveryError);
    const second = await box(FOUR_GPUS);
    await withBackend(second.sysfs, async (backend) => {
      assert.equal((await backend.inventory()).devices.length, 4);
    });
  });

  test('close() is idempotent and inventory() after it rejects', async () => {
    const { sysfs } = await box(FOUR_GPUS);
    const backend = await NvmlBackend.open({ library: stub, sysfsRoot: sysfs });
    await backend.close();
    await backend.close();
    await assert.rejects(backend.inventory(), /inventory\(\) after close\(\)/);
    await assert.rejects(backend.usage(), /usage\(\) after close\(\)/);
  });
});
