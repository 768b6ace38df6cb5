import assert from 'node:assert/strict';
import { test } from 'node:test';

import { countNvLinks, pcieRelationByNuma, pcieRelationOfLevel } from './topology.js';
import { xidHealthReason } from './xid.js';

test('nvmlGpuTopologyLevel_t maps to the PCIe relations, in-between values to the farther one', () => {
  const cases: [number, string][] = [
    [0, 'same-board'],
    [10, 'single-switch'],
    [20, 'multi-switch'],
    [25, 'host-bridge'],
    [30, 'host-bridge'],
    [40, 'same-cpu'],
    [50, 'cross-cpu'],
    [60, 'cross-cpu'],
  ];
  for (const [level, want] of cases) assert.equal(pcieRelationOfLevel(level), want, `level ${String(level)}`);
  assert.equal(pcieRelationByNuma(1, 1), 'same-cpu');
  assert.equal(pcieRelationByNuma(0, 1), 'cross-cpu');
});

test('NVLinks: direct links to the other GPU, plus the smaller switch count when both have one', () => {
  const b = '00000000:31:00.0';
  const cases = [
    { name: 'direct only', a: { toGpu: [b, b, '00000000:B1:00.0'], toSwitch: 0 }, b: { toGpu: [], toSwitch: 0 }, want: 2 },
    { name: 'switch on one side only', a: { toGpu: [], toSwitch: 12 }, b: { toGpu: [], toSwitch: 0 }, want: 0 },
    { name: 'switch on both sides', a: { toGpu: [], toSwitch: 18 }, b: { toGpu: [], toSwitch: 12 }, want: 12 },
    { name: 'both kinds', a: { toGpu: [b], toSwitch: 6 }, b: { toGpu: [], toSwitch: 6 }, want: 7 },
  ];
  for (const c of cases) assert.equal(countNvLinks(c.a, b, c.b), c.want, c.name);
});

test('XIDs: application ones leave the device healthy, others name the XID', () => {
  for (const xid of [13, 31, 43, 45, 68, 109]) assert.equal(xidHealthReason(xid), undefined, `XID ${String(xid)}`);
  assert.equal(xidHealthReason(79), 'XID 79: GPU has fallen off the bus');
  assert.equal(xidHealthReason(61), 'XID 61');
});
