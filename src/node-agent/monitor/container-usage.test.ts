import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { buildRegion, writeRegion } from '../../../test/support/accounting-region.js';
import { parseContainerDir, scanContainerRegions, type PodLookup } from './container-usage.js';

const MIB = 1024n * 1024n;
const UUID = 'GPU-fa4e0000-0000-0000-0000-000000000000';
const PODS: PodLookup = (uid) =>
  ({ 'uid-a': { namespace: 'ml', name: 'trainer' }, 'uid-b': { namespace: 'default', name: 'web' } })[uid];

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tessera-monitor-scan-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('parseContainerDir splits at the first underscore', () => {
  const cases: { input: string; want: ReturnType<typeof parseContainerDir> }[] = [
    { input: '0b6e-11_main', want: { podUid: '0b6e-11', container: 'main' } },
    { input: 'uid_side_car', want: { podUid: 'uid', container: 'side_car' } },
    { input: 'nounderscore', want: undefined },
    { input: '_main', want: undefined },
    { input: 'uid_', want: undefined },
  ];
  for (const c of cases) assert.deepEqual(parseContainerDir(c.input), c.want, c.input);
});

test('a node without a containers directory has nothing to report', async () => {
  assert.deepEqual(await scanContainerRegions(join(scratch, 'nothing'), PODS), { containers: [], skipped: [] });
});

test('reads every container region, maps it to its pod, and skips the rest with a reason', async () => {
  const hook = join(scratch, 'hook');
  const region = { devices: [{ uuid: UUID, limitBytes: 4096n * MIB, smLimit: 25 }], processes: [{ pid: 7, used: [512n * MIB] }] };
  const good = await writeRegion(hook, 'uid-a', 'main', region);
  await writeRegion(hook, 'uid-b', 'web', { devices: [{ uuid: UUID }] });
  await writeRegion(hook, 'uid-gone', 'main', region); // pod not on the node
  const garbage = join(hook, 'containers', 'uid-b_broken', 'usage.cache');
  await mkdir(join(hook, 'containers', 'uid-b_broken'));
  await writeFile(garbage, Buffer.alloc(100)); // too short to be a region
  await mkdir(join(hook, 'containers', 'uid-b_starting')); // no CUDA process yet: no file, no reason
  await mkdir(join(hook, 'containers', 'stray'));
  const second = join(hook, 'containers', 'uid-a_main', 'z.cache');
  await writeFile(second, buildRegion(region));

  const scan = await scanContainerRegions(hook, PODS);
  assert.deepEqual(
    scan.containers.map((c) => [c.namespace, c.pod, c.container, c.podUid, c.file, c.region.devices[0]?.usedBytes]),
    [
      ['ml', 'trainer', 'main', 'uid-a', good, 512n * MIB],
      ['default', 'web', 'web', 'uid-b', join(hook, 'containers', 'uid-b_web', 'usage.cache'), 0n],
    ],
  );
  assert.deepEqual(
    scan.skipped.map((s) => [s.path, s.reason.replace(/\d+ bytes; a v1 region has at least \d+/, 'N bytes')]),
    [
      [join(hook, 'containers', 'stray'), 'not a <podUID>_<container> directory'],
      [second, `another region of the container was read (${good})`],
      [garbage, 'accounting region is N bytes'],
      [join(hook, 'containers', 'uid-gone_main'), 'pod uid-gone is not on this node'],
    ],
  );
});
