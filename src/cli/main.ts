#!/usr/bin/env node
/**
 * Entry point of the `tessera` command. Subcommands live in `./commands/` and are registered
 * from the list in `./commands/index.ts`; this file only builds the root program and parses.
 */
import { createRequire } from 'node:module';

import { Command, InvalidArgumentError } from '@commander-js/extra-typings';

import { TesseraError } from '../core/errors.js';
import { commands } from './commands/index.js';

/**
 * The package version. `package.json` sits two levels above both `src/cli/main.ts` (run through
 * tsx) and `dist/cli/main.js` (built), so one relative path serves both.
 */
function packageVersion(): string {
  const pkg: unknown = createRequire(import.meta.url)('../../package.json');
  if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
    return pkg.version;
  }
  throw new Error("package.json has no string 'version' field");
}

const program = new Command()
  .name('tessera')
  .description('Kubernetes GPU sharing, wire-compatible with HAMi.')
  .version(packageVersion());

for (const register of commands) {
  register(program);
}

// Commander reports "unknown command 'x'" (exit 1) only once at least one subcommand exists; with
// none it would say "too many arguments" instead. Keep the same message in both cases.
if (program.commands.length === 0) {
  program.on('command:*', (operands: string[]) => {
    program.error(`error: unknown command '${operands[0] ?? ''}'`, {
      code: 'commander.unknownCommand',
    });
  });
}

try {
  await program.parseAsync();
} catch (e) {
  // Bad input is the user's to fix: say what and where, without a stack trace. Anything else is
  // a bug in tessera and keeps its stack.
  if (e instanceof TesseraError || e instanceof InvalidArgumentError) {
    process.stderr.write(`tessera: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
