/**
 * `tessera tour --only enforcement`: the shipped library on the simulated GPU. Also the
 * cross-language check that the TypeScript region decoder reads what the C library writes.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { buildNative, formatDemoReport, runEnforcementDemo } from '../src/demo/enforcement-demo.js';

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const MIB = 1024n * 1024n;

test('the demo shows the limit, the region, the shares and the priorities it claims', async () => {
  const build = await buildNative(nativeDir);
  const report = await runEnforcementDemo(build, 0.6);

  const { first, second, region } = report.memory;
  assert.equal(first.heldMiB, 3072);
  assert.equal(second.heldMiB, 1024);
  assert.equal(second.refused, true);
  assert.equal(second.totalMiB, 4096);
  assert.equal(second.freeMiB, 0);
  assert.equal(region.devices[0]?.limitBytes, 4096n * MIB);
  assert.equal(region.devices[0]?.usedBytes, 4096n * MIB);
  assert.deepEqual(
    region.processes.map((p) => [p.pid, p.usedBytes[0]]).sort(),
    [
      [first.pid, 3072n * MIB],
      [second.pid, 1024n * MIB],
    ].sort(),
  );

  for (const s of report.shares) {
    assert.ok(Math.abs(s.dutyPercent - s.sharePercent) < 5, `${String(s.sharePercent)}% share gave ${String(s.dutyPercent)}%`);
  }
  for (const d of report.sideBySide) assert.ok(Math.abs(d - 50) < 8, `side by side: ${String(d)}%`);
  assert.ok(report.priority.high >= 90, `priority 0 got ${String(report.priority.high)}%`);

  const text = formatDemoReport(report, build.library);
  assert.match(text, /then CUDA_ERROR_OUT_OF_MEMORY/);
  assert.match(text, /limit 4096 MiB, in use 4096 MiB/);
});
