/**
 * Per-container usage from the accounting regions on the host: the agent gives every container
 * `<hook>/containers/<podUID>_<container>/` (mounted as `<hook>/` inside it), where the enforcement
 * library, or HAMi-core, keeps its shared region `usage.cache`. HAMi's vGPUmonitor reads the same
 * directories (`<ctrPath>/<podUID>_<ctr>/*.cache`), so this works under either library.
 *
 * A scan never throws for a container: a directory that is not `<podUID>_<container>`, a file
 * that does not decode (not initialised yet, another major version, truncated) or a pod that is
 * not on this node is skipped with the reason, and the rest are reported.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { decodeAccountingRegion, type AccountingRegion } from '../accounting-region.js';

/** The pod a container belongs to. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** Finds a pod on this node by UID; undefined when there is none. */
export type PodLookup = (podUid: string) => PodRef | undefined;

export interface ContainerRegion {
  readonly podUid: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The region file read. */
  readonly file: string;
  readonly region: AccountingRegion;
}

export interface SkippedRegion {
  /** The directory or file skipped. */
  readonly path: string;
  readonly reason: string;
}

export interface ContainerScan {
  /** In directory-name order. */
  readonly containers: readonly ContainerRegion[];
  readonly skipped: readonly SkippedRegion[];
}

/** `<podUID>_<container>` → its parts; pod UIDs hold no `_`, container names may not either (DNS labels). */
export function parseContainerDir(name: string): { podUid: string; container: string } | undefined {
  const at = name.indexOf('_');
  if (at <= 0 || at === name.length - 1) return undefined;
  return { podUid: name.slice(0, at), container: name.slice(at + 1) };
}

async function list(dir: string): Promise<string[] | Error> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    return error as Error;
  }
}

/**
 * Reads every container's region under `<hookPath>/containers`. A missing `containers` directory
 * is a node without containers yet. When a directory holds several `*.cache` files, the first
 * that decodes (by name) is used and the others are skipped, so each container is reported once.
 */
export async function scanContainerRegions(hookPath: string, lookup: PodLookup): Promise<ContainerScan> {
  const root = join(hookPath, 'containers');
  const containers: ContainerRegion[] = [];
  const skipped: SkippedRegion[] = [];
  const names = await list(root);
  if (names instanceof Error) {
    if ((names as NodeJS.ErrnoException).code !== 'ENOENT') skipped.push({ path: root, reason: names.message });
    return { containers, skipped };
  }
  for (const name of names) {
    const dir = join(root, name);
    const key = parseContainerDir(name);
    if (key === undefined) {
      skipped.push({ path: dir, reason: 'not a <podUID>_<container> directory' });
      continue;
    }
    const files = await list(dir);
    if (files instanceof Error) {
      // A plain file, or a directory removed between the two reads.
      if ((files as NodeJS.ErrnoException).code !== 'ENOENT') skipped.push({ path: dir, reason: files.message });
      continue;
    }
    const caches = files.filter((f) => f.endsWith('.cache'));
    if (caches.length === 0) continue; // no CUDA process has started in the container yet
    const pod = lookup(key.podUid);
    if (pod === undefined) {
      skipped.push({ path: dir, reason: `pod ${key.podUid} is not on this node` });
      continue;
    }
    let found = false;
    for (const cache of caches) {
      const file = join(dir, cache);
      if (found) {
        skipped.push({ path: file, reason: `another region of the container was read (${containers.at(-1)?.file ?? ''})` });
        continue;
      }
      try {
        const region = decodeAccountingRegion(await readFile(file));
        containers.push({ podUid: key.podUid, namespace: pod.namespace, pod: pod.name, container: key.container, file, region });
        found = true;
      } catch (error) {
        skipped.push({ path: file, reason: (error as Error).message });
      }
    }
  }
  return { containers, skipped };
}
