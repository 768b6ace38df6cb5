/**
 * The host-side install step, run on every GPU node before the agent serves (the DaemonSet's init
 * container): puts the enforcement library where containers will mount it from, writes the
 * `ld.so.preload` file that loads it, and creates the directories the agent and the library use.
 * Idempotent, and safe while containers run: the library is copied aside and renamed into place,
 * so a process loading it sees either the old file or the new one, never half of one.
 */
import { chmod, copyFile, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { TesseraError } from '../core/errors.js';
import { BOARD_DIR } from './allocate/container-edits.js';

export interface InstallOptions {
  /** The library to install, e.g. `/opt/tessera/libtessera.so` in the agent's image. */
  readonly library: string;
  /** Host directory to install into (the agent's `--hook-path`). */
  readonly hookPath: string;
  /** File name in {@link hookPath}. @default 'libtessera.so' */
  readonly name?: string;
  /** The node-wide board directory the library shares between containers. @default '/tmp/vgpulock' */
  readonly boardDir?: string;
}

export interface InstallResult {
  readonly library: string;
  readonly preload: string;
}

export async function installHook(options: InstallOptions): Promise<InstallResult> {
  const name = options.name ?? 'libtessera.so';
  if (name.includes('/')) throw new TesseraError('TESSERA_ERR_INPUT', `install: --name must be a file name, got "${name}"`);
  try {
    if (!(await stat(options.library)).isFile()) throw new Error('not a regular file');
  } catch (error) {
    throw new TesseraError('TESSERA_ERR_INPUT', `install: the library "${options.library}" cannot be read (${(error as Error).message}); pass the path of libtessera.so with --library`);
  }
  const target = join(options.hookPath, name);
  const preload = join(options.hookPath, 'ld.so.preload');
  await mkdir(options.hookPath, { recursive: true, mode: 0o755 });
  for (const dir of ['containers', 'limits']) await mkdir(join(options.hookPath, dir), { recursive: true, mode: 0o755 });
  const boardDir = options.boardDir ?? BOARD_DIR;
  await mkdir(boardDir, { recursive: true });
  await chmod(boardDir, 0o1777);
  const aside = `${target}.${process.pid}.tmp`;
  await copyFile(options.library, aside);
  await chmod(aside, 0o755);
  await rename(aside, target);
  const preloadAside = `${preload}.${process.pid}.tmp`;
  await writeFile(preloadAside, `${target}\n`, { mode: 0o644 });
  await rename(preloadAside, preload);
  return { library: target, preload };
}
