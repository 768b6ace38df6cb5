/**
 * The seam between the node agent and the hardware: a DeviceBackend says which accelerators the
 * node has, how healthy they are and how they are wired together. NVML (`nvml.ts`) is the real
 * one; the mock (`mock.ts`) reads the same facts from a YAML file, for tests, the demo cluster and
 * anyone trying Tessera without GPUs.
 *
 * What a backend reports is raw hardware: names as the driver gives them, memory before any
 * scaling, no split counts. Turning it into HAMi's register annotation is registration's job.
 */

import { TesseraError } from '../../core/errors.js';

/** One accelerator as the driver reports it. */
export interface DiscoveredDevice {
  /** Stable unique id (`GPU-…` for NVIDIA). */
  readonly uuid: string;
  /** Position in the driver's enumeration (NVML index). */
  readonly index: number;
  /** Vendor key (HAMi's CommonWord): `NVIDIA` for every NVML device. */
  readonly vendor: string;
  /** Product name as the driver reports it, e.g. `NVIDIA H100 80GB HBM3`. */
  readonly name: string;
  /** Total memory in MiB; null when the driver cannot report it (unified-memory parts such as GB10). */
  readonly memoryMiB: number | null;
  /** PCI bus id in the driver's form, e.g. `00000000:17:00.0`; empty when unknown. */
  readonly pciBusId: string;
  /** NUMA node of the PCI slot (sysfs `numa_node`); 0 when the platform reports none (-1). */
  readonly numa: number;
  readonly healthy: boolean;
  /** Why the device is unhealthy (e.g. `XID 79: GPU has fallen off the bus`); absent when healthy. */
  readonly healthReason?: string;
  /** Whether MIG mode is enabled (current mode). */
  readonly migEnabled: boolean;
}

/**
 * How two devices reach each other, best path first (HAMi's P2P link types): `nvlinks` counts
 * the NVLink connections between them (directly or through NVSwitch), and `pcie` is the closest
 * common ancestor on the PCIe tree.
 */
export type PcieRelation = 'same-board' | 'single-switch' | 'multi-switch' | 'host-bridge' | 'same-cpu' | 'cross-cpu';

export interface DiscoveredLink {
  /** UUIDs of the two ends; each pair is listed once. */
  readonly a: string;
  readonly b: string;
  readonly nvlinks: number;
  readonly pcie: PcieRelation;
}

export interface DiscoveredInventory {
  /** In index order. */
  readonly devices: readonly DiscoveredDevice[];
  readonly links: readonly DiscoveredLink[];
}

/**
 * What one device is doing now, as the driver reports it; the node monitor's host metrics. A
 * value the driver cannot report (NVML_ERROR_NOT_SUPPORTED, a lost GPU) is null.
 */
export interface DeviceUsageSample {
  readonly uuid: string;
  readonly index: number;
  /** Device memory in use, bytes (`nvmlDeviceGetMemoryInfo().used`, every process on the GPU). */
  readonly memoryUsedBytes: number | null;
  /** Percent of the last sample period in which a kernel ran (`nvmlUtilization_t.gpu`), 0–100. */
  readonly utilizationPercent: number | null;
  /** Percent of the period in which device memory was read or written (`nvmlUtilization_t.memory`), 0–100. */
  readonly memoryUtilizationPercent: number | null;
}

export interface DeviceBackend {
  /** What this backend reads, for logs: `nvml (/usr/lib/…/libnvidia-ml.so.1)`, `mock (/etc/tessera/devices.yaml)`. */
  readonly source: string;
  /**
   * The node's devices now. Called at start and then periodically (the agent's health interval),
   * so it must be cheap to repeat and must report health changes since the last call.
   *
   * @throws DiscoveryError when the driver or the file cannot be read
   */
  inventory(): Promise<DiscoveredInventory>;
  /**
   * Memory in use and utilisation of every device, in index order; read once per metrics scrape.
   * Optional so that a backend without usage still serves discovery (the monitor then reports
   * no host metrics); NVML and the mock implement it.
   *
   * @throws DiscoveryError when the driver or the file cannot be read
   */
  usage?(): Promise<readonly DeviceUsageSample[]>;
  /** Frees what the backend holds (NVML shutdown, file watchers). Idempotent. */
  close(): Promise<void>;
}

/**
 * The devices cannot be read: the driver library is missing or fails, or a mock file is malformed.
 * The message names the library call or the file, line and field, and the value.
 */
export class DiscoveryError extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('TESSERA_ERR_DISCOVERY', message, options);
  }
}
