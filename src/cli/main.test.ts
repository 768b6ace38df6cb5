import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `tessera <args>` from the TypeScript sources, the way `npm test` sees them. */
function runCli(args: readonly string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

test('--version prints the version from package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const result = runCli(['--version']);
  assert.equal(result.stderr, '');
  assert.equal(result.status, 0);
  assert.equal(result.stdout.trim(), pkg.version);
});

test('an unknown command exits 1 and names the command', () => {
  const result = runCli(['no-such-command']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /unknown command 'no-such-command'/);
});
