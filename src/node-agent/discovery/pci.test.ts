import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { DiscoveryError } from './backend.js';
import { canonicalPciBusId, readNumaNode, sysfsPciName } from './pci.js';

const spellings = [
  { name: 'NVML', input: '00000000:17:00.0', canonical: '00000000:17:00.0', sysfs: '0000:17:00.0' },
  { name: 'sysfs', input: '0000:b1:00.0', canonical: '00000000:B1:00.0', sysfs: '0000:b1:00.0' },
  { name: 'domain above 0xffff', input: '00010000:CA:1f.7', canonical: '00010000:CA:1F.7', sysfs: '10000:ca:1f.7' },
  { name: 'not a bus id', input: ' slot-3 ', canonical: 'SLOT-3', sysfs: undefined },
];
for (const { name, input, canonical, sysfs } of spellings) {
  test(`bus id spellings: ${name}`, () => {
    assert.equal(canonicalPciBusId(input), canonical);
    assert.equal(sysfsPciName(input), sysfs);
  });
}

test('numa_node: a number, -1 as 0, a missing file as 0, garbage as an error', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tessera-pci-test-'));
  try {
    const write = async (name: string, text: string) => {
      await mkdir(join(root, 'bus', 'pci', 'devices', name), { recursive: true });
      await writeFile(join(root, 'bus', 'pci', 'devices', name, 'numa_node'), text);
    };
    await write('0000:17:00.0', '1\n');
    await write('0000:31:00.0', '-1\n');
    await write('0000:65:00.0', 'x\n');
    assert.equal(await readNumaNode(root, '00000000:17:00.0'), 1);
    assert.equal(await readNumaNode(root, '00000000:31:00.0'), 0);
    assert.equal(await readNumaNode(root, '00000000:4B:00.0'), 0);
    await assert.rejects(readNumaNode(root, '00000000:65:00.0'), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError);
      assert.match(error.message, /0000:65:00\.0\/numa_node holds "x", not a NUMA node number$/);
      return true;
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
