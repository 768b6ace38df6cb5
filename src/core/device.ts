/**
 * The device model: what a node has (inventory, as a node agent registers it) and what is in
 * use on it (usage, rebuilt from the pods placed there). Pure data; no I/O.
 */

/** How a device is shared: HAMi-core soft limits, MIG hardware partitions, or MPS. */
export type DeviceMode = 'hami-core' | 'mig' | 'mps';

export const DEVICE_MODES: readonly DeviceMode[] = ['hami-core', 'mig', 'mps'];

/** A MIG profile a device can be cut into (HAMi's `migProfiles` entry). */
export interface MigProfile {
  readonly name: string;
  readonly memoryMiB: number;
  readonly cores: number;
  readonly sliceCount: number;
  readonly placements: readonly { readonly start: number; readonly size: number }[];
}

/** One accelerator as its node registers it. */
export interface Device {
  /** UUID (`GPU-…` for NVIDIA); unique in the cluster. */
  readonly id: string;
  /** Index on the node (NVML order for NVIDIA). */
  readonly index: number;
  /** Vendor key the device belongs to (HAMi's CommonWord): `NVIDIA`, `MLU`, `Ascend910B3`, … */
  readonly vendor: string;
  /** Vendor type string as registered, e.g. `NVIDIA-NVIDIA A100-SXM4-80GB`; what type filters match. */
  readonly type: string;
  /** Allocatable memory in MiB (already multiplied by the node's memory scaling). */
  readonly memoryMiB: number;
  /** Allocatable compute in percent of one device (100 × core scaling). */
  readonly cores: number;
  /** How many tasks may share the device at once (deviceSplitCount). */
  readonly splitCount: number;
  /** NUMA node of the device's PCI slot. */
  readonly numa: number;
  readonly healthy: boolean;
  readonly mode: DeviceMode;
  readonly migProfiles?: readonly MigProfile[];
}

/**
 * The device model, from its type string: HAMi registers NVIDIA devices as `NVIDIA-` + the NVML
 * name (`NVIDIA-NVIDIA A100-SXM4-80GB` → `NVIDIA A100-SXM4-80GB`, `NVIDIA-Tesla T4` → `Tesla T4`).
 */
export function deviceModel(device: Pick<Device, 'type' | 'vendor'>): string {
  const prefix = `${device.vendor}-`;
  return device.type.startsWith(prefix) && device.type.length > prefix.length ? device.type.slice(prefix.length) : device.type;
}

/** Link score between two devices of one node: higher is better connected (HAMi's pair score). */
export interface DeviceLink {
  readonly from: string;
  readonly to: string;
  readonly score: number;
}

/** What is in use on one device: tasks, memory and compute. */
export interface DeviceUsage {
  readonly tasks: number;
  readonly memoryMiB: number;
  readonly cores: number;
}

export const NO_USAGE: DeviceUsage = Object.freeze({ tasks: 0, memoryMiB: 0, cores: 0 });

/** CPU and memory of a node (its allocatable) or of a pod (its requests). */
export interface HostResources {
  readonly cpuMilli: number;
  readonly memoryMiB: number;
}

export const NO_HOST: HostResources = Object.freeze({ cpuMilli: 0, memoryMiB: 0 });

/** A node's devices and how they connect. */
export interface NodeInventory {
  readonly name: string;
  /**
   * The node's allocatable CPU and memory, when known: then pods are fitted on them too and the
   * fragmentation-aware policy counts devices stranded by a lack of CPU. Without it only devices
   * are fitted (kube-scheduler has checked CPU and memory before calling the extender).
   */
  readonly host?: HostResources;
  readonly devices: readonly Device[];
  /** Pair scores, both directions listed (an absent pair scores 0). */
  readonly links: readonly DeviceLink[];
  /** Device ids taken out of scheduling (`hami.io/device-cordon`). */
  readonly cordoned: ReadonlySet<string>;
}

/** The share of one device given to one container: what the allocation annotations carry. */
export interface DeviceGrant {
  readonly id: string;
  /** Vendor key (the annotation's type field, e.g. `NVIDIA`). */
  readonly vendor: string;
  readonly memoryMiB: number;
  readonly cores: number;
}

/**
 * Devices granted to each container of a pod, init containers first, in pod order; a container
 * without devices has an empty list (positions must line up with the pod spec).
 */
export type PodGrants = readonly (readonly DeviceGrant[])[];
