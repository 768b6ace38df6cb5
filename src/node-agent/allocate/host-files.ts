/**
 * Writes and removes the host files a container's share needs: its region directory
 * (world-writable, since processes in the container run as any user), its limits file and, in CDI
 * mode, its CDI spec. Files are written aside and renamed into place, so a reader (the library, the
 * runtime) never sees half a file.
 */
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { LIMITS_FILE_NAME, type ContainerEdits } from './container-edits.js';
import type { CdiSpecFile } from './cdi.js';

async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const aside = `${path}.${process.pid}.tmp`;
  await writeFile(aside, content, { mode });
  await chmod(aside, mode);
  await rename(aside, path);
}

/** Creates what `edits` (and `cdi`, in CDI mode) need on the host. */
export async function writeContainerFiles(edits: ContainerEdits, cdi?: CdiSpecFile): Promise<void> {
  await mkdir(edits.regionDir, { recursive: true });
  await chmod(edits.regionDir, 0o777);
  await writeAtomically(join(edits.limitsDir, LIMITS_FILE_NAME), edits.limitsFile, 0o644);
  if (cdi !== undefined) await writeAtomically(cdi.path, cdi.content, 0o644);
}

/** Removes them again; what is already gone is fine. */
export async function removeContainerFiles(paths: { readonly regionDir: string; readonly limitsDir: string; readonly cdiPath?: string }): Promise<void> {
  await rm(paths.regionDir, { recursive: true, force: true });
  await rm(paths.limitsDir, { recursive: true, force: true });
  if (paths.cdiPath !== undefined) await rm(paths.cdiPath, { force: true });
}
