/**
 * The node monitor's metrics (`:9394/metrics`), under the names and labels of HAMi's vGPUmonitor
 * (`cmd/vGPUmonitor/metrics.go`), so HAMi's Grafana dashboard and alerts work unchanged:
 *
 * - host metrics, one series per GPU, from the device backend (NVML or the mock file);
 * - container metrics, one series per (container, GPU it was given), from the accounting regions
 *   the enforcement library or HAMi-core keeps under `<hook>/containers/`.
 *
 * Everything is computed per scrape: {@link NodeMonitor.metrics} reads the backend, the regions
 * and the pod list once, and each gauge's `collect()` fills itself from that one snapshot (so a
 * scrape sees one consistent picture, and no label children stay warm between scrapes). The
 * registry is private and carries HAMi's constant label `zone="vGPU"`. A failing part (NVML, the
 * API server, an undecodable region) is logged and left out; the rest is served.
 *
 * The mapping from samples to series ({@link hostGpuSamples}, {@link containerSamples}) is pure.
 */
import { Gauge, Registry } from 'prom-client';

import type { DeviceUsageSample } from '../discovery/backend.js';
import { scanContainerRegions, type ContainerRegion, type PodLookup } from './container-usage.js';

const HOST_LABELS = ['node', 'device_index', 'device_uuid', 'device_type'] as const;
/** HAMi leaves `node` off this one. */
const HOST_LABELS_NO_NODE = ['device_index', 'device_uuid', 'device_type'] as const;
const CONTAINER_LABELS = ['namespace', 'pod', 'container', 'vdevice_index', 'device_uuid'] as const;

/** Every metric the monitor serves: name, help, label names. Names are HAMi's where HAMi has one. */
export const MONITOR_METRICS = {
  hostMemoryUsed: {
    name: 'hami_host_gpu_memory_used_bytes',
    help: 'Device memory in use on the GPU, bytes (NVML nvmlDeviceGetMemoryInfo used; all processes)',
    labels: HOST_LABELS,
  },
  hostUtilization: {
    name: 'hami_host_gpu_utilization_ratio',
    help: 'GPU utilisation, percent 0-100 (NVML nvmlDeviceGetUtilizationRates gpu)',
    labels: HOST_LABELS,
  },
  hostMemoryControllerUtilization: {
    name: 'hami_host_gpu_memory_controller_utilization_ratio',
    help: 'GPU memory controller utilisation, percent 0-100 (NVML nvmlDeviceGetUtilizationRates memory)',
    labels: HOST_LABELS_NO_NODE,
  },
  vgpuMemoryUsed: {
    name: 'hami_vgpu_memory_used_bytes',
    help: "Device memory the container's processes hold on the GPU, bytes (accounting region)",
    labels: CONTAINER_LABELS,
  },
  vgpuMemoryLimit: {
    name: 'hami_vgpu_memory_limit_bytes',
    help: "The container's device memory limit on the GPU, bytes (accounting region; 0: none)",
    labels: CONTAINER_LABELS,
  },
  containerDeviceMemory: {
    name: 'hami_container_device_memory_bytes',
    help: "Device memory the container's processes hold on the GPU, bytes (accounting region)",
    labels: CONTAINER_LABELS,
  },
  vgpuMemoryContext: {
    name: 'hami_vgpu_memory_context_bytes',
    help: "CUDA context memory of the container's processes on the GPU, bytes (accounting region)",
    labels: CONTAINER_LABELS,
  },
  vgpuMemoryModule: {
    name: 'hami_vgpu_memory_module_bytes',
    help: "CUDA module memory of the container's processes on the GPU, bytes (accounting region)",
    labels: CONTAINER_LABELS,
  },
  vgpuMemoryBuffer: {
    name: 'hami_vgpu_memory_buffer_bytes',
    help: "Allocated buffers (data) of the container's processes on the GPU, bytes (accounting region)",
    labels: CONTAINER_LABELS,
  },
  containerDeviceUtilization: {
    name: 'hami_container_device_utilization_ratio',
    help: "SM utilisation of the container's processes on the GPU, percent (accounting region sm_util, written by HAMi-core; 0 when not measured)",
    labels: CONTAINER_LABELS,
  },
  containerLastKernel: {
    name: 'hami_container_last_kernel_elapsed_seconds',
    help: 'Seconds since the container last launched a kernel (accounting region last_kernel_time)',
    labels: CONTAINER_LABELS,
  },
  smLimit: {
    name: 'tessera_vgpu_sm_limit_ratio',
    help: "The container's compute share of the GPU, percent 0-100 (accounting region sm_limit; 100: not limited)",
    labels: CONTAINER_LABELS,
  },
} as const;

export type MonitorMetricName = (typeof MONITOR_METRICS)[keyof typeof MONITOR_METRICS]['name'];

/** One series of one scrape. */
export interface MetricSample {
  readonly name: MonitorMetricName;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * Host series, one per GPU and metric; a value the driver did not report is left out.
 *
 * @param deviceType `device_type` of a GPU by UUID: the registered type (`NVIDIA-<name>`)
 */
export function hostGpuSamples(
  node: string,
  usage: readonly DeviceUsageSample[],
  deviceType: (uuid: string) => string,
): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const device of usage) {
    const labels = { device_index: String(device.index), device_uuid: device.uuid, device_type: deviceType(device.uuid) };
    const add = (name: MonitorMetricName, value: number | null, withNode: boolean): void => {
      if (value !== null) samples.push({ name, labels: withNode ? { node, ...labels } : labels, value });
    };
    add(MONITOR_METRICS.hostMemoryUsed.name, device.memoryUsedBytes, true);
    add(MONITOR_METRICS.hostUtilization.name, device.utilizationPercent, true);
    add(MONITOR_METRICS.hostMemoryControllerUtilization.name, device.memoryUtilizationPercent, false);
  }
  return samples;
}

/**
 * Container series, one per (container, device in its region) and metric. `vdevice_index` is the
 * device's position in the region (the container's CUDA ordinal), `device_uuid` the UUID the
 * region names. The last-kernel age is left out while no kernel has run.
 */
export function containerSamples(containers: readonly ContainerRegion[], now: Date): MetricSample[] {
  const samples: MetricSample[] = [];
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const m = MONITOR_METRICS;
  for (const c of containers) {
    const lastKernel = c.region.lastKernelTime;
    for (const device of c.region.devices) {
      const labels = {
        namespace: c.namespace,
        pod: c.pod,
        container: c.container,
        vdevice_index: String(device.index),
        device_uuid: device.uuid,
      };
      const add = (name: MonitorMetricName, value: number): void => {
        samples.push({ name, labels, value });
      };
      add(m.vgpuMemoryUsed.name, Number(device.usedBytes));
      add(m.vgpuMemoryLimit.name, Number(device.limitBytes));
      add(m.containerDeviceMemory.name, Number(device.usedBytes));
      add(m.vgpuMemoryContext.name, Number(device.contextBytes));
      add(m.vgpuMemoryModule.name, Number(device.moduleBytes));
      add(m.vgpuMemoryBuffer.name, Number(device.dataBytes));
      add(m.containerDeviceUtilization.name, device.smUtilPercent);
      if (lastKernel !== null) add(m.containerLastKernel.name, Math.max(0, nowSeconds - Math.floor(lastKernel.getTime() / 1000)));
      add(m.smLimit.name, device.smLimitPercent);
    }
  }
  return samples;
}

export interface NodeMonitorOptions {
  readonly nodeName: string;
  /** `--hook-path`: the containers' regions are under `<hookPath>/containers/`. */
  readonly hookPath: string;
  /** The backend's usage; absent: no host metrics. */
  readonly usage?: () => Promise<readonly DeviceUsageSample[]>;
  /** Registered `device_type` by UUID; GPUs not in it get `NVIDIA`. */
  readonly deviceTypes: () => ReadonlyMap<string, string>;
  /** The pods on this node, by UID (cache it: it is called at every scrape). */
  readonly pods: () => Promise<PodLookup>;
  /** @default () => new Date() */
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

/** The private registry and its per-scrape snapshot. */
export class NodeMonitor {
  readonly registry = new Registry();
  private snapshot: readonly MetricSample[] = [];
  private scrape: Promise<unknown> = Promise.resolve();
  /** Problems logged already (`path: reason`), so a stuck file is logged once, not every scrape. */
  private logged = new Set<string>();

  constructor(private readonly options: NodeMonitorOptions) {
    this.registry.setDefaultLabels({ zone: 'vGPU' });
    const snapshot = (): readonly MetricSample[] => this.snapshot;
    for (const metric of Object.values(MONITOR_METRICS)) {
      new Gauge({
        name: metric.name,
        help: metric.help,
        labelNames: metric.labels,
        registers: [this.registry],
        collect(this: Gauge) {
          this.reset();
          for (const sample of snapshot()) if (sample.name === metric.name) this.set(sample.labels, sample.value);
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of one scrape. Scrapes run one at a time. Never rejects. */
  metrics(): Promise<string> {
    const run = async (): Promise<string> => {
      this.snapshot = await this.samples();
      try {
        return await this.registry.metrics();
      } finally {
        this.snapshot = [];
      }
    };
    const next = this.scrape.then(run, run);
    this.scrape = next.catch(() => undefined);
    return next;
  }

  /** Reads the backend, the pod list and the regions now. Never rejects: a failing part is logged and left out. */
  async samples(): Promise<MetricSample[]> {
    const { nodeName, usage, deviceTypes } = this.options;
    const samples: MetricSample[] = [];
    if (usage !== undefined) {
      try {
        const types = deviceTypes();
        samples.push(...hostGpuSamples(nodeName, await usage(), (uuid) => types.get(uuid) ?? 'NVIDIA'));
        this.logged.delete('usage');
      } catch (error) {
        this.once('usage', `node-agent: metrics: device usage: ${(error as Error).message}; host metrics left out`);
      }
    }
    let lookup: PodLookup;
    try {
      lookup = await this.options.pods();
      this.logged.delete('pods');
    } catch (error) {
      this.once('pods', `node-agent: metrics: cannot list the pods on ${nodeName}: ${(error as Error).message}; container metrics left out`);
      return samples;
    }
    try {
      const scan = await scanContainerRegions(this.options.hookPath, lookup);
      for (const { path, reason } of scan.skipped) this.once(`${path}: ${reason}`, `node-agent: metrics: skipped ${path}: ${reason}`);
      samples.push(...containerSamples(scan.containers, (this.options.now ?? (() => new Date()))()));
    } catch (error) {
      this.once('scan', `node-agent: metrics: ${(error as Error).message}; container metrics left out`);
    }
    return samples;
  }

  private once(key: string, line: string): void {
    if (this.logged.has(key)) return;
    if (this.logged.size > 1000) this.logged.clear();
    this.logged.add(key);
    this.options.log?.(line);
  }
}

/**
 * A {@link PodLookup} source that lists the node's pods at most once per `ttlMs`
 * (`fieldSelector=spec.nodeName=<node>`, as the kubelet sees them).
 */
export function cachedPodLookup(
  listPods: () => Promise<readonly { metadata?: { uid?: string; namespace?: string; name?: string } }[]>,
  ttlMs = 5000,
  now: () => number = Date.now,
): () => Promise<PodLookup> {
  let cached: { at: number; lookup: PodLookup } | undefined;
  return async () => {
    if (cached !== undefined && now() - cached.at < ttlMs) return cached.lookup;
    const byUid = new Map<string, { namespace: string; name: string }>();
    for (const pod of await listPods()) {
      const { uid, namespace = 'default', name = '' } = pod.metadata ?? {};
      if (uid !== undefined) byUid.set(uid, { namespace, name });
    }
    const lookup: PodLookup = (uid) => byUid.get(uid);
    cached = { at: now(), lookup };
    return lookup;
  };
}
