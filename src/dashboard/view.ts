/**
 * What the dashboard shows, as one JSON document (`GET /api/v1/dashboard`, and each server-sent
 * event): every node and GPU with what is allocated (the scheduler's cache, from the pods'
 * allocation annotations) beside what is really used (the node agents' monitors, when they can be
 * reached), the pods holding shares, the pods waiting with the reason from their last Filter, and
 * the cluster's totals over time. Built here without I/O; the server gathers the inputs.
 *
 * The document is also the contract with the browser island (src/dashboard/client/), which
 * imports these types.
 */

/** One pod's share of one GPU. */
export interface ShareView {
  readonly namespace: string;
  readonly pod: string;
  readonly memoryMiB: number;
  /** Percent of one device. */
  readonly cores: number;
  /** Memory its processes hold now (the node monitor's accounting region), when known. */
  readonly memoryUsedMiB: number | null;
}

export interface GpuView {
  readonly id: string;
  readonly index: number;
  /** The registered type, e.g. `NVIDIA-NVIDIA A100-SXM4-80GB`. */
  readonly type: string;
  readonly memoryMiB: number;
  readonly cores: number;
  readonly splitCount: number;
  readonly healthy: boolean;
  readonly cordoned: boolean;
  readonly tasks: number;
  readonly memoryAllocatedMiB: number;
  readonly coresAllocated: number;
  /** Memory in use on the device (NVML, all processes), when the node's monitor answered. */
  readonly memoryUsedMiB: number | null;
  /** GPU utilisation, percent, when the node's monitor answered. */
  readonly utilization: number | null;
  readonly shares: readonly ShareView[];
}

export interface NodeView {
  readonly name: string;
  readonly gpus: readonly GpuView[];
  /** Why usage is missing for this node (monitor unreachable, not advertised), or null. */
  readonly usageProblem: string | null;
}

/** A pod with the devices it holds: derived from the GPUs' shares by the browser, not sent. */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  /** Each device the pod holds (its containers' grants summed per device), and what it uses there when known. */
  readonly devices: readonly { readonly id: string; readonly memoryMiB: number; readonly cores: number; readonly memoryUsedMiB: number | null }[];
}

export interface PendingView {
  readonly namespace: string;
  readonly name: string;
  /** When the pod was created (ISO 8601), when known. */
  readonly since: string | null;
  /** One line: the last Filter's message, or its per-node reasons summarised. */
  readonly reason: string;
  /** The last Filter's reason per node (empty before the first Filter). */
  readonly failedNodes: Readonly<Record<string, string>>;
}

export interface Totals {
  readonly nodes: number;
  readonly gpus: number;
  readonly memoryMiB: number;
  readonly memoryAllocatedMiB: number;
  /** Summed over the GPUs whose usage is known; null when none is. */
  readonly memoryUsedMiB: number | null;
  /** Percent of one device, summed. */
  readonly cores: number;
  readonly coresAllocated: number;
  /** Mean over the GPUs whose usage is known; null when none is. */
  readonly utilization: number | null;
  readonly pods: number;
  readonly pending: number;
}

/** The totals over time, one column per sample (oldest first); percentages of the cluster. */
export interface HistoryView {
  /** Unix seconds. */
  readonly t: readonly number[];
  readonly memoryAllocated: readonly number[];
  readonly memoryUsed: readonly (number | null)[];
  readonly coresAllocated: readonly number[];
  readonly utilization: readonly (number | null)[];
  readonly pending: readonly number[];
}

export interface DashboardView {
  /** Changes whenever anything below `generatedAt` does: the event stream sends a document only then. */
  readonly version: number;
  /** When this version was built (ISO 8601): the time the data is as of. */
  readonly generatedAt: string;
  readonly totals: Totals;
  readonly nodes: readonly NodeView[];
  readonly pending: readonly PendingView[];
  /** Namespaces holding shares or waiting, sorted: the tenants the colours stand for. */
  readonly namespaces: readonly string[];
  readonly history: HistoryView;
}

/** The what-if endpoint's answer to a bad query (status 400). */
export interface WhatIfError {
  readonly error: string;
}

/** The what-if answer (`GET /api/v1/dashboard/what-if`). */
export interface WhatIfView {
  readonly request: { readonly gpus: number; readonly memoryMiB: number; readonly cores: number; readonly type: string | null };
  /** More pods of this shape the cluster holds now, GPUs shared. */
  readonly withSharing: number;
  /** More pods of this shape it holds when every pod takes whole, idle GPUs. */
  readonly wholeGpus: number;
  /** GPUs of the type asked for (all when none). */
  readonly gpusConsidered: number;
}

/**
 * The pods holding shares, each with its node and devices, sorted by namespace and name: derived
 * from the GPUs' shares (the document does not repeat them). A pod's memory and cores on a device
 * are its charge there.
 */
export function podsOf(nodes: readonly NodeView[]): PodView[] {
  const pods = new Map<string, { namespace: string; name: string; node: string; devices: PodView['devices'][number][] }>();
  for (const node of nodes) {
    for (const gpu of node.gpus) {
      for (const share of gpu.shares) {
        const key = `${share.namespace}/${share.pod}`;
        let pod = pods.get(key);
        if (pod === undefined) {
          pod = { namespace: share.namespace, name: share.pod, node: node.name, devices: [] };
          pods.set(key, pod);
        }
        pod.devices.push({ id: gpu.id, memoryMiB: share.memoryMiB, cores: share.cores, memoryUsedMiB: share.memoryUsedMiB });
      }
    }
  }
  return [...pods.values()].sort((a, b) => byText(a.namespace, b.namespace) || byText(a.name, b.name));
}

/** Code-unit order: Kubernetes names are ASCII, and localeCompare costs a lot over thousands of pods. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
