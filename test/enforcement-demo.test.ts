/**
 * `tessera tour --only enforcement`: the shipped library on the simulated GPU. Also the
 * cross-language check that the TypeScript region decoder reads what the C library writes.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { buildNative, type DemoReport, formatDemoReport, runEnforcementDemo } from '../src/demo/enforcement-demo.js';

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const MIB = 1024n * 1024n;

/** The compute figures that miss what the demo claims; empty when all hold. */
function computeMisses(report: DemoReport): string[] {
  const misses: string[] = [];
  for (const s of report.shares) if (Math.abs(s.dutyPercent - s.sharePercent) >= 5) misses.push(`${String(s.sharePercent)}% share gave ${String(s.dutyPercent)}%`);
  for (const d of report.sideBySide) if (Math.abs(d - 50) >= 8) misses.push(`side by side: ${String(d)}%`);
  if (report.priority.high < 90) misses.push(`priority 0 got ${String(report.priority.high)}%`);
  return misses;
}

test('the demo shows the limit, the region, the shares and the priorities it claims', async (t) => {
  const build = await buildNative(nativeDir);
  let report = await runEnforcementDemo(build, 0.6);
  // The compute figures are duty cycles measured in real time over 0.6 s; on a shared machine
  // another process can take the CPU for part of that. As in test/enforcement-library.test.ts, a
  // miss gets one more measurement, and a limiter that is off both times fails.
  let misses = computeMisses(report);
  if (misses.length > 0) {
    t.diagnostic(`first measurement missed (${misses.join('; ')}), measuring again`);
    report = await runEnforcementDemo(build, 0.6);
    misses = computeMisses(report);
  }
  assert.deepEqual(misses, []);

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

  const text = formatDemoReport(report, build.library);
  assert.match(text, /then CUDA_ERROR_OUT_OF_MEMORY/);
  assert.match(text, /limit 4096 MiB, in use 4096 MiB/);
});
