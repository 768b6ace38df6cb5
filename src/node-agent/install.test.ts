import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { installHook } from './install.js';

test('install places the library, writes ld.so.preload naming it, and creates the directories; twice is fine', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hook-'));
  const library = join(root, 'build.so');
  writeFileSync(library, 'ELF v1');
  const options = { library, hookPath: join(root, 'vgpu'), boardDir: join(root, 'vgpulock') };
  const result = await installHook(options);
  assert.equal(result.library, join(root, 'vgpu', 'libtessera.so'));
  assert.equal(readFileSync(result.preload, 'utf8'), `${result.library}\n`);
  assert.equal(readFileSync(result.library, 'utf8'), 'ELF v1');
  assert.ok(statSync(join(root, 'vgpu', 'containers')).isDirectory());
  assert.ok(statSync(join(root, 'vgpu', 'limits')).isDirectory());
  assert.equal(statSync(join(root, 'vgpulock')).mode & 0o7777, 0o1777);
  writeFileSync(library, 'ELF v2');
  await installHook(options);
  assert.equal(readFileSync(result.library, 'utf8'), 'ELF v2');
});

test('a missing library or a path as name is refused with the flag to fix', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hook-'));
  await assert.rejects(installHook({ library: join(root, 'nope.so'), hookPath: root }), /library ".*nope\.so" cannot be read .* --library/);
  writeFileSync(join(root, 'lib.so'), '');
  await assert.rejects(installHook({ library: join(root, 'lib.so'), hookPath: root, name: '../x.so' }), /--name must be a file name/);
});
