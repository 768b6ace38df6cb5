/**
 * src/core is the pure domain: the scheduler, the simulator and the benchmarks all run it, so it
 * must not reach the network, the disk, gRPC or the Kubernetes API. Its modules import only each
 * other; its tests, and the test helpers in src/core/testing, may add the test runner, assertions
 * and fast-check.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const core = join(root, 'src', 'core');
const TEST_ONLY = new Set(['node:test', 'node:assert', 'node:assert/strict', 'fast-check']);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function imports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) found.push(m[1] ?? '');
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1] ?? '');
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1] ?? '');
  for (const m of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1] ?? '');
  return found;
}

test('src/core imports nothing with I/O', () => {
  const violations: string[] = [];
  const all = files(core);
  assert.ok(all.length > 10, 'the scan found the core modules');
  for (const file of all) {
    const isTest = file.endsWith('.test.ts') || file.startsWith(join(core, 'testing'));
    for (const spec of imports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('./') || spec.startsWith('../')) {
        const target = join(dirname(file), spec);
        if (!target.startsWith(core)) violations.push(`${relative(root, file)} reaches outside src/core: ${spec}`);
        continue;
      }
      if (isTest && TEST_ONLY.has(spec)) continue;
      violations.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the check itself catches a forbidden import', () => {
  assert.deepEqual(imports("import http from 'node:http';\nimport { x } from './y.js';"), ['node:http', './y.js']);
  assert.deepEqual(imports("const k = await import('@kubernetes/client-node');"), ['@kubernetes/client-node']);
});
