/**
 * The real DeviceBackend: NVIDIA's NVML, called through koffi (declarations in nvml-library.ts).
 *
 * What is read when:
 * - `open()`: nvmlInit_v2, then each device's identity (UUID, name, PCI bus id, NUMA node from
 *   sysfs) and the topology of every pair, which cannot change while the driver stays loaded;
 *   XID critical-error events are registered once, on the devices that support them.
 * - `inventory()`: pending XID events are drained without blocking, then memory and MIG mode are
 *   read again. Those two queries double as the liveness probe: NVML answers
 *   NVML_ERROR_GPU_IS_LOST for a GPU that fell off the bus.
 * - `usage()` (once per metrics scrape): memory in use and utilisation rates of each device; a
 *   value NVML does not support, or a lost GPU's, is null.
 *
 * Health is sticky, as in the NVIDIA device plugin: once an XID outside xid.ts's APPLICATION_XIDS
 * arrives, or the GPU is lost, the device stays unhealthy until the agent restarts (the GPU
 * needs a reset anyway). An event NVML cannot attribute to a device marks them all, as the
 * plugin does.
 *
 * Failures are DiscoveryErrors naming the NVML call, the device index and nvmlErrorString's text.
 * A GPU lost before its UUID was read cannot be reported at all, so `open()` fails then.
 */

import type { DeviceBackend, DeviceUsageSample, DiscoveredDevice, DiscoveredInventory, DiscoveredLink } from './backend.js';
import { DiscoveryError } from './backend.js';
import {
  NVML_ERROR_GPU_IS_LOST,
  NVML_ERROR_NOT_SUPPORTED,
  NVML_ERROR_TIMEOUT,
  NVML_EVENT_TYPE_XID_CRITICAL_ERROR,
  NVML_NVLINK_DEVICE_TYPE_SWITCH,
  NVML_NVLINK_MAX_LINKS,
  NvmlLibrary,
  type NvmlEvent,
  type NvmlHandle,
  type NvmlResult,
} from './nvml-library.js';
import { canonicalPciBusId, readNumaNode } from './pci.js';
import { countNvLinks, pcieRelationByNuma, pcieRelationOfLevel, type NvLinkPorts } from './topology.js';
import { xidHealthReason } from './xid.js';

export const DEFAULT_NVML_LIBRARY = 'libnvidia-ml.so.1';

export interface NvmlBackendOptions {
  /** Path or soname of the NVML library. @default 'libnvidia-ml.so.1' (found through the loader path) */
  readonly library?: string;
  /** Where sysfs is mounted, for `bus/pci/devices/<bdf>/numa_node`. @default '/sys' */
  readonly sysfsRoot?: string;
}

/** Events handled per inventory() call; the rest wait for the next call. */
const MAX_EVENTS_PER_DRAIN = 1024;
const MIB = 1024 * 1024;
const LOST_REASON = 'GPU is lost (NVML_ERROR_GPU_IS_LOST): it fell off the bus or stopped answering';

interface KnownDevice {
  readonly index: number;
  readonly handle: NvmlHandle;
  readonly uuid: string;
  readonly name: string;
  readonly pciBusId: string;
  readonly numa: number;
  memoryMiB: number | null;
  migEnabled: boolean;
}

/** What to do about the NVML returns an operator can fix, by nvmlReturn_t. */
const REMEDIES: ReadonlyMap<number, string> = new Map([
  [4, 'run the agent with access to the /dev/nvidia* devices'],
  [9, 'load the NVIDIA kernel driver (nvidia-smi must work on the node)'],
  [NVML_ERROR_GPU_IS_LOST, 'reset the GPU (nvidia-smi -r) or reboot the node'],
  [18, 'the kernel driver and libnvidia-ml.so differ in version: reboot the node after a driver upgrade'],
]);

function failure(lib: NvmlLibrary, result: { ret: number; call: string }, index?: number): DiscoveryError {
  const device = index === undefined ? '' : ` for device ${String(index)}`;
  const remedy = REMEDIES.get(result.ret);
  return new DiscoveryError(
    `${result.call} failed${device}: ${lib.errorString(result.ret)} (NVML return ${String(result.ret)}, library ${lib.path})` +
      (remedy === undefined ? '' : `; ${remedy}`),
  );
}

function must<T>(lib: NvmlLibrary, result: NvmlResult<T>, index?: number): T {
  if (result.ok) return result.value;
  throw failure(lib, result, index);
}

function loadLibrary(path: string): NvmlLibrary {
  try {
    return NvmlLibrary.load(path);
  } catch (error) {
    throw new DiscoveryError(
      `cannot load the NVML library ${JSON.stringify(path)} (${(error as Error).message}). ` +
        'Install the NVIDIA driver on this node, or give the full path of libnvidia-ml.so.1; ' +
        'to run without a GPU, use the mock backend (--devices <file.yaml>, see docs/node-agent.md "Mock devices")',
      { cause: error },
    );
  }
}

/** The far ends of a device's active NVLinks. A link whose query fails is left out. */
function readNvLinkPorts(lib: NvmlLibrary, handle: NvmlHandle): NvLinkPorts {
  const toGpu: string[] = [];
  let toSwitch = 0;
  for (let link = 0; link < NVML_NVLINK_MAX_LINKS; link++) {
    const active = lib.nvLinkActive(handle, link);
    if (!active.ok || !active.value) continue;
    const type = lib.nvLinkRemoteDeviceType(handle, link);
    if (type?.ok === true && type.value === NVML_NVLINK_DEVICE_TYPE_SWITCH) {
      toSwitch++;
      continue;
    }
    const remote = lib.nvLinkRemoteBusId(handle, link);
    if (remote.ok) toGpu.push(canonicalPciBusId(remote.value));
  }
  return { toGpu, toSwitch };
}

async function readDevice(lib: NvmlLibrary, index: number, sysfsRoot: string): Promise<KnownDevice> {
  const handle = must(lib, lib.deviceHandle(index), index);
  const pciBusId = must(lib, lib.pciBusId(handle), index);
  const device: KnownDevice = {
    index,
    handle,
    uuid: must(lib, lib.uuid(handle), index),
    name: must(lib, lib.name(handle), index),
    pciBusId,
    numa: await readNumaNode(sysfsRoot, pciBusId),
    memoryMiB: null,
    migEnabled: false,
  };
  const lost = refreshDevice(lib, device);
  if (lost !== undefined) throw failure(lib, lost, index);
  return device;
}

/**
 * Reads memory and MIG mode again. Returns the failed call when the GPU is lost (the device
 * keeps its old values), undefined otherwise.
 */
function refreshDevice(lib: NvmlLibrary, device: KnownDevice): { ret: number; call: string } | undefined {
  const memory = lib.memoryTotal(device.handle);
  const mig = lib.migEnabled(device.handle);
  for (const result of [memory, mig]) {
    if (!result.ok && result.ret === NVML_ERROR_GPU_IS_LOST) return result;
  }
  if (memory.ok) device.memoryMiB = Math.floor(memory.value / MIB);
  else if (memory.ret === NVML_ERROR_NOT_SUPPORTED) device.memoryMiB = null;
  else throw failure(lib, memory, device.index);
  if (mig.ok) device.migEnabled = mig.value;
  else if (mig.ret === NVML_ERROR_NOT_SUPPORTED) device.migEnabled = false;
  else throw failure(lib, mig, device.index);
  return undefined;
}

function readLinks(lib: NvmlLibrary, devices: readonly KnownDevice[]): DiscoveredLink[] {
  const ports = devices.map((d) => readNvLinkPorts(lib, d.handle));
  const links: DiscoveredLink[] = [];
  devices.forEach((a, i) => {
    for (const b of devices.slice(i + 1)) {
      const level = lib.topologyCommonAncestor(a.handle, b.handle);
      if (!level.ok && level.ret !== NVML_ERROR_NOT_SUPPORTED) throw failure(lib, level, a.index);
      const portsA = ports[a.index] ?? { toGpu: [], toSwitch: 0 };
      const portsB = ports[b.index] ?? { toGpu: [], toSwitch: 0 };
      links.push({
        a: a.uuid,
        b: b.uuid,
        nvlinks: countNvLinks(portsA, canonicalPciBusId(b.pciBusId), portsB),
        pcie: level.ok ? pcieRelationOfLevel(level.value) : pcieRelationByNuma(a.numa, b.numa),
      });
    }
  });
  return links;
}

/** Creates the XID event set; undefined when no device supports events. */
function registerXidEvents(lib: NvmlLibrary, devices: readonly KnownDevice[]): NvmlHandle | undefined {
  const set = must(lib, lib.eventSetCreate());
  let registered = 0;
  try {
    for (const device of devices) {
      const result = lib.registerEvents(device.handle, NVML_EVENT_TYPE_XID_CRITICAL_ERROR, set);
      if (result.ok) registered++;
      else if (result.ret !== NVML_ERROR_NOT_SUPPORTED) throw failure(lib, result, device.index);
    }
  } catch (error) {
    lib.eventSetFree(set);
    throw error;
  }
  if (registered > 0) return set;
  lib.eventSetFree(set);
  return undefined;
}

export class NvmlBackend implements DeviceBackend {
  readonly source: string;
  /** Sticky reasons, by device index. */
  private readonly unhealthy = new Map<number, string>();
  private readonly indexByHandle: ReadonlyMap<NvmlHandle, number>;
  private closed = false;

  private constructor(
    private readonly lib: NvmlLibrary,
    private readonly devices: readonly KnownDevice[],
    private readonly links: readonly DiscoveredLink[],
    private readonly eventSet: NvmlHandle | undefined,
  ) {
    this.source = `nvml (${lib.path})`;
    this.indexByHandle = new Map(devices.map((d) => [d.handle, d.index]));
  }

  /**
   * Loads and initialises NVML and reads the devices and their topology.
   *
   * @throws DiscoveryError when the library cannot be loaded, NVML fails, or a GPU is lost already
   */
  static async open(options: NvmlBackendOptions = {}): Promise<NvmlBackend> {
    const lib = loadLibrary(options.library ?? DEFAULT_NVML_LIBRARY);
    const init = lib.init();
    if (!init.ok) {
      const error = failure(lib, init);
      lib.unload();
      throw error;
    }
    try {
      const count = must(lib, lib.deviceCount());
      const devices: KnownDevice[] = [];
      for (let index = 0; index < count; index++) {
        devices.push(await readDevice(lib, index, options.sysfsRoot ?? '/sys'));
      }
      const links = readLinks(lib, devices);
      return new NvmlBackend(lib, devices, links, registerXidEvents(lib, devices));
    } catch (error) {
      lib.shutdown();
      lib.unload();
      throw error;
    }
  }

  inventory(): Promise<DiscoveredInventory> {
    if (this.closed) return Promise.reject(new DiscoveryError(`${this.source}: inventory() after close()`));
    try {
      this.drainEvents();
      for (const device of this.devices) {
        if (refreshDevice(this.lib, device) !== undefined && !this.unhealthy.has(device.index)) {
          this.unhealthy.set(device.index, LOST_REASON);
        }
      }
      return Promise.resolve({ devices: this.devices.map((d) => this.report(d)), links: this.links });
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  usage(): Promise<readonly DeviceUsageSample[]> {
    if (this.closed) return Promise.reject(new DiscoveryError(`${this.source}: usage() after close()`));
    try {
      return Promise.resolve(this.devices.map((d) => this.sample(d)));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.eventSet !== undefined) this.lib.eventSetFree(this.eventSet);
    const shutdown = this.lib.shutdown();
    const error = shutdown.ok ? undefined : failure(this.lib, shutdown);
    this.lib.unload();
    return error === undefined ? Promise.resolve() : Promise.reject(error);
  }

  private report(device: KnownDevice): DiscoveredDevice {
    const reason = this.unhealthy.get(device.index);
    return {
      uuid: device.uuid,
      index: device.index,
      vendor: 'NVIDIA',
      name: device.name,
      memoryMiB: device.memoryMiB,
      pciBusId: device.pciBusId,
      numa: device.numa,
      healthy: reason === undefined,
      ...(reason === undefined ? {} : { healthReason: reason }),
      migEnabled: device.migEnabled,
    };
  }

  /** One device's usage; NOT_SUPPORTED and a lost GPU give null, other failures throw. */
  private sample(device: KnownDevice): DeviceUsageSample {
    const answer = <T>(result: NvmlResult<T>): T | null => {
      if (result.ok) return result.value;
      if (result.ret === NVML_ERROR_NOT_SUPPORTED || result.ret === NVML_ERROR_GPU_IS_LOST) return null;
      throw failure(this.lib, result, device.index);
    };
    const rates = answer(this.lib.utilizationRates(device.handle));
    const used = answer(this.lib.memoryUsed(device.handle));
    return {
      uuid: device.uuid,
      index: device.index,
      memoryUsedBytes: used,
      utilizationPercent: rates?.gpu ?? null,
      memoryUtilizationPercent: rates?.memory ?? null,
    };
  }

  private drainEvents(): void {
    if (this.eventSet === undefined) return;
    for (let n = 0; n < MAX_EVENTS_PER_DRAIN; n++) {
      const result = this.lib.eventSetWait(this.eventSet, 0);
      if (!result.ok) {
        if (result.ret === NVML_ERROR_TIMEOUT) return;
        throw failure(this.lib, result);
      }
      this.onEvent(result.value);
    }
  }

  private onEvent(event: NvmlEvent): void {
    if ((event.eventType & NVML_EVENT_TYPE_XID_CRITICAL_ERROR) === 0) return;
    const reason = xidHealthReason(event.eventData);
    if (reason === undefined) return;
    const index = this.indexByHandle.get(event.device);
    const targets = index === undefined ? this.devices.map((d) => d.index) : [index];
    for (const target of targets) {
      if (!this.unhealthy.has(target)) this.unhealthy.set(target, reason);
    }
  }
}
