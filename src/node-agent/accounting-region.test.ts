import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeAccountingRegion, REGION_BYTES, REGION_MAGIC, RegionFormatError } from './accounting-region.js';

const MIB = 1024n * 1024n;

/** A region as the library writes it: one device limited to 4 GiB at 25%, two processes. */
function sampleRegion(): Buffer {
  const b = Buffer.alloc(REGION_BYTES + 1);
  b.writeInt32LE(REGION_MAGIC, 0);
  b.writeUInt32LE(1, 4);
  b.writeUInt32LE(2, 8);
  b.writeBigUInt64LE(1n, 56);
  b.write('GPU-fa4e0000-0000-0000-0000-000000000000', 64, 'latin1');
  b.writeBigUInt64LE(4096n * MIB, 1600);
  b.writeBigUInt64LE(25n, 1728);
  const slot = (i: number, pid: number, status: number, used: bigint, smUtil: bigint): void => {
    const base = 1856 + i * 1960;
    b.writeInt32LE(pid, base);
    b.writeBigUInt64LE(used / 4n, base + 8); // context
    b.writeBigUInt64LE(used - used / 4n, base + 8 + 16); // data
    b.writeBigUInt64LE(used, base + 8 + 32);
    b.writeBigUInt64LE(smUtil, base + 1160 + 16);
    b.writeInt32LE(status, base + 1928);
  };
  slot(0, 41, 1, 1024n * MIB, 10n);
  slot(1, 0, 0, 0n, 0n); // freed slot
  slot(2, 57, 1, 512n * MIB, 7n);
  b.writeInt32LE(3, 2008896);
  b.writeInt32LE(1, 2008900);
  b.writeInt32LE(2, 2008904);
  b.writeInt32LE(1, 2008908);
  b.writeBigUInt64LE(1_800_000_000n, 2008912);
  return b;
}

test('decodes limits, shares and per-process usage', () => {
  const region = decodeAccountingRegion(sampleRegion());
  assert.equal(region.version, '1.2');
  assert.equal(region.devices.length, 1);
  assert.deepEqual(region.devices[0], {
    index: 0,
    uuid: 'GPU-fa4e0000-0000-0000-0000-000000000000',
    limitBytes: 4096n * MIB,
    smLimitPercent: 25,
    usedBytes: 1536n * MIB,
    contextBytes: 384n * MIB,
    moduleBytes: 0n,
    dataBytes: 1152n * MIB,
    smUtilPercent: 17,
  });
  assert.deepEqual(
    region.processes.map((p) => [p.pid, p.status, p.usedBytes[0]]),
    [
      [41, 'running', 1024n * MIB],
      [57, 'running', 512n * MIB],
    ],
  );
  assert.equal(region.priority, 1);
  assert.equal(region.utilizationSwitch, true);
  assert.equal(region.lastKernelTime?.toISOString(), '2027-01-15T08:00:00.000Z');
});

test('rejects what is not a region, naming the field', () => {
  const cases: { name: string; bytes: Buffer; field: string }[] = [
    { name: 'too short', bytes: Buffer.alloc(100), field: 'size' },
    { name: 'no magic', bytes: Buffer.alloc(REGION_BYTES + 1), field: 'initialized_flag' },
    {
      name: 'future major version',
      bytes: (() => {
        const b = sampleRegion();
        b.writeUInt32LE(2, 4);
        return b;
      })(),
      field: 'major_version',
    },
    {
      name: 'corrupt process count',
      bytes: (() => {
        const b = sampleRegion();
        b.writeInt32LE(5000, 2008896);
        return b;
      })(),
      field: 'proc_num',
    },
  ];
  for (const c of cases) {
    assert.throws(
      () => decodeAccountingRegion(c.bytes),
      (error: unknown) => error instanceof RegionFormatError && error.field === c.field,
      c.name,
    );
  }
});
