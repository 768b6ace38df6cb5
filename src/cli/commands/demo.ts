import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InvalidArgumentError } from '@commander-js/extra-typings';

import { buildNative, formatDemoReport, runEnforcementDemo } from '../../demo/enforcement-demo.js';
import { formatPlacementExample, runPlacementExample } from '../../demo/placement-example.js';
import { runSimulationExample } from '../../demo/simulation-example.js';
import type { CommandFactory } from './index.js';

/** native/ sits at the repository root, three levels above src/cli/commands and dist/cli/commands. */
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native');

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.2 || n > 60) {
    throw new InvalidArgumentError(`'${value}' is not a number of seconds between 0.2 and 60.`);
  }
  return n;
}

const PARTS = ['placement', 'simulation', 'enforcement'] as const;

function part(value: string): (typeof PARTS)[number] {
  const found = PARTS.find((p) => p === value);
  if (found) return found;
  throw new InvalidArgumentError(`'${value}' is not a part of the demo: choose ${PARTS.join(', ')}.`);
}

export const tourCommand: CommandFactory = (program) => {
  program
    .command('tour')
    .description(
      'place a built-in workload on a built-in cluster with the placement engine, fill a simulated cluster with a ' +
        'synthetic GPU-sharing workload under several policies, then run the in-container enforcement library on a ' +
        'simulated GPU and show what containers get',
    )
    .option('--seconds <n>', 'length of each compute measurement', seconds, 1)
    .option('--only <part>', `run one part only: ${PARTS.join(', ')}`, part)
    .action(async (options) => {
      if (options.only === undefined || options.only === 'placement') {
        const report = runPlacementExample('binpack');
        const others = (['spread', 'fragmentation'] as const).map((p) => runPlacementExample(p));
        process.stdout.write(`${formatPlacementExample(report, others)}\n\n`);
      }
      if (options.only === undefined || options.only === 'simulation') {
        process.stdout.write(`${await runSimulationExample()}\n\n`);
      }
      if (options.only === undefined || options.only === 'enforcement') {
        const build = await buildNative(nativeDir);
        const report = await runEnforcementDemo(build, options.seconds);
        process.stdout.write(`${formatDemoReport(report, build.library)}\n`);
      }
    });
};
