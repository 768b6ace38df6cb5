import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InvalidArgumentError } from '@commander-js/extra-typings';

import { buildNative, formatDemoReport, runEnforcementDemo } from '../../demo/enforcement-demo.js';
import { formatPlacementExample, runPlacementExample } from '../../demo/placement-example.js';
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

function part(value: string): 'placement' | 'enforcement' {
  if (value === 'placement' || value === 'enforcement') return value;
  throw new InvalidArgumentError(`'${value}' is not a part of the demo: choose placement or enforcement.`);
}

export const demoCommand: CommandFactory = (program) => {
  program
    .command('demo')
    .description(
      'place a built-in workload on a built-in cluster with the placement engine, then run the in-container ' +
        'enforcement library on a simulated GPU and show what containers get',
    )
    .option('--seconds <n>', 'length of each compute measurement', seconds, 1)
    .option('--only <part>', 'run one part only: placement or enforcement', part)
    .action(async (options) => {
      if (options.only !== 'enforcement') {
        const report = runPlacementExample('binpack');
        const others = (['spread', 'fragmentation'] as const).map((p) => runPlacementExample(p));
        process.stdout.write(`${formatPlacementExample(report, others)}\n\n`);
      }
      if (options.only !== 'placement') {
        const build = await buildNative(nativeDir);
        const report = await runEnforcementDemo(build, options.seconds);
        process.stdout.write(`${formatDemoReport(report, build.library)}\n`);
      }
    });
};
