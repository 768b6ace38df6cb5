/**
 * Every NVML call the node agent makes, declared in one place through koffi. Signatures and
 * struct layouts are nvml.h's (checked against the header of NVIDIA's go-nvml, driver R580);
 * the stub driver in native/fake/stub_nvml_inventory.c implements exactly this list, so adding a
 * call here means adding it there.
 *
 * Each wrapper returns a {@link NvmlResult} rather than throwing: whether a non-zero return is a
 * failure depends on the caller (NOT_SUPPORTED is an answer for memory, MIG and NVLink, and
 * TIMEOUT is the normal end of an event drain). The result names the call, so the caller can
 * put it in its error message.
 */

import koffi, { type LibraryHandle } from 'koffi';

/** nvmlReturn_t values the agent tells apart (nvml.h). */
export const NVML_SUCCESS = 0;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_TIMEOUT = 10;
export const NVML_ERROR_GPU_IS_LOST = 15;

/** nvml.h: `#define NVML_NVLINK_MAX_LINKS 18` (NVLink 4, Hopper). */
export const NVML_NVLINK_MAX_LINKS = 18;
/** nvml.h: `nvmlEventTypeXidCriticalError`. */
export const NVML_EVENT_TYPE_XID_CRITICAL_ERROR = 0x8;
/** nvmlIntNvLinkDeviceType_t: the far end of the link is an NVSwitch. */
export const NVML_NVLINK_DEVICE_TYPE_SWITCH = 2;
/** nvmlEnableState_t. */
const NVML_FEATURE_ENABLED = 1;

/** nvml.h buffer sizes: NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE. */
const UUID_BUFFER = 96;
const NAME_BUFFER = 96;

/** An nvmlDevice_t or nvmlEventSet_t: koffi 3 hands pointers over as BigInt addresses. */
export type NvmlHandle = bigint;

export type NvmlResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly ret: number; readonly call: string };

/** One nvmlEventData_t, as far as the agent reads it. */
export interface NvmlEvent {
  readonly device: NvmlHandle;
  readonly eventType: number;
  /** The XID for nvmlEventTypeXidCriticalError (999 when NVML cannot decode it). */
  readonly eventData: number;
}

const device = koffi.pointer(koffi.opaque());
const eventSet = koffi.pointer(koffi.opaque());
const uintOut = koffi.out(koffi.pointer('unsigned int'));

/** nvmlMemory_t (v1): bytes. */
const memoryInfo = koffi.struct({
  total: 'unsigned long long',
  free: 'unsigned long long',
  used: 'unsigned long long',
});

/** nvmlUtilization_t: percent of the last sample period (1/6 s to 1 s, by product). */
const utilization = koffi.struct({
  gpu: 'unsigned int',
  memory: 'unsigned int',
});

/** nvmlPciInfo_t as nvmlDeviceGetPciInfo_v3 and nvmlDeviceGetNvLinkRemotePciInfo_v2 fill it (68 bytes). */
const pciInfo = koffi.struct({
  busIdLegacy: koffi.array('char', 16),
  domain: 'unsigned int',
  bus: 'unsigned int',
  device: 'unsigned int',
  pciDeviceId: 'unsigned int',
  pciSubSystemId: 'unsigned int',
  busId: koffi.array('char', 32),
});

/** nvmlEventData_t since R470 (32 bytes); older drivers fill only the first three fields. */
const eventData = koffi.struct({
  device,
  eventType: 'unsigned long long',
  eventData: 'unsigned long long',
  gpuInstanceId: 'unsigned int',
  computeInstanceId: 'unsigned int',
});

/** The raw functions, typed. Optional ones are absent from some drivers. */
interface NvmlFunctions {
  nvmlInit_v2(): number;
  nvmlShutdown(): number;
  nvmlErrorString(ret: number): string | null;
  nvmlDeviceGetCount_v2(count: [number]): number;
  nvmlDeviceGetHandleByIndex_v2(index: number, handle: [NvmlHandle | null]): number;
  nvmlDeviceGetUUID(handle: NvmlHandle, buffer: Buffer, length: number): number;
  nvmlDeviceGetName(handle: NvmlHandle, buffer: Buffer, length: number): number;
  nvmlDeviceGetMemoryInfo(handle: NvmlHandle, memory: { total?: number | bigint; used?: number | bigint }): number;
  nvmlDeviceGetUtilizationRates(handle: NvmlHandle, rates: { gpu?: number; memory?: number }): number;
  nvmlDeviceGetPciInfo_v3(handle: NvmlHandle, pci: { busId?: string }): number;
  nvmlDeviceGetMigMode(handle: NvmlHandle, current: [number], pending: [number]): number;
  nvmlDeviceGetNvLinkState(handle: NvmlHandle, link: number, active: [number]): number;
  nvmlDeviceGetNvLinkRemotePciInfo_v2(handle: NvmlHandle, link: number, pci: { busId?: string }): number;
  nvmlDeviceGetNvLinkRemoteDeviceType?(handle: NvmlHandle, link: number, type: [number]): number;
  nvmlDeviceGetTopologyCommonAncestor(a: NvmlHandle, b: NvmlHandle, level: [number]): number;
  nvmlEventSetCreate(set: [NvmlHandle | null]): number;
  nvmlEventSetFree(set: NvmlHandle): number;
  nvmlDeviceRegisterEvents(handle: NvmlHandle, eventTypes: number, set: NvmlHandle): number;
  nvmlEventSetWait_v2(
    set: NvmlHandle,
    data: { device?: NvmlHandle | null; eventType?: number | bigint; eventData?: number | bigint },
    timeoutMs: number,
  ): number;
}

function declare(lib: LibraryHandle): NvmlFunctions {
  const optional = <T>(declaration: () => T): T | undefined => {
    try {
      return declaration();
    } catch {
      return undefined; // symbol absent from this driver
    }
  };
  const remoteDeviceType = optional(() =>
    lib.func('nvmlDeviceGetNvLinkRemoteDeviceType', 'int', [device, 'unsigned int', uintOut]),
  );
  return {
    nvmlInit_v2: lib.func('nvmlInit_v2', 'int', []),
    nvmlShutdown: lib.func('nvmlShutdown', 'int', []),
    nvmlErrorString: lib.func('nvmlErrorString', 'const char *', ['int']),
    nvmlDeviceGetCount_v2: lib.func('nvmlDeviceGetCount_v2', 'int', [uintOut]),
    nvmlDeviceGetHandleByIndex_v2: lib.func('nvmlDeviceGetHandleByIndex_v2', 'int', [
      'unsigned int',
      koffi.out(koffi.pointer(device)),
    ]),
    nvmlDeviceGetUUID: lib.func('nvmlDeviceGetUUID', 'int', [device, 'char *', 'unsigned int']),
    nvmlDeviceGetName: lib.func('nvmlDeviceGetName', 'int', [device, 'char *', 'unsigned int']),
    nvmlDeviceGetMemoryInfo: lib.func('nvmlDeviceGetMemoryInfo', 'int', [device, koffi.out(koffi.pointer(memoryInfo))]),
    nvmlDeviceGetUtilizationRates: lib.func('nvmlDeviceGetUtilizationRates', 'int', [
      device,
      koffi.out(koffi.pointer(utilization)),
    ]),
    nvmlDeviceGetPciInfo_v3: lib.func('nvmlDeviceGetPciInfo_v3', 'int', [device, koffi.out(koffi.pointer(pciInfo))]),
    nvmlDeviceGetMigMode: lib.func('nvmlDeviceGetMigMode', 'int', [device, uintOut, uintOut]),
    nvmlDeviceGetNvLinkState: lib.func('nvmlDeviceGetNvLinkState', 'int', [device, 'unsigned int', uintOut]),
    nvmlDeviceGetNvLinkRemotePciInfo_v2: lib.func('nvmlDeviceGetNvLinkRemotePciInfo_v2', 'int', [
      device,
      'unsigned int',
      koffi.out(koffi.pointer(pciInfo)),
    ]),
    ...(remoteDeviceType === undefined ? {} : { nvmlDeviceGetNvLinkRemoteDeviceType: remoteDeviceType }),
    nvmlDeviceGetTopologyCommonAncestor: lib.func('nvmlDeviceGetTopologyCommonAncestor', 'int', [
      device,
      device,
      uintOut,
    ]),
    nvmlEventSetCreate: lib.func('nvmlEventSetCreate', 'int', [koffi.out(koffi.pointer(eventSet))]),
    nvmlEventSetFree: lib.func('nvmlEventSetFree', 'int', [eventSet]),
    nvmlDeviceRegisterEvents: lib.func('nvmlDeviceRegisterEvents', 'int', [device, 'unsigned long long', eventSet]),
    nvmlEventSetWait_v2: lib.func('nvmlEventSetWait_v2', 'int', [
      eventSet,
      koffi.out(koffi.pointer(eventData)),
      'unsigned int',
    ]),
  };
}

function result<T>(call: string, ret: number, value: () => T): NvmlResult<T> {
  return ret === NVML_SUCCESS ? { ok: true, value: value() } : { ok: false, ret, call };
}

function cString(buffer: Buffer): string {
  const end = buffer.indexOf(0);
  return buffer.subarray(0, end === -1 ? buffer.length : end).toString('utf8');
}

/** NVML's `unsigned long long` arrives as a number below 2^53 and as a BigInt above. */
function toNumber(value: number | bigint | undefined): number {
  return typeof value === 'bigint' ? Number(value) : (value ?? 0);
}

/** The loaded library, one method per NVML call. Not thread-safe, like NVML handles themselves. */
export class NvmlLibrary {
  private readonly fn: NvmlFunctions;

  /** Whether the driver has nvmlDeviceGetNvLinkRemoteDeviceType (R450 and later). */
  readonly hasRemoteDeviceType: boolean;

  private constructor(
    readonly path: string,
    private readonly lib: LibraryHandle,
  ) {
    this.fn = declare(lib);
    this.hasRemoteDeviceType = this.fn.nvmlDeviceGetNvLinkRemoteDeviceType !== undefined;
  }

  /**
   * Loads the shared library (dlopen: a bare name goes through the loader's search path).
   *
   * @throws Error from koffi when the file cannot be loaded or lacks a required symbol
   */
  static load(path: string): NvmlLibrary {
    const lib = koffi.load(path);
    try {
      return new NvmlLibrary(path, lib);
    } catch (error) {
      lib.unload();
      throw error;
    }
  }

  /** dlclose; no call may follow. */
  unload(): void {
    this.lib.unload();
  }

  errorString(ret: number): string {
    return this.fn.nvmlErrorString(ret) ?? `unknown NVML error ${String(ret)}`;
  }

  init(): NvmlResult<void> {
    return result('nvmlInit_v2', this.fn.nvmlInit_v2(), () => undefined);
  }

  shutdown(): NvmlResult<void> {
    return result('nvmlShutdown', this.fn.nvmlShutdown(), () => undefined);
  }

  deviceCount(): NvmlResult<number> {
    const count: [number] = [0];
    return result('nvmlDeviceGetCount_v2', this.fn.nvmlDeviceGetCount_v2(count), () => count[0]);
  }

  deviceHandle(index: number): NvmlResult<NvmlHandle> {
    const handle: [NvmlHandle | null] = [null];
    const ret = this.fn.nvmlDeviceGetHandleByIndex_v2(index, handle);
    return result('nvmlDeviceGetHandleByIndex_v2', ret, () => handle[0] ?? 0n);
  }

  uuid(handle: NvmlHandle): NvmlResult<string> {
    const buffer = Buffer.alloc(UUID_BUFFER);
    const ret = this.fn.nvmlDeviceGetUUID(handle, buffer, buffer.length);
    return result('nvmlDeviceGetUUID', ret, () => cString(buffer));
  }

  name(handle: NvmlHandle): NvmlResult<string> {
    const buffer = Buffer.alloc(NAME_BUFFER);
    const ret = this.fn.nvmlDeviceGetName(handle, buffer, buffer.length);
    return result('nvmlDeviceGetName', ret, () => cString(buffer));
  }

  /** Total memory in bytes. */
  memoryTotal(handle: NvmlHandle): NvmlResult<number> {
    const memory: { total?: number | bigint } = {};
    const ret = this.fn.nvmlDeviceGetMemoryInfo(handle, memory);
    return result('nvmlDeviceGetMemoryInfo', ret, () => toNumber(memory.total));
  }

  /** Memory in use in bytes (`nvmlMemory_t.used`: every process on the GPU, plus what the driver reserves). */
  memoryUsed(handle: NvmlHandle): NvmlResult<number> {
    const memory: { used?: number | bigint } = {};
    const ret = this.fn.nvmlDeviceGetMemoryInfo(handle, memory);
    return result('nvmlDeviceGetMemoryInfo', ret, () => toNumber(memory.used));
  }

  /** GPU and memory-controller utilisation, percent of the last sample period. */
  utilizationRates(handle: NvmlHandle): NvmlResult<{ gpu: number; memory: number }> {
    const rates: { gpu?: number; memory?: number } = {};
    const ret = this.fn.nvmlDeviceGetUtilizationRates(handle, rates);
    return result('nvmlDeviceGetUtilizationRates', ret, () => ({ gpu: rates.gpu ?? 0, memory: rates.memory ?? 0 }));
  }

  /** The `busId` field (`00000000:17:00.0`). */
  pciBusId(handle: NvmlHandle): NvmlResult<string> {
    const pci: { busId?: string } = {};
    const ret = this.fn.nvmlDeviceGetPciInfo_v3(handle, pci);
    return result('nvmlDeviceGetPciInfo_v3', ret, () => pci.busId ?? '');
  }

  /** Current MIG mode (NVML_DEVICE_MIG_ENABLE = 1). */
  migEnabled(handle: NvmlHandle): NvmlResult<boolean> {
    const current: [number] = [0];
    const pending: [number] = [0];
    const ret = this.fn.nvmlDeviceGetMigMode(handle, current, pending);
    return result('nvmlDeviceGetMigMode', ret, () => current[0] === 1);
  }

  nvLinkActive(handle: NvmlHandle, link: number): NvmlResult<boolean> {
    const state: [number] = [0];
    const ret = this.fn.nvmlDeviceGetNvLinkState(handle, link, state);
    return result('nvmlDeviceGetNvLinkState', ret, () => state[0] === NVML_FEATURE_ENABLED);
  }

  nvLinkRemoteBusId(handle: NvmlHandle, link: number): NvmlResult<string> {
    const pci: { busId?: string } = {};
    const ret = this.fn.nvmlDeviceGetNvLinkRemotePciInfo_v2(handle, link, pci);
    return result('nvmlDeviceGetNvLinkRemotePciInfo_v2', ret, () => pci.busId ?? '');
  }

  /** nvmlIntNvLinkDeviceType_t of the far end; undefined when the driver lacks the call. */
  nvLinkRemoteDeviceType(handle: NvmlHandle, link: number): NvmlResult<number> | undefined {
    const call = this.fn.nvmlDeviceGetNvLinkRemoteDeviceType;
    if (call === undefined) return undefined;
    const type: [number] = [0];
    return result('nvmlDeviceGetNvLinkRemoteDeviceType', call(handle, link, type), () => type[0]);
  }

  /** nvmlGpuTopologyLevel_t of the pair's closest common ancestor. */
  topologyCommonAncestor(a: NvmlHandle, b: NvmlHandle): NvmlResult<number> {
    const level: [number] = [0];
    const ret = this.fn.nvmlDeviceGetTopologyCommonAncestor(a, b, level);
    return result('nvmlDeviceGetTopologyCommonAncestor', ret, () => level[0]);
  }

  eventSetCreate(): NvmlResult<NvmlHandle> {
    const set: [NvmlHandle | null] = [null];
    return result('nvmlEventSetCreate', this.fn.nvmlEventSetCreate(set), () => set[0] ?? 0n);
  }

  eventSetFree(set: NvmlHandle): NvmlResult<void> {
    return result('nvmlEventSetFree', this.fn.nvmlEventSetFree(set), () => undefined);
  }

  registerEvents(handle: NvmlHandle, eventTypes: number, set: NvmlHandle): NvmlResult<void> {
    const ret = this.fn.nvmlDeviceRegisterEvents(handle, eventTypes, set);
    return result('nvmlDeviceRegisterEvents', ret, () => undefined);
  }

  /** Waits up to timeoutMs for one event; NVML_ERROR_TIMEOUT when none came. */
  eventSetWait(set: NvmlHandle, timeoutMs: number): NvmlResult<NvmlEvent> {
    const data: { device?: NvmlHandle | null; eventType?: number | bigint; eventData?: number | bigint } = {};
    const ret = this.fn.nvmlEventSetWait_v2(set, data, timeoutMs);
    return result('nvmlEventSetWait_v2', ret, () => ({
      device: data.device ?? 0n,
      eventType: toNumber(data.eventType),
      eventData: toNumber(data.eventData),
    }));
  }
}
