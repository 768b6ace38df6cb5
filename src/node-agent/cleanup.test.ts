import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { removeOrphanedContainerFiles } from './cleanup.js';

test('files of pods that are gone are removed once older than the grace period; live and fresh ones stay', async () => {
  const root = mkdtempSync(join(tmpdir(), 'gc-'));
  const hook = join(root, 'vgpu');
  const cdi = join(root, 'cdi');
  const old = Date.now() / 1000 - 3600;
  const make = (path: string, aged: boolean, file = false): void => {
    if (file) writeFileSync(path, '{}');
    else mkdirSync(path, { recursive: true });
    if (aged) utimesSync(path, old, old);
  };
  mkdirSync(cdi);
  make(join(hook, 'containers', 'live-uid_main'), true);
  make(join(hook, 'containers', 'gone-uid_main'), true);
  make(join(hook, 'containers', 'fresh-uid_main'), false);
  make(join(hook, 'limits', 'gone-uid_main'), true);
  make(join(cdi, 'tessera.io-vgpu_gone-uid_main.json'), true, true);
  make(join(cdi, 'nvidia.com-gpu.yaml'), true, true);

  const removed = await removeOrphanedContainerFiles({ hookPath: hook, cdiDir: cdi }, new Set(['live-uid']), 60_000);
  assert.deepEqual(removed.sort(), [
    join(cdi, 'tessera.io-vgpu_gone-uid_main.json'),
    join(hook, 'containers', 'gone-uid_main'),
    join(hook, 'limits', 'gone-uid_main'),
  ]);
  assert.ok(existsSync(join(hook, 'containers', 'live-uid_main')));
  assert.ok(existsSync(join(hook, 'containers', 'fresh-uid_main')));
  assert.ok(existsSync(join(cdi, 'nvidia.com-gpu.yaml')), "other vendors' specs are not touched");
  assert.deepEqual(await removeOrphanedContainerFiles({ hookPath: join(root, 'absent') }, new Set()), []);
});
