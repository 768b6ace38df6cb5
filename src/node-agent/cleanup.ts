/**
 * Removes the host files of containers whose pod is gone: region and limits directories under the
 * hook path and, in CDI mode, transient CDI specs. The kubelet does not tell device plugins when a
 * container ends, so the agent compares what is on disk with the pods bound to its node. A
 * directory younger than `graceMs` is kept whatever the pod list says, so a list read just before
 * an `Allocate` cannot remove the files that call has just written.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { CDI_KIND } from './allocate/cdi.js';

export interface CleanupPaths {
  readonly hookPath: string;
  readonly cdiDir?: string;
}

/** The pod UID in `<podUID>_<container>` (UIDs hold no `_`). */
function podUidOf(entry: string): string {
  const at = entry.indexOf('_');
  return at < 0 ? entry : entry.slice(0, at);
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function oldEnough(path: string, now: number, graceMs: number): Promise<boolean> {
  try {
    return now - (await stat(path)).mtimeMs >= graceMs;
  } catch {
    return false;
  }
}

/** Removes what belongs to pods not in `livePodUids`; returns the paths removed. */
export async function removeOrphanedContainerFiles(
  paths: CleanupPaths,
  livePodUids: ReadonlySet<string>,
  graceMs = 60_000,
  now = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  const sweep = async (dir: string, uidOf: (entry: string) => string | undefined): Promise<void> => {
    for (const entry of await entries(dir)) {
      const uid = uidOf(entry);
      if (uid === undefined || livePodUids.has(uid)) continue;
      const path = join(dir, entry);
      if (!(await oldEnough(path, now, graceMs))) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    }
  };
  await sweep(join(paths.hookPath, 'containers'), podUidOf);
  await sweep(join(paths.hookPath, 'limits'), podUidOf);
  if (paths.cdiDir !== undefined) {
    const prefix = `${CDI_KIND.replace('/', '-')}_`;
    await sweep(paths.cdiDir, (entry) => (entry.startsWith(prefix) && entry.endsWith('.json') ? podUidOf(entry.slice(prefix.length)) : undefined));
  }
  return removed;
}
