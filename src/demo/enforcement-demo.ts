/**
 * The enforcement part of `tessera tour`: the real
 * in-container library, built as it ships, preloaded into workloads that run on the
 * simulated GPU of native/fake/. It shows what a container sees and what it gets: a memory
 * limit shared by the container's processes, the accounting region as the node agent reads
 * it, compute shares, two containers side by side, and priorities.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import { type AccountingRegion, decodeAccountingRegion } from '../node-agent/accounting-region.js';

const run = promisify(execFile);

export interface NativeBuild {
  readonly library: string;
  readonly fakeDriverDir: string;
  readonly workload: string;
}

/** Builds the shipped library, the fake driver and the demo workload (incremental). */
export async function buildNative(nativeDir: string): Promise<NativeBuild> {
  try {
    await run('make', ['-s', '-C', nativeDir, 'VARIANT=release', 'demo']);
  } catch (error) {
    throw new Error(`building the enforcement library failed (needs gcc and make): ${String(error)}`, { cause: error });
  }
  const out = join(nativeDir, 'build', 'release');
  return { library: join(out, 'libtessera.so'), fakeDriverDir: join(out, 'fake'), workload: join(out, 'demo', 'workload') };
}

/** One container: its own accounting region, with the environment a device plugin would inject. */
interface Container {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}

interface FillResult {
  readonly pid: number;
  readonly heldMiB: number;
  readonly refused: boolean;
  readonly totalMiB: number;
  readonly freeMiB: number;
}

interface ComputeResult {
  readonly pid: number;
  readonly dutyPercent: number;
}

export interface DemoReport {
  readonly gpuMiB: number;
  readonly memory: {
    readonly limitMiB: number;
    readonly first: FillResult;
    readonly second: FillResult;
    readonly region: AccountingRegion;
  };
  readonly shares: readonly { readonly sharePercent: number; readonly dutyPercent: number }[];
  readonly sideBySide: readonly number[];
  readonly priority: { readonly high: number; readonly low: number };
}

class Session {
  private serial = 0;

  constructor(
    private readonly build: NativeBuild,
    private readonly dir: string,
    private readonly gpuMiB: number,
  ) {}

  async container(name: string, env: Record<string, string>): Promise<Container> {
    const home = join(this.dir, `${name}-${String(this.serial++)}`);
    await mkdir(home, { recursive: true });
    return { name, env: { ...env, CUDA_DEVICE_MEMORY_SHARED_CACHE: join(home, 'usage.cache') } };
  }

  /** Starts the workload in a container; resolves each JSON line it prints, in order. */
  start(container: Container, args: readonly string[]): { lines: AsyncIterator<string>; done: Promise<void> } {
    const child = spawn(this.build.workload, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LD_PRELOAD: this.build.library,
        LD_LIBRARY_PATH: this.build.fakeDriverDir,
        FAKE_GPU_MEMORY_MIB: String(this.gpuMiB),
        // One simulated GPU for every container, and the node-wide device board beside it.
        FAKE_GPU_STATE: join(this.dir, 'gpu.state'),
        TESSERA_BOARD_DIR: join(this.dir, 'board'),
        LIBCUDA_LOG_LEVEL: '1',
        ...container.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const done = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`workload ${args.join(' ')} in ${container.name} exited ${String(code)}: ${stderr}`)),
      );
    });
    return { lines, done };
  }

  async result<T>(container: Container, args: readonly string[]): Promise<T> {
    const { lines, done } = this.start(container, args);
    const first = await lines.next();
    await done;
    return parseLine<T>(first.value);
  }
}

function parseLine<T>(line: unknown): T {
  if (typeof line !== 'string') throw new Error('the workload printed nothing');
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || 'error' in value) throw new Error(`the workload failed: ${line}`);
  return value as T;
}

/** Runs every scenario; seconds is the length of each compute measurement. */
export async function runEnforcementDemo(build: NativeBuild, seconds = 1): Promise<DemoReport> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-'));
  await mkdir(join(dir, 'board'));
  const gpuMiB = 81920;
  const session = new Session(build, dir, gpuMiB);
  const time = seconds.toFixed(2);
  try {
    // Memory: two processes of one container share its 4 GiB.
    const inference = await session.container('inference', { CUDA_DEVICE_MEMORY_LIMIT: '4g' });
    const server = session.start(inference, ['fill', '512', '3072', '3000']);
    const first = parseLine<FillResult>((await server.lines.next()).value);
    const sidecar = session.start(inference, ['fill', '256', '0', '1500']);
    const second = parseLine<FillResult>((await sidecar.lines.next()).value);
    const region = decodeAccountingRegion(await readFile(inference.env.CUDA_DEVICE_MEMORY_SHARED_CACHE ?? ''));
    await Promise.all([server.done, sidecar.done]);

    const shares = [];
    for (const sharePercent of [25, 50, 75]) {
      const c = await session.container(`share-${String(sharePercent)}`, { CUDA_DEVICE_SM_LIMIT: String(sharePercent) });
      const r = await session.result<ComputeResult>(c, ['compute', time, '500']);
      shares.push({ sharePercent, dutyPercent: r.dutyPercent });
    }

    const pair = await Promise.all(
      [0, 1].map(async (i) => {
        const c = await session.container(`half-${String(i)}`, { CUDA_DEVICE_SM_LIMIT: '50' });
        return session.result<ComputeResult>(c, ['compute', time, '500']);
      }),
    );

    // A latency-critical container (priority 0) arrives while a batch job (priority 1) runs.
    const batch = await session.container('batch', { CUDA_TASK_PRIORITY: '1' });
    const online = await session.container('online', { CUDA_TASK_PRIORITY: '0' });
    const low = session.result<ComputeResult>(batch, ['compute', (seconds * 2).toFixed(2), '500']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const high = await session.result<ComputeResult>(online, ['compute', time, '500']);
    const lowResult = await low;

    return {
      gpuMiB,
      memory: { limitMiB: 4096, first, second, region },
      shares,
      sideBySide: pair.map((r) => r.dutyPercent),
      priority: { high: high.dutyPercent, low: lowResult.dutyPercent },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MIB = 1024n * 1024n;

export function formatDemoReport(report: DemoReport, library: string): string {
  const m = report.memory;
  const dev = m.region.devices[0];
  const lines = [
    'Tessera enforcement demo',
    `The in-container library as it ships (${library}), preloaded into workloads`,
    `on a simulated ${String(report.gpuMiB / 1024)} GiB GPU (native/fake): no GPU needed.`,
    '',
    `Memory: container "inference" with CUDA_DEVICE_MEMORY_LIMIT=4g`,
    `  process ${String(m.first.pid)} takes 512 MiB chunks up to 3072 MiB: holds ${String(m.first.heldMiB)} MiB`,
    `  process ${String(m.second.pid)} takes 256 MiB chunks until refused: holds ${String(m.second.heldMiB)} MiB, ` +
      (m.second.refused ? 'then CUDA_ERROR_OUT_OF_MEMORY' : 'never refused'),
    `  cuMemGetInfo inside the container: total ${String(m.second.totalMiB)} MiB, free ${String(m.second.freeMiB)} MiB`,
    '  accounting region, as the node agent reads it:',
    `    device 0 ${dev?.uuid ?? '?'}: limit ${String((dev?.limitBytes ?? 0n) / MIB)} MiB, ` +
      `in use ${String((dev?.usedBytes ?? 0n) / MIB)} MiB`,
    ...m.region.processes.map((p) => `    pid ${String(p.pid)}: ${String((p.usedBytes[0] ?? 0n) / MIB)} MiB (${p.status})`),
    '',
    'Compute: share of the GPU (CUDA_DEVICE_SM_LIMIT) and the duty cycle measured on the device',
    ...report.shares.map((s) => `  ${String(s.sharePercent).padStart(3)}%  ->  ${s.dutyPercent.toFixed(1)}%`),
    `  two containers at 50% side by side: ${report.sideBySide.map((d) => `${d.toFixed(1)}%`).join(' and ')}`,
    `  priority 0 container arriving beside a busy priority 1 one: ${report.priority.high.toFixed(1)}% ` +
      `(the priority 1 container got ${report.priority.low.toFixed(1)}% over its longer run)`,
    '',
    'See docs/enforcement.md for the configuration and native/gpu-check.sh for the same on a real GPU.',
  ];
  return lines.join('\n');
}
