/**
 * Decoder for a container's shared accounting region: the memory-mapped file that the
 * enforcement library (native/) and HAMi-core both keep in HAMi-core's v1.2 layout
 * (`shared_region_t`). The node agent reads it to report per-container usage; this module
 * only decodes bytes, so callers decide how the file is read.
 *
 * Layout, little-endian, LP64 (offsets in bytes):
 *   0 initialized_flag i32 (19920718)   4 major u32   8 minor u32   56 device_num u64
 *   64 uuids[16] char[96]   1600 limit[16] u64 (bytes, 0 = none)   1728 sm_limit[16] u64 (%)
 *   1856 procs[1024], 1960 bytes each: pid i32 @0, hostpid i32 @4,
 *        used[16] @8 (64 bytes each: context, module, data, offset, total u64 ...),
 *        device_util[16] @1160 (48 bytes each: dec, enc, sm u64 ...; HAMi-core writes sm_util),
 *        status i32 @1928 (1 running, 2 suspended, 0 exited), seqlock u64 @1936
 *   2008896 proc_num i32   2008900 utilization_switch i32   2008904 recent_kernel i32
 *   2008908 priority i32   2008912 last_kernel_time u64 (epoch seconds)
 */

export const REGION_MAGIC = 19920718;
/** Size of the structure; the file is one byte longer (HAMi writes a byte past the end). */
export const REGION_BYTES = 2008952;
export const MAX_DEVICES = 16;

const SLOT_BASE = 1856;
const SLOT_BYTES = 1960;
const MAX_PROCS = 1024;

/** One process of the container, with what it holds on each device (bytes, by CUDA ordinal). */
export interface RegionProcess {
  readonly pid: number;
  readonly hostPid: number;
  readonly status: 'running' | 'suspended' | 'exited';
  readonly usedBytes: readonly bigint[];
  /** Per device: context, module and data (buffer) bytes, parts of {@link usedBytes}. */
  readonly memory: readonly { readonly context: bigint; readonly module: bigint; readonly data: bigint }[];
  /** Per device: the process's SM utilisation, percent (HAMi-core's `sm_util`; 0 when not measured). */
  readonly smUtil: readonly number[];
}

export interface RegionDevice {
  readonly index: number;
  readonly uuid: string;
  /** Memory limit in bytes; 0n when the device has none. */
  readonly limitBytes: bigint;
  /** Compute share in percent; 100 when the device has none. */
  readonly smLimitPercent: number;
  /** Sum over live processes, as the library itself counts it. */
  readonly usedBytes: bigint;
  /** Context, module and data (buffer) bytes, summed over live processes like {@link usedBytes}. */
  readonly contextBytes: bigint;
  readonly moduleBytes: bigint;
  readonly dataBytes: bigint;
  /** SM utilisation summed over live processes, percent (HAMi's `DeviceSmUtil`); 0 when nobody measures it. */
  readonly smUtilPercent: number;
}

export interface AccountingRegion {
  readonly version: string;
  readonly devices: readonly RegionDevice[];
  readonly processes: readonly RegionProcess[];
  readonly priority: number;
  readonly utilizationSwitch: boolean;
  /** HAMi's activity flag: 2 after recent launches, negative while a monitor blocks the container. */
  readonly recentKernel: number;
  readonly lastKernelTime: Date | null;
}

/** The bytes are not an accounting region: says which field and which value. */
export class RegionFormatError extends Error {
  readonly code = 'TESSERA_ERR_REGION_FORMAT';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'RegionFormatError';
  }
}

function cString(bytes: Buffer, offset: number, length: number): string {
  const slice = bytes.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? length : end).toString('latin1');
}

const STATUS: Record<number, RegionProcess['status']> = { 0: 'exited', 1: 'running', 2: 'suspended' };

/** Decodes a region file's contents. Throws RegionFormatError for anything that is not one. */
export function decodeAccountingRegion(bytes: Buffer): AccountingRegion {
  if (bytes.length < REGION_BYTES) {
    throw new RegionFormatError(
      `accounting region is ${String(bytes.length)} bytes; a v1 region has at least ${String(REGION_BYTES)}`,
      'size',
    );
  }
  const magic = bytes.readInt32LE(0);
  if (magic !== REGION_MAGIC) {
    throw new RegionFormatError(
      `accounting region magic is ${String(magic)}, expected ${String(REGION_MAGIC)} (not initialised, or not a region)`,
      'initialized_flag',
    );
  }
  const major = bytes.readUInt32LE(4);
  if (major !== 1) {
    throw new RegionFormatError(`accounting region major version ${String(major)} is not supported (expected 1)`, 'major_version');
  }
  const procNum = bytes.readInt32LE(2008896);
  if (procNum < 0 || procNum > MAX_PROCS) {
    throw new RegionFormatError(`accounting region proc_num ${String(procNum)} is outside 0..${String(MAX_PROCS)}`, 'proc_num');
  }

  const processes: RegionProcess[] = [];
  for (let i = 0; i < procNum; i++) {
    const base = SLOT_BASE + i * SLOT_BYTES;
    const pid = bytes.readInt32LE(base);
    if (pid === 0) continue; // a free slot
    const usedBytes: bigint[] = [];
    const memory: RegionProcess['memory'][number][] = [];
    const smUtil: number[] = [];
    for (let d = 0; d < MAX_DEVICES; d++) {
      const at = base + 8 + d * 64;
      usedBytes.push(bytes.readBigUInt64LE(at + 32));
      memory.push({ context: bytes.readBigUInt64LE(at), module: bytes.readBigUInt64LE(at + 8), data: bytes.readBigUInt64LE(at + 16) });
      smUtil.push(Number(bytes.readBigUInt64LE(base + 1160 + d * 48 + 16)));
    }
    processes.push({
      pid,
      hostPid: bytes.readInt32LE(base + 4),
      status: STATUS[bytes.readInt32LE(base + 1928)] ?? 'exited',
      usedBytes,
      memory,
      smUtil,
    });
  }

  const deviceCount = Math.min(Number(bytes.readBigUInt64LE(56)), MAX_DEVICES);
  const devices: RegionDevice[] = [];
  for (let d = 0; d < MAX_DEVICES; d++) {
    const uuid = cString(bytes, 64 + d * 96, 96);
    const limitBytes = bytes.readBigUInt64LE(1600 + d * 8);
    const sm = Number(bytes.readBigUInt64LE(1728 + d * 8));
    const live = processes.filter((p) => p.status !== 'exited');
    const sum = (field: (p: RegionProcess) => bigint | undefined): bigint => live.reduce((total, p) => total + (field(p) ?? 0n), 0n);
    const usedBytes = sum((p) => p.usedBytes[d]);
    if (d >= deviceCount && uuid === '' && limitBytes === 0n && usedBytes === 0n && sm === 0) continue;
    devices.push({
      index: d,
      uuid,
      limitBytes,
      smLimitPercent: sm === 0 || sm > 100 ? 100 : sm,
      usedBytes,
      contextBytes: sum((p) => p.memory[d]?.context),
      moduleBytes: sum((p) => p.memory[d]?.module),
      dataBytes: sum((p) => p.memory[d]?.data),
      smUtilPercent: live.reduce((total, p) => total + (p.smUtil[d] ?? 0), 0),
    });
  }

  const lastKernel = Number(bytes.readBigUInt64LE(2008912));
  return {
    version: `${String(major)}.${String(bytes.readUInt32LE(8))}`,
    devices,
    processes,
    priority: bytes.readInt32LE(2008908),
    utilizationSwitch: bytes.readInt32LE(2008900) !== 0,
    recentKernel: bytes.readInt32LE(2008904),
    lastKernelTime: lastKernel > 0 ? new Date(lastKernel * 1000) : null,
  };
}
