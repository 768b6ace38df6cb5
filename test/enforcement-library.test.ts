/**
 * The C enforcement library (native/), built with gcc and make as it ships and run
 * against the fake CUDA driver: every case of native/test/cases.txt, in the
 * release build and under AddressSanitizer and UndefinedBehaviorSanitizer.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const native = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const variants = ['release', 'asan', 'ubsan'] as const;

/** Case names, in file order: the first word of every non-comment line. */
function caseNames(): string[] {
  return readFileSync(join(native, 'test', 'cases.txt'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0)
    .map((line) => line.split(/\s+/)[0] ?? '');
}

/** The functions the library wraps: every one must be exported, and nothing else. */
const exported = [
  'dlsym',
  'cuGetProcAddress',
  'cuGetProcAddress_v2',
  'cuMemAlloc_v2',
  'cuMemAllocPitch_v2',
  'cuMemAllocManaged',
  'cuMemFree_v2',
  'cuMemCreate',
  'cuMemRelease',
  'cuMemAllocAsync',
  'cuMemAllocAsync_ptsz',
  'cuMemAllocFromPoolAsync',
  'cuMemAllocFromPoolAsync_ptsz',
  'cuMemFreeAsync',
  'cuMemFreeAsync_ptsz',
  'cuMemPoolCreate',
  'cuMemPoolDestroy',
  'cuMemPoolTrimTo',
  'cuArrayCreate_v2',
  'cuArray3DCreate_v2',
  'cuArrayDestroy',
  'cuMipmappedArrayCreate',
  'cuMipmappedArrayDestroy',
  'cuMemGetInfo_v2',
  'cuDeviceTotalMem_v2',
  'cuLaunchKernel',
  'cuLaunchKernel_ptsz',
  'cuLaunchKernelEx',
  'cuLaunchKernelEx_ptsz',
  'cuLaunchCooperativeKernel',
  'cuLaunchCooperativeKernel_ptsz',
  'cuGraphLaunch',
  'cuGraphLaunch_ptsz',
  'nvmlDeviceGetMemoryInfo',
  'nvmlDeviceGetMemoryInfo_v2',
].sort();

/** Cases that measure compute duty cycles in real time. */
const REAL_TIME = /^(limiter|share)-/;

describe('enforcement library', () => {
  before(() => {
    for (const variant of variants) {
      execFileSync('make', ['-s', '-j2', '-C', native, `VARIANT=${variant}`, 'tests'], { stdio: 'inherit' });
    }
  });

  test('the shipped build exports the wrapped driver functions and nothing else', () => {
    const lib = join(native, 'build', 'release', 'libtessera.so');
    const symbols = execFileSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[2])
      .filter((name): name is string => name !== undefined)
      .sort();
    assert.deepEqual(symbols, exported);
    const debugSections = execFileSync('readelf', ['-S', lib], { encoding: 'utf8' });
    assert.doesNotMatch(debugSections, /\.debug_info|\.symtab/, 'the release build ships stripped');
    const dynamic = execFileSync('readelf', ['-d', lib], { encoding: 'utf8' });
    assert.doesNotMatch(dynamic, /libcuda|libnvidia-ml/, 'no link-time dependency on the driver');
  });

  for (const variant of variants) {
    describe(variant, () => {
      for (const name of caseNames()) {
        test(name, (t) => {
          const once = () => spawnSync(join(native, 'test', 'run.sh'), [variant, name], { encoding: 'utf8' });
          let run = once();
          // The compute cases measure duty cycles in real time over about a second; on a shared
          // 2-core machine another process can take the CPU for part of that second. Such a case
          // gets one more try, and fails if the second measurement is off too: a broken limiter is
          // off every time.
          if (run.status !== 0 && REAL_TIME.test(name)) {
            t.diagnostic(`${variant} ${name}: first measurement failed, measuring again:\n${run.stdout}${run.stderr}`);
            run = once();
          }
          assert.equal(run.status, 0, `${variant} ${name} failed:\n${run.stdout}${run.stderr}`);
        });
      }
    });
  }
});
