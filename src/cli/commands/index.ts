import type { Command } from '@commander-js/extra-typings';

import { tourCommand } from './demo.js';
import { demoCommand } from './demo-cluster.js';
import { explainCommand } from './explain.js';
import { nodeAgentCommand } from './node-agent.js';
import { schedulerCommand } from './scheduler.js';
import { simulateCommand } from './simulate.js';

/**
 * Adds one subcommand, with its options and action, to the root `tessera` program.
 * A factory must not parse arguments or start work itself; commander calls the action.
 */
export type CommandFactory = (program: Command) => void;

/** Every subcommand of `tessera`, in the order `tessera --help` lists them. */
export const commands: readonly CommandFactory[] = [demoCommand, tourCommand, simulateCommand, schedulerCommand, nodeAgentCommand, explainCommand];
