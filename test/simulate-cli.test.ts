/**
 * `tessera simulate` end to end, as a user runs it: a synthetic workload (no trace files needed),
 * trace files in the openb layout, bad input, plots, the published-results comparison and the
 * online replay.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'tessera-simulate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tessera(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'simulate', ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NODES = ['sn,cpu_milli,memory_mib,gpu,model', 'n1,32000,131072,4,T4', 'n2,32000,131072,2,V100M32', 'n3,64000,262144,8,T4'].join('\n');
const TASKS = [
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
  ...Array.from({ length: 40 }, (_, i) => {
    const kind = i % 5;
    const gpus = kind === 4 ? 2 : kind === 3 ? 0 : 1;
    const milli = kind === 0 ? 500 : kind === 1 ? 250 : kind === 3 ? 0 : 1000;
    const spec = i % 7 === 0 && gpus > 0 ? 'T4' : '';
    return `t${String(i).padStart(3, '0')},${String(2000 + (i % 4) * 1000)},4096,${String(gpus)},${String(milli)},${spec},LS,Running,${String(i * 10)},${String(i * 10 + 300)},${String(i * 10)}`;
  }),
].join('\n');
writeFileSync(join(dir, 'nodes.csv'), NODES);
writeFileSync(join(dir, 'tasks.csv'), TASKS);
writeFileSync(join(dir, 'tasks2.csv'), TASKS);

interface Report {
  traces: {
    name: string;
    policies: { policy: string; unallocated: { mean: number; n: number }; allocation: { mean: (number | null)[] }; failedTo100: Record<string, number>; at100: Record<string, { mean: number }>; published: { withinTwoSd: boolean } | null }[];
    online: { policy: string; sharing: { meanUsefulPercent: { mean: number } }; exclusive: { meanUsefulPercent: { mean: number } } }[];
  }[];
}

test('a synthetic workload on the built-in example cluster, as JSON; worker threads give the same numbers', () => {
  const one = tessera('--seeds', '1-2', '--policy', 'fgd', '--policy', 'fragmentation', '--json', '--quiet', '--workers', '1');
  assert.equal(one.status, 0, one.stderr);
  const report = JSON.parse(one.stdout) as Report;
  const trace = report.traces[0];
  assert.equal(trace?.name, 'synthetic-1');
  assert.deepEqual(trace?.policies.map((p) => p.policy), ['fgd', 'fragmentation']);
  for (const p of trace?.policies ?? []) {
    assert.equal(p.unallocated.n, 2);
    assert.ok(p.unallocated.mean >= 0 && p.unallocated.mean < 30, `${p.policy}: ${String(p.unallocated.mean)}`);
    assert.equal(p.allocation.mean.length, 131);
    assert.deepEqual(Object.keys(p.failedTo100).sort(), ['1-gpu', 'cpu-only', 'multi-gpu', 'sharing', 'type-constrained']);
    const { idle, slivers, floor } = p.at100;
    assert.ok(idle && slivers && floor && floor.mean <= slivers.mean, `${p.policy}: ${JSON.stringify(p.at100)}`);
  }
  const two = tessera('--seeds', '1-2', '--policy', 'fgd', '--policy', 'fragmentation', '--json', '--quiet', '--workers', '2');
  assert.equal(two.status, 0, two.stderr);
  const strip = (text: string): unknown =>
    JSON.parse(text, (key: string, v: unknown) => (key === 'seconds' || key === 'secondsPerRun' ? 0 : v));
  assert.deepEqual(strip(two.stdout), strip(one.stdout));
});

test('trace files: a table per trace, progress on stderr, one plot per trace', () => {
  const plot = join(dir, 'curves.svg');
  const r = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'tasks.csv'), '--pods', join(dir, 'tasks2.csv'), '--seeds', '3', '--plot', plot, '--workers', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tasks {2}\(nodes: .*nodes\.csv; tasks: .*tasks\.csv; 1 seed\)/m);
  assert.match(r.stdout, /^fragmentation +\d+\.\d\d ± /m);
  assert.match(r.stdout, /Failed tasks per run/);
  assert.match(r.stdout, /^policy +unallocated +idle GPUs +slivers +packing floor +packing loss$/m);
  assert.match(r.stdout, /^fgd +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d(–\d+\.\d\d)? +\d+\.\d\d$/m);
  assert.match(r.stdout, /^(Had every share arriving by 100% been placed, no packing would leave less than \d+\.\d\d%|The shares arriving by 100% alone need more GPUs)/m);
  assert.match(r.stderr, /\[\d+\/18\] tasks2 best-fit seed 3: \d+\.\d\d% unallocated/);
  for (const name of ['curves-tasks.svg', 'curves-tasks2.svg']) {
    const svg = readFileSync(join(dir, name), 'utf8');
    assert.match(svg, /<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /fragmentation \(\d+\.\d\d% unallocated\)/);
  }
});

test('bad input stops the run naming file, line, column and value, and writes nothing', () => {
  const bad = TASKS.replace('t003,5000,4096', 't003,5000,lots');
  writeFileSync(join(dir, 'bad.csv'), bad);
  const plot = join(dir, 'never.svg');
  const r = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'bad.csv'), '--plot', plot, '--seeds', '1');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^tessera: .*bad\.csv:5: column 3 \(memory_mib\)="lots" is not a whole number/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for bad input');
  assert.equal(r.stdout, '');
  assert.equal(existsSync(plot), false);

  writeFileSync(join(dir, 'model.csv'), TASKS.replace('t007,5000,4096,1,1000,T4', 't007,5000,4096,1,1000,H100'));
  const model = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'model.csv'), '--seeds', '1');
  assert.equal(model.status, 1);
  assert.match(model.stderr, /model\.csv:9: column 6 \(gpu_spec\)="H100" names GPU model "H100", which no node has \(models: T4, V100M32\)/);

  writeFileSync(join(dir, 'negative.csv'), TASKS.replace('t001,3000', 't001,-3000'));
  assert.match(tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'negative.csv')).stderr, /negative\.csv:3: column 2 \(cpu_milli\)="-3000" is negative/);

  writeFileSync(join(dir, 'nocolumn.csv'), TASKS.replace('num_gpu,', 'gpus,'));
  assert.match(tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'nocolumn.csv')).stderr, /nocolumn\.csv:1: header=.* lacks the required column "num_gpu"/);

  assert.match(tessera('--seeds', '9-2').stderr, /'9-2' is not a seed range/);
  assert.match(tessera('--policy', 'tetris').stderr, /unknown policy "tetris"; known: random, dot-product/);
  assert.match(tessera('--nodes', join(dir, 'nodes.csv')).stderr, /--nodes and --pods go together/);
});

test('published results print side by side, with whether the reproduction is within 2 sd', () => {
  const header = ['workload', 'sc_policy', 'tune', 'seed', 'total_gpus', ...Array.from({ length: 131 }, (_, x) => String(x))].join(',');
  const row = (seed: number, a100: number): string =>
    ['tasks', '06-FGD', '1.3', String(seed), '14', ...Array.from({ length: 131 }, (_, x) => String(x === 100 ? a100 : Math.min(x, 95)))].join(',');
  writeFileSync(join(dir, 'published.csv'), [header, row(42, 90), row(43, 92)].join('\n'));
  const r = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'tasks.csv'), '--policy', 'fgd', '--policy', 'fragmentation', '--seeds', '1-2', '--compare-reference', join(dir, 'published.csv'), '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const [fgd, ours] = (JSON.parse(r.stdout) as Report).traces[0]?.policies ?? [];
  // Published unallocated: 100 − 90 = 10 and 100 − 92 = 8.
  assert.ok(fgd?.published, 'fgd has a published counterpart');
  assert.equal(ours?.published, null, 'Tessera policies have none');
  const table = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'tasks.csv'), '--policy', 'fgd', '--seeds', '1', '--compare-reference', join(dir, 'published.csv'), '--quiet');
  assert.match(table.stdout, /published.*within 2 sd/);
  assert.match(table.stdout, /^fgd .* 9\.00 ± 1\.41 /m);
});

test('online replay: sharing against whole GPUs', () => {
  const r = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'tasks.csv'), '--online', '--speedup', '5', '--policy', 'best-fit', '--seeds', '1', '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const online = (JSON.parse(r.stdout) as Report).traces[0]?.online[0];
  assert.equal(online?.policy, 'best-fit');
  // Rounding shares up to whole GPUs holds more GPU for the same useful requests, never less useful work.
  assert.ok((online?.sharing.meanUsefulPercent.mean ?? 0) >= (online?.exclusive.meanUsefulPercent.mean ?? Infinity) - 1e-9);
  const table = tessera('--nodes', join(dir, 'nodes.csv'), '--pods', join(dir, 'tasks.csv'), '--online', '--policy', 'best-fit', '--seeds', '1', '--quiet');
  assert.match(table.stdout, /best-fit +whole GPUs/);
  assert.match(table.stdout, /best-fit: the same tasks hold \d+\.\d\d% of the GPUs as whole GPUs and \d+\.\d\d% shared: sharing fits \d+\.\d\d× the work/);
});
