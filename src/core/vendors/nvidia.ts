/**
 * NVIDIA, the first vendor: HAMi's resource names and defaulting rules, its annotations, and
 * HAMi-core soft shares (a device gives a task memory in MiB and a percentage of its compute).
 */
import {
  NVIDIA_NOUSE_TYPE,
  NVIDIA_NOUSE_UUID,
  NVIDIA_NUMA_BIND,
  NVIDIA_USE_TYPE,
  NVIDIA_USE_UUID,
  NVIDIA_VGPU_MODE,
} from '../annotations.js';
import type { Device, DeviceGrant, DeviceUsage } from '../device.js';
import { RequestError } from '../errors.js';
import { type ContainerSpec, resourceValue } from '../pod.js';
import { parseWholeQuantity } from '../quantity.js';
import type { DeviceConstraints, FitReason, Vendor, VendorAsk } from './vendor.js';

export const NVIDIA = 'NVIDIA';

/** Resource names and defaults (the `nvidia` section of the device config). */
export interface NvidiaOptions {
  /** @default 'nvidia.com/gpu' */
  readonly resourceCountName: string;
  /** MiB per device. @default 'nvidia.com/gpumem' */
  readonly resourceMemoryName: string;
  /** @default 'nvidia.com/gpumem-percentage' */
  readonly resourceMemoryPercentageName: string;
  /** Percent of a device. @default 'nvidia.com/gpucores' */
  readonly resourceCoreName: string;
  /** @default 'nvidia.com/priority' */
  readonly resourcePriorityName: string;
  /** MiB given to a container that names no memory; 0 means the whole device. @default 0 */
  readonly defaultMemory: number;
  /** Percent of a device given to a container that names no compute. @default 0 */
  readonly defaultCores: number;
  /** Devices given to a container that asks for memory or compute but not a count. @default 1 */
  readonly defaultGPUNum: number;
  /** Memory requests are multiplied by this (requests in units of memoryFactor MiB). @default 1 */
  readonly memoryFactor: number;
}

export const NVIDIA_DEFAULTS: NvidiaOptions = Object.freeze({
  resourceCountName: 'nvidia.com/gpu',
  resourceMemoryName: 'nvidia.com/gpumem',
  resourceMemoryPercentageName: 'nvidia.com/gpumem-percentage',
  resourceCoreName: 'nvidia.com/gpucores',
  resourcePriorityName: 'nvidia.com/priority',
  defaultMemory: 0,
  defaultCores: 0,
  defaultGPUNum: 1,
  memoryFactor: 1,
});

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function nvidiaVendor(overrides: Partial<NvidiaOptions> = {}): Vendor {
  const o: NvidiaOptions = { ...NVIDIA_DEFAULTS, ...overrides };

  /** A whole number from a resource, or undefined when absent. */
  function whole(container: ContainerSpec, name: string, max?: number): number | undefined {
    const raw = resourceValue(container, name);
    if (raw === undefined) return undefined;
    const v = parseWholeQuantity(raw);
    if (typeof v === 'string') throw new RequestError(container.name, name, String(raw), `is ${v}`);
    if (max !== undefined && v > max) {
      throw new RequestError(container.name, name, String(raw), `must be between 0 and ${String(max)}`);
    }
    return v;
  }

  return {
    name: NVIDIA,

    containerAsk(container: ContainerSpec): VendorAsk | null {
      const count = whole(container, o.resourceCountName);
      const memory = whole(container, o.resourceMemoryName);
      const percent = whole(container, o.resourceMemoryPercentageName, 100);
      const cores = whole(container, o.resourceCoreName, 100);
      const priority = whole(container, o.resourcePriorityName);
      // HAMi: a zero (or absent) memory or percentage counts as not given.
      const memoryGiven = memory !== undefined && memory > 0;
      const percentGiven = percent !== undefined && percent > 0;
      if (!count && !memoryGiven && !percentGiven && cores === undefined) return null;

      const devices = count && count > 0 ? count : o.defaultGPUNum;
      let memoryMiB: number | null = null;
      let memoryPercent = 100;
      if (memoryGiven) memoryMiB = memory * o.memoryFactor;
      else if (percentGiven) memoryPercent = percent;
      else if (o.defaultMemory > 0) memoryMiB = o.defaultMemory;
      // HAMi (#1354): a bare `nvidia.com/gpu: n` whose memory is the whole device takes the whole
      // device's compute too, unless compute is asked for explicitly.
      const exclusiveMemory = !memoryGiven && (!percentGiven || percent === 100);
      const coreShare = cores ?? (count && exclusiveMemory ? 100 : o.defaultCores);
      return { vendor: NVIDIA, count: devices, memoryMiB, memoryPercent, cores: coreShare, priority: priority ?? null };
    },

    constraints(annotations: Readonly<Record<string, string>>): DeviceConstraints {
      const numa = annotations[NVIDIA_NUMA_BIND];
      if (numa !== undefined && !/^(true|false)$/i.test(numa.trim())) {
        throw new RequestError('(pod)', NVIDIA_NUMA_BIND, numa, 'must be "true" or "false"');
      }
      const mode = annotations[NVIDIA_VGPU_MODE]?.trim();
      return {
        useTypes: list(annotations[NVIDIA_USE_TYPE]),
        avoidTypes: list(annotations[NVIDIA_NOUSE_TYPE]),
        useIds: list(annotations[NVIDIA_USE_UUID]),
        avoidIds: list(annotations[NVIDIA_NOUSE_UUID]),
        numaBind: numa?.trim().toLowerCase() === 'true',
        mode: mode ? mode : null,
      };
    },

    matches(device: Device, c: DeviceConstraints): FitReason | null {
      const type = device.type.toLowerCase();
      if (c.useTypes.length > 0 && !c.useTypes.some((t) => type.includes(t.toLowerCase()))) return 'CardTypeMismatch';
      if (c.avoidTypes.some((t) => type.includes(t.toLowerCase()))) return 'CardTypeMismatch';
      if (c.mode !== null && !device.mode.includes(c.mode)) return 'CardTypeMismatch';
      if (c.useIds.length > 0 && !c.useIds.includes(device.id)) return 'CardUuidMismatch';
      if (c.avoidIds.includes(device.id)) return 'CardUuidMismatch';
      return null;
    },

    grant(device: Device, usage: DeviceUsage, ask: VendorAsk): DeviceGrant | FitReason {
      if (usage.tasks >= device.splitCount) return 'CardTimeSlicingExhausted';
      const cores = Math.min(ask.cores, 100);
      const memoryMiB = ask.memoryMiB ?? Math.floor((device.memoryMiB * ask.memoryPercent) / 100);
      if (device.memoryMiB - usage.memoryMiB < memoryMiB) return 'CardInsufficientMemory';
      if (device.cores - usage.cores < cores) return 'CardInsufficientCore';
      if (cores === 100 && usage.tasks > 0) return 'ExclusiveDeviceAllocateConflict';
      if (cores === 0 && usage.cores >= device.cores) return 'CardComputeUnitsExhausted';
      return { id: device.id, vendor: NVIDIA, memoryMiB, cores };
    },

    mayGrant(device: Device, tasks: number, memoryUsed: number, coresUsed: number, ask: VendorAsk): boolean {
      if (tasks >= device.splitCount) return false;
      const cores = ask.cores < 100 ? ask.cores : 100;
      const memoryMiB = ask.memoryMiB ?? Math.floor((device.memoryMiB * ask.memoryPercent) / 100);
      if (device.memoryMiB - memoryUsed < memoryMiB || device.cores - coresUsed < cores) return false;
      return !(cores === 100 && tasks > 0) && !(cores === 0 && coresUsed >= device.cores);
    },
  };
}
