/**
 * Writes accounting regions as the enforcement library (and HAMi-core) lays them out, for the
 * monitor's tests: layout in src/node-agent/accounting-region.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { REGION_BYTES, REGION_MAGIC } from '../../src/node-agent/accounting-region.js';

export interface RegionSpec {
  /** Per device (CUDA ordinal order): UUID, limit in bytes (0 none), SM limit in percent (0 none). */
  readonly devices: readonly { readonly uuid: string; readonly limitBytes?: bigint; readonly smLimit?: number }[];
  /** Per process: pid, status (1 running, 2 suspended, 0 exited), bytes held and sm_util per device. */
  readonly processes?: readonly {
    readonly pid: number;
    readonly status?: number;
    readonly used: readonly bigint[];
    readonly smUtil?: readonly number[];
  }[];
  /** Epoch seconds; 0: no kernel yet. */
  readonly lastKernelTime?: number;
}

export function buildRegion(spec: RegionSpec): Buffer {
  const b = Buffer.alloc(REGION_BYTES + 1);
  b.writeInt32LE(REGION_MAGIC, 0);
  b.writeUInt32LE(1, 4);
  b.writeUInt32LE(2, 8);
  b.writeBigUInt64LE(BigInt(spec.devices.length), 56);
  spec.devices.forEach((d, i) => {
    b.write(d.uuid, 64 + i * 96, 'latin1');
    b.writeBigUInt64LE(d.limitBytes ?? 0n, 1600 + i * 8);
    b.writeBigUInt64LE(BigInt(d.smLimit ?? 0), 1728 + i * 8);
  });
  const processes = spec.processes ?? [];
  processes.forEach((p, slot) => {
    const base = 1856 + slot * 1960;
    b.writeInt32LE(p.pid, base);
    p.used.forEach((used, d) => {
      b.writeBigUInt64LE(used, base + 8 + d * 64 + 16); // data
      b.writeBigUInt64LE(used, base + 8 + d * 64 + 32); // total
    });
    (p.smUtil ?? []).forEach((util, d) => b.writeBigUInt64LE(BigInt(util), base + 1160 + d * 48 + 16));
    b.writeInt32LE(p.status ?? 1, base + 1928);
  });
  b.writeInt32LE(processes.length, 2008896);
  b.writeBigUInt64LE(BigInt(spec.lastKernelTime ?? 0), 2008912);
  return b;
}

/** Writes `<hookPath>/containers/<podUid>_<container>/usage.cache`; returns its path. */
export async function writeRegion(hookPath: string, podUid: string, container: string, spec: RegionSpec): Promise<string> {
  const dir = join(hookPath, 'containers', `${podUid}_${container}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'usage.cache');
  await writeFile(file, buildRegion(spec));
  return file;
}
