/**
 * Benchmark: the enforcement library's cost per kernel launch, on the host, against the fake
 * driver (no GPU). Prints JSON. The GPU-side figures (native/gpu-check.sh) cannot resolve a
 * cost this small: launch-bound runs on the lent H200 varied by ±13% from run to run.
 *
 *   npm run bench -- enforcement-launch
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const native = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const out = join(native, 'build', 'release');

async function nsPerLaunch(env: Record<string, string>): Promise<number> {
  const { stdout } = await run(join(out, 'bench', 'launch_cost'), ['2000000', '5'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LD_LIBRARY_PATH: join(out, 'fake'), ...env },
  });
  const parsed: unknown = JSON.parse(stdout);
  if (typeof parsed !== 'object' || parsed === null || !('nsPerLaunch' in parsed) || typeof parsed.nsPerLaunch !== 'number') {
    throw new Error(`launch_cost printed ${stdout}`);
  }
  return parsed.nsPerLaunch;
}

export async function main(): Promise<void> {
  await run('make', ['-s', '-C', native, 'VARIANT=release', 'bench']);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  try {
    const preload = { LD_PRELOAD: join(out, 'libtessera.so'), CUDA_DEVICE_MEMORY_SHARED_CACHE: join(dir, 'r.cache') };
    const driver = await nsPerLaunch({});
    const loaded = await nsPerLaunch({ ...preload, CUDA_DEVICE_MEMORY_LIMIT: '4g' });
    const board = await nsPerLaunch({ ...preload, CUDA_DEVICE_MEMORY_LIMIT: '4g', TESSERA_BOARD_DIR: dir });
    const result = {
      benchmark: 'enforcement-launch',
      fakeDriverNsPerLaunch: driver,
      withLibraryNsPerLaunch: loaded,
      libraryNsPerLaunch: +(loaded - driver).toFixed(2),
      withDeviceBoardNsPerLaunch: board,
      deviceBoardNsPerLaunch: +(board - driver).toFixed(2),
      // Against the 3.4-4.8 µs a tiny kernel launch took through the CUDA runtime on the H200.
      shareOfRealLaunchPercent: +((100 * (board - driver)) / 3400).toFixed(2),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
