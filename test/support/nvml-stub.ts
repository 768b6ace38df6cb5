/**
 * Builds native/fake/stub_nvml_inventory.c into a `libnvidia-ml.so.1` the NVML backend can load,
 * so tests run the real koffi binding on machines without a GPU. Needs gcc. Each variant is
 * compiled once per process into its own temporary folder (distinct paths, so the dynamic loader
 * keeps them apart), removed when the process exits.
 *
 * The fake hardware is a text file named by TESSERA_NVML_STUB; the C file's header documents
 * its lines. {@link writeStubHardware} replaces it in one rename, so the stub, which re-reads it
 * on every nvmlEventSetWait_v2, never sees half a file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '../../native/fake/stub_nvml_inventory.c');

/** The environment variable naming the stub's hardware file. */
export const STUB_ENV = 'TESSERA_NVML_STUB';

export interface NvmlStubOptions {
  /** Leave nvmlDeviceGetNvLinkRemoteDeviceType out, as drivers before R450 do. */
  readonly withoutRemoteDeviceType?: boolean;
}

const builds = new Map<string, Promise<string>>();

async function compile(options: NvmlStubOptions): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-nvml-stub-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const library = join(dir, 'libnvidia-ml.so.1');
  const defines = options.withoutRemoteDeviceType === true ? ['-DSTUB_NO_REMOTE_DEVICE_TYPE'] : [];
  await run('gcc', ['-shared', '-fPIC', '-std=gnu11', '-O1', '-Wall', '-Wextra', '-Werror', ...defines, '-o', library, SOURCE]);
  return library;
}

/** Path of the compiled stub library (`<tmp>/libnvidia-ml.so.1`). */
export function buildNvmlStub(options: NvmlStubOptions = {}): Promise<string> {
  const key = options.withoutRemoteDeviceType === true ? 'no-remote-device-type' : 'full';
  let build = builds.get(key);
  if (build === undefined) {
    build = compile(options);
    builds.set(key, build);
  }
  return build;
}

/** Writes the stub's hardware file at once (temporary file + rename). */
export async function writeStubHardware(path: string, lines: readonly string[]): Promise<void> {
  const temporary = `${path}.${String(process.pid)}.tmp`;
  await writeFile(temporary, `${lines.join('\n')}\n`);
  await rename(temporary, path);
}
