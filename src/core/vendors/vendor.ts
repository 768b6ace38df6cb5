/**
 * The vendor interface. The placement engine is vendor-neutral: it orders devices, applies
 * NUMA, topology and exclusivity rules, keeps usage and picks nodes. Everything that depends on
 * the kind of accelerator lives behind this interface: which resources a container asks with,
 * which annotations constrain the choice, and what one device can give one request (a soft
 * share, a fixed template rounded up, a MIG profile). NVIDIA is the first module.
 */
import type { Device, DeviceGrant, DeviceUsage } from '../device.js';
import type { ContainerSpec } from '../pod.js';

/** One container's ask of one vendor. */
export interface VendorAsk {
  readonly vendor: string;
  /** Number of devices. */
  readonly count: number;
  /** Memory per device in MiB, or null when given as a percentage. */
  readonly memoryMiB: number | null;
  /** Memory per device as a percentage of the device, when memoryMiB is null. */
  readonly memoryPercent: number;
  /** Compute per device in percent of a device (100 = the whole device's compute). */
  readonly cores: number;
  /** Task priority (`CUDA_TASK_PRIORITY`): 0 high, larger lower; null when not asked. */
  readonly priority: number | null;
}

/** Pod-level choices among a vendor's devices (from pod annotations). */
export interface DeviceConstraints {
  /** Device type must contain one of these (case-insensitive); empty = any. */
  readonly useTypes: readonly string[];
  readonly avoidTypes: readonly string[];
  /** Device id must be one of these; empty = any. */
  readonly useIds: readonly string[];
  readonly avoidIds: readonly string[];
  /** All devices of a container from one NUMA node. */
  readonly numaBind: boolean;
  /** Device mode must contain this (e.g. `mig`), or null. */
  readonly mode: string | null;
}

export const NO_CONSTRAINTS: DeviceConstraints = Object.freeze({
  useTypes: [],
  avoidTypes: [],
  useIds: [],
  avoidIds: [],
  numaBind: false,
  mode: null,
});

/** HAMi's reason codes for a device (or node) that cannot take a request; the FailedNodes vocabulary. */
export type FitReason =
  | 'CardNotHealth'
  | 'CardCordoned'
  | 'CardTypeMismatch'
  | 'NumaNotFit'
  | 'CardUuidMismatch'
  | 'CardTimeSlicingExhausted'
  | 'ExclusiveDeviceAllocateConflict'
  | 'ResourceQuotaNotFit'
  | 'CardInsufficientMemory'
  | 'CardInsufficientCore'
  | 'CardComputeUnitsExhausted'
  | 'AllocatedCardsInsufficientRequest'
  | 'NodeInsufficientDevice';

export interface Vendor {
  /** The vendor key (HAMi's CommonWord), also the type field of its allocation entries. */
  readonly name: string;
  /** The container's ask of this vendor, or null if it asks for none. Throws RequestError. */
  containerAsk(container: ContainerSpec): VendorAsk | null;
  /** Constraints from the pod's annotations. Throws RequestError on malformed values. */
  constraints(annotations: Readonly<Record<string, string>>): DeviceConstraints;
  /** Type and identity checks that do not depend on usage. */
  matches(device: Device, constraints: DeviceConstraints): FitReason | null;
  /**
   * What this device would give this ask given its usage, or why it cannot. Vendors with fixed
   * templates or MIG profiles round the grant up here.
   */
  grant(device: Device, usage: DeviceUsage, ask: VendorAsk): DeviceGrant | FitReason;
  /**
   * A fast, allocation-free necessary condition for `grant` to succeed: false only when `grant`
   * would refuse. Lets the engine pass over nodes that cannot fit without working out why.
   */
  mayGrant(device: Device, tasks: number, memoryMiB: number, cores: number, ask: VendorAsk): boolean;
}
