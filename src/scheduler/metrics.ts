/**
 * The scheduler's Prometheus metrics (`GET /metrics`, HAMi's port 9395), under HAMi's current names
 * and labels (its `cmd/scheduler/metrics.go`, default `--legacy-metrics=false`) so HAMi's Grafana
 * dashboard and alerts work unchanged, plus Tessera's own `tessera_scheduler_*` families.
 *
 * The allocation families are computed on each scrape from the scheduler cache, never kept up to
 * date between scrapes: {@link allocationSamples} maps the cache to samples (a pure function, tested
 * without HTTP) and the gauges' `collect()` copy them in. HAMi's units: `_bytes` are MiB × 2^20,
 * `_ratio` families are percent (0–100) except `hami_node_gpu_memory_allocated_ratio`, a 0–1
 * fraction. Every `hami_*` family except `hami_build_info` carries `zone="vGPU"`, as HAMi wraps its
 * registry with that constant label.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { Device } from '../core/device.js';
import type { ClusterState, NodeState } from '../core/placement/cluster.js';
import { parseWholeQuantity } from '../core/quantity.js';
import { QUOTA_KEY_PREFIX, type QuotaAmounts, type QuotaResources, type ResourceQuotaLike } from '../webhook/quota.js';
import type { ExtenderBindingResult, ExtenderFilterResult } from './extender-wire.js';
import type { PodAllocation } from './pod-allocation.js';
import type { SchedulerCache } from './scheduler-cache.js';

/** Bytes in a MiB: HAMi's `_bytes` values are its MiB × 1024 × 1024. */
export const MIB = 2 ** 20;

/** HAMi's constant label on every scheduler family but `hami_build_info`. */
export const ZONE = 'vGPU';

const DEVICE = ['node', 'device_uuid', 'device_index', 'device_type'] as const;
const SHARE = ['namespace', 'node', 'pod', 'container_index', 'device_uuid'] as const;

/**
 * The allocation families, HAMi's names, help texts and label names (in HAMi's order, which is
 * also the order in the exposition).
 */
export const ALLOCATION_FAMILIES = {
  hami_gpu_memory_limit_bytes: { help: 'Device memory limit for a certain GPU', labels: DEVICE },
  hami_gpu_core_limit_ratio: { help: 'Device core limit for a certain GPU (percent of one device)', labels: DEVICE },
  hami_gpu_memory_allocated_bytes: {
    help: 'Device memory allocated for a certain GPU',
    labels: ['node', 'device_uuid', 'device_index', 'device_cores', 'device_type'],
  },
  hami_gpu_shared_count: { help: 'Number of containers sharing this GPU', labels: DEVICE },
  hami_gpu_core_allocated_ratio: { help: 'Device core allocated for a certain GPU (percent of one device)', labels: DEVICE },
  hami_node_gpu_overview: {
    help: 'GPU overview on a certain node: memory allocated, with the device capacity as labels (device_memory_limit in MiB)',
    labels: ['node', 'device_uuid', 'device_index', 'device_cores', 'device_memory_limit', 'device_type'],
  },
  hami_node_gpu_memory_allocated_ratio: { help: 'GPU memory allocated on a certain GPU, as a fraction (0-1) of its memory', labels: DEVICE },
  hami_vgpu_memory_allocated_bytes: { help: 'vGPU memory allocated from a container', labels: SHARE },
  hami_vgpu_core_allocated_ratio: { help: 'vGPU core allocated from a container (percent of one device)', labels: SHARE },
  hami_resource_quota_used: {
    help: 'resourcequota usage for a certain device resource (MiB for memory, percent for cores); the limit is a label',
    labels: ['namespace', 'quota_name', 'limit'],
  },
  hami_resource_quota_limit: { help: 'resourcequota limit for a certain device resource (MiB for memory, percent for cores)', labels: ['namespace', 'quota_name'] },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;

export type AllocationFamily = keyof typeof ALLOCATION_FAMILIES;

/** One series: its labels (without `zone`) and value. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export type AllocationSamples = Readonly<Record<AllocationFamily, readonly Sample[]>>;

function emptySamples(): Record<AllocationFamily, Sample[]> {
  const out = {} as Record<AllocationFamily, Sample[]>;
  for (const name of Object.keys(ALLOCATION_FAMILIES) as AllocationFamily[]) out[name] = [];
  return out;
}

/**
 * The per-device families, one series per registered device (HAMi's `InspectAllNodesUsage` loop).
 *
 * @example an 81920 MiB, 100 % device holding 3000 MiB, 30 % and 1 task:
 *   `hami_gpu_memory_limit_bytes` 85899345920, `hami_gpu_memory_allocated_bytes` 3145728000,
 *   `hami_gpu_core_allocated_ratio` 30, `hami_gpu_shared_count` 1,
 *   `hami_node_gpu_memory_allocated_ratio` 3000 / 81920 = 0.0366…
 */
export function deviceSamples(cluster: ClusterState, into: Record<AllocationFamily, Sample[]> = emptySamples()): Record<AllocationFamily, Sample[]> {
  for (const node of cluster.nodes) {
    node.devices.forEach((d, i) => {
      const index = String(d.index);
      const base = { node: node.name, device_uuid: d.id, device_index: index, device_type: d.type };
      const usedMiB = node.memory[i] ?? 0;
      const cores = String(d.cores);
      into.hami_gpu_memory_limit_bytes.push({ labels: base, value: d.memoryMiB * MIB });
      into.hami_gpu_core_limit_ratio.push({ labels: base, value: d.cores });
      into.hami_gpu_memory_allocated_bytes.push({
        labels: { node: node.name, device_uuid: d.id, device_index: index, device_cores: cores, device_type: d.type },
        value: usedMiB * MIB,
      });
      into.hami_gpu_shared_count.push({ labels: base, value: node.tasks[i] ?? 0 });
      into.hami_gpu_core_allocated_ratio.push({ labels: base, value: node.cores[i] ?? 0 });
      into.hami_node_gpu_overview.push({
        labels: { node: node.name, device_uuid: d.id, device_index: index, device_cores: cores, device_memory_limit: String(d.memoryMiB), device_type: d.type },
        value: usedMiB * MIB,
      });
      // HAMi leaves the ratio out for a device without memory rather than dividing by zero.
      if (d.memoryMiB > 0) into.hami_node_gpu_memory_allocated_ratio.push({ labels: base, value: usedMiB / d.memoryMiB });
    });
  }
  return into;
}

/**
 * The per-container families, one series per device granted to a container. `container_index` is
 * the container's position in the allocation annotation (init containers first, then app
 * containers, as HAMi numbers them); `pod` falls back to the cache key when the name is unknown.
 * Containers whose grants were released (finished init containers) have none.
 */
export function shareSamples(
  pods: Iterable<readonly [string, PodAllocation]>,
  into: Record<AllocationFamily, Sample[]> = emptySamples(),
): Record<AllocationFamily, Sample[]> {
  for (const [key, a] of pods) {
    a.grants.forEach((container, ci) => {
      for (const g of container) {
        if (g.id === '') continue; // HAMi skips a grant without a UUID too
        const labels = { namespace: a.namespace, node: a.node, pod: a.name === '' ? key : a.name, container_index: String(ci), device_uuid: g.id };
        into.hami_vgpu_memory_allocated_bytes.push({ labels, value: g.memoryMiB * MIB });
        into.hami_vgpu_core_allocated_ratio.push({ labels, value: g.cores });
      }
    });
  }
  return into;
}

/**
 * The quota families: for each namespace and each GPU quota resource that one of its
 * ResourceQuotas limits (`limits.nvidia.com/gpumem`, `limits.nvidia.com/gpucores`), what the
 * namespace's pods hold and the limit, with `quota_name` the resource name (`nvidia.com/gpumem`),
 * as HAMi labels it. Units are the charge's: MiB for memory, the limit scaled by `memoryFactor`
 * as the Filter compares it, percent of one device for cores. Where several ResourceQuotas of a
 * namespace limit the same resource, the smallest limit is reported: each quota is enforced on its
 * own, so the smallest is the one that binds. Hard values that are not whole numbers are skipped,
 * as the Filter skips them.
 */
export function quotaSamples(
  quotas: readonly ResourceQuotaLike[],
  resources: readonly QuotaResources[],
  usage: (namespace: string) => QuotaAmounts,
  into: Record<AllocationFamily, Sample[]> = emptySamples(),
): Record<AllocationFamily, Sample[]> {
  const limits = new Map<string, Map<string, number>>();
  for (const quota of quotas) {
    const namespace = quota.metadata?.namespace ?? 'default';
    const hard = quota.spec?.hard ?? {};
    for (const r of resources) {
      for (const [resource, factor] of [
        [r.memoryResource, r.memoryFactor],
        [r.coreResource, 1],
      ] as const) {
        const raw = hard[`${QUOTA_KEY_PREFIX}${resource}`];
        if (raw === undefined) continue;
        const written = parseWholeQuantity(raw);
        if (typeof written === 'string') continue;
        const perNamespace = limits.get(namespace) ?? new Map<string, number>();
        limits.set(namespace, perNamespace);
        perNamespace.set(resource, Math.min(perNamespace.get(resource) ?? Infinity, written * factor));
      }
    }
  }
  for (const [namespace, perResource] of limits) {
    const used = usage(namespace);
    for (const [resource, limit] of perResource) {
      into.hami_resource_quota_used.push({ labels: { namespace, quota_name: resource, limit: String(limit) }, value: used[resource] ?? 0 });
      into.hami_resource_quota_limit.push({ labels: { namespace, quota_name: resource }, value: limit });
    }
  }
  return into;
}

/** What the allocation families are computed from. */
export interface AllocationSource {
  readonly cache: Pick<SchedulerCache, 'cluster' | 'entries' | 'namespaceUsage'>;
  /** Every ResourceQuota the scheduler knows, in all namespaces. */
  readonly quotas: () => readonly ResourceQuotaLike[];
  readonly quotaResources: readonly QuotaResources[];
}

/** Every allocation family's samples, from the cache as it is now. */
export function allocationSamples(source: AllocationSource): AllocationSamples {
  const into = emptySamples();
  deviceSamples(source.cache.cluster, into);
  shareSamples(source.cache.entries(), into);
  quotaSamples(source.quotas(), source.quotaResources, (ns) => source.cache.namespaceUsage(ns, source.quotaResources), into);
  return into;
}

/**
 * The reasons a Filter failure is counted under: stable tokens, one per distinct reason among the
 * nodes refused.
 *
 * - HAMi's device reasons `"<n>/<m> <Reason>"`, possibly several joined by `", "`, give each
 *   `<Reason>`: `"2/2 CardInsufficientMemory, 1/2 CardTypeMismatch"` → `CardInsufficientMemory`,
 *   `CardTypeMismatch`.
 * - Any other text gives its part before the first `" ("` or `":"`, words capitalised and joined:
 *   `"node unregistered"` → `NodeUnregistered`, `"Insufficient cpu"` → `InsufficientCpu`,
 *   `"ResourceQuotaNotFit (…)"` → `ResourceQuotaNotFit`, `"NodeUnfitPod"` → `NodeUnfitPod`.
 * - Text with no letters gives `Unknown`.
 */
export function reasonTokens(text: string): string[] {
  const device = [...text.matchAll(/(?:^|,\s*)\d+\/\d+\s+([A-Za-z][A-Za-z0-9]*)/g)].map((m) => m[1] ?? '');
  if (device.length > 0) return [...new Set(device)];
  const head = text.split(/ \(|:/)[0] ?? '';
  const token = head
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => `${w.charAt(0).toUpperCase()}${w.slice(1)}`)
    .join('');
  return [/[A-Za-z]/.test(token) ? token : 'Unknown'];
}

/**
 * Whether a Filter answer placed the pod: no `Error`, and at least one node named (a pod that asks
 * for no device passes through with its candidates, which counts as success).
 */
export function filterSucceeded(result: ExtenderFilterResult): boolean {
  return result.Error === '' && (result.NodeNames?.length ?? 0) + (result.Nodes?.items.length ?? 0) > 0;
}

/**
 * The reasons a failed Filter answer is counted under: `Error` for an `Error` answer (a request
 * that cannot be read, an annotation patch refused), `NoNodes` when there were no candidates, else
 * the distinct {@link reasonTokens} of its refused nodes.
 */
export function filterFailureReasons(result: ExtenderFilterResult): string[] {
  if (result.Error !== '') return ['Error'];
  const texts = [...Object.values(result.FailedNodes ?? {}), ...Object.values(result.FailedAndUnresolvableNodes ?? {})];
  if (texts.length === 0) return ['NoNodes'];
  return [...new Set(texts.flatMap(reasonTokens))];
}

/** The package version, from package.json two levels up (from src/scheduler and dist/scheduler alike). */
function packageVersion(): string {
  const pkg: unknown = createRequire(import.meta.url)('../../package.json');
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Latency buckets (seconds) for Filter and Bind: Filter's decision is sub-millisecond, Bind makes 3–4 API calls. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface SchedulerMetricsOptions extends AllocationSource {
  /** Whether this replica may decide now, for `tessera_scheduler_ready`. */
  readonly ready: () => boolean;
  /** @default package.json's version */
  readonly version?: string;
  /** Hears a failure to compute the allocation families; the scrape then serves the others. */
  readonly onError?: (error: unknown) => void;
}

/** A label value or HELP text escaped as the text exposition format requires. */
function escapeLabel(value: string): string {
  if (!/[\\\n"]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
}

function familyHeader(name: AllocationFamily): string {
  return `# HELP ${name} ${ALLOCATION_FAMILIES[name].help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} gauge\n`;
}

/**
 * The allocation families (or those named) in the Prometheus text format (gauges, HAMi's constant
 * `zone` label last). The reference rendering; scrapes use {@link AllocationText}, which writes
 * the same bytes faster.
 */
export function renderAllocation(samples: AllocationSamples, families: readonly AllocationFamily[] = Object.keys(ALLOCATION_FAMILIES) as AllocationFamily[]): string {
  const out: string[] = [];
  for (const name of families) {
    out.push(familyHeader(name));
    for (const sample of samples[name]) out.push(`${seriesPrefix(name, sample.labels)}${formatValue(sample.value)}\n`);
    out.push('\n');
  }
  return out.join('');
}

const DEVICE_FAMILIES = [
  'hami_gpu_memory_limit_bytes',
  'hami_gpu_core_limit_ratio',
  'hami_gpu_memory_allocated_bytes',
  'hami_gpu_shared_count',
  'hami_gpu_core_allocated_ratio',
  'hami_node_gpu_overview',
  'hami_node_gpu_memory_allocated_ratio',
] as const satisfies readonly AllocationFamily[];

const QUOTA_FAMILIES = ['hami_resource_quota_used', 'hami_resource_quota_limit'] as const satisfies readonly AllocationFamily[];

const HEADERS = Object.fromEntries((Object.keys(ALLOCATION_FAMILIES) as AllocationFamily[]).map((name) => [name, Buffer.from(familyHeader(name))])) as Record<AllocationFamily, Buffer>;
const NEWLINE = Buffer.from('\n');

/** `name{labels,zone="vGPU"} `: a series up to its value. */
function seriesPrefix(name: string, labels: Readonly<Record<string, string>>): string {
  let text = `${name}{`;
  for (const key in labels) text += `${key}="${escapeLabel(labels[key] ?? '')}",`;
  return `${text}zone="${ZONE}"} `;
}

/** One device granted to one container: its two series, written out (a grant never changes). */
interface ShareLine {
  readonly memory: Buffer;
  readonly cores: Buffer;
}

/**
 * Writes the allocation families straight from the cache, byte for byte as
 * `renderAllocation(allocationSamples(source))` (a test holds it to that), without a sample
 * object per series, and keeps what it wrote: a node's series until its usage changes, a pod's
 * while its allocation record lives (a record is replaced, never changed, when the pod changes),
 * each device's label text while the device record lives. A scrape then mostly joins text it
 * already has; at 1,000 nodes × 8 GPUs, formatting was most of a scrape's time.
 */
export class AllocationText {
  private readonly devices = new WeakMap<Device, { readonly node: string; readonly prefixes: readonly string[] }>();
  private readonly pods = new WeakMap<PodAllocation, { readonly key: string; readonly lines: readonly ShareLine[] }>();
  private readonly nodes = new WeakMap<NodeState, { readonly version: number; readonly chunks: readonly Buffer[] }>();

  private devicePrefixes(node: string, d: Device): readonly string[] {
    const known = this.devices.get(d);
    if (known !== undefined && known.node === node) return known.prefixes;
    const index = String(d.index);
    const base = { node, device_uuid: d.id, device_index: index, device_type: d.type };
    const cores = String(d.cores);
    const prefixes = DEVICE_FAMILIES.map((name) =>
      seriesPrefix(
        name,
        name === 'hami_gpu_memory_allocated_bytes'
          ? { node, device_uuid: d.id, device_index: index, device_cores: cores, device_type: d.type }
          : name === 'hami_node_gpu_overview'
            ? { node, device_uuid: d.id, device_index: index, device_cores: cores, device_memory_limit: String(d.memoryMiB), device_type: d.type }
            : base,
      ),
    );
    this.devices.set(d, { node, prefixes });
    return prefixes;
  }

  private shareLines(key: string, a: PodAllocation): readonly ShareLine[] {
    const known = this.pods.get(a);
    if (known !== undefined && known.key === key) return known.lines;
    const lines: ShareLine[] = [];
    a.grants.forEach((container, ci) => {
      for (const g of container) {
        if (g.id === '') continue; // as shareSamples
        const labels = { namespace: a.namespace, node: a.node, pod: a.name === '' ? key : a.name, container_index: String(ci), device_uuid: g.id };
        lines.push({
          memory: Buffer.from(`${seriesPrefix('hami_vgpu_memory_allocated_bytes', labels)}${formatValue(g.memoryMiB * MIB)}\n`),
          cores: Buffer.from(`${seriesPrefix('hami_vgpu_core_allocated_ratio', labels)}${formatValue(g.cores)}\n`),
        });
      }
    });
    this.pods.set(a, { key, lines });
    return lines;
  }

  /**
   * A node's series of each device family, written out and kept until its usage changes (its
   * version moves on) or it is registered again (a new node state): between two scrapes most
   * nodes of a large cluster hold still.
   */
  private nodeChunks(node: NodeState): readonly Buffer[] {
    const known = this.nodes.get(node);
    if (known !== undefined && known.version === node.version) return known.chunks;
    const chunks = DEVICE_FAMILIES.map((name, f) => {
      let text = '';
      node.devices.forEach((d, i) => {
        const value = AllocationText.deviceValue(name, node, i, d);
        if (value !== null) text += `${this.devicePrefixes(node.name, d)[f] ?? ''}${formatValue(value)}\n`;
      });
      return Buffer.from(text);
    });
    this.nodes.set(node, { version: node.version, chunks });
    return chunks;
  }

  /** The value of device family `name` for the device at `i` of `node`, or null where HAMi writes none. */
  private static deviceValue(name: (typeof DEVICE_FAMILIES)[number], node: NodeState, i: number, d: Device): number | null {
    const memory = node.memory[i] ?? 0;
    switch (name) {
      case 'hami_gpu_memory_limit_bytes':
        return d.memoryMiB * MIB;
      case 'hami_gpu_core_limit_ratio':
        return d.cores;
      case 'hami_gpu_memory_allocated_bytes':
      case 'hami_node_gpu_overview':
        return memory * MIB;
      case 'hami_gpu_shared_count':
        return node.tasks[i] ?? 0;
      case 'hami_gpu_core_allocated_ratio':
        return node.cores[i] ?? 0;
      case 'hami_node_gpu_memory_allocated_ratio':
        return d.memoryMiB > 0 ? memory / d.memoryMiB : null;
    }
  }

  render(source: AllocationSource): string {
    return Buffer.concat(this.renderParts(source)).toString();
  }

  /**
   * The text in parts, most of them kept from earlier scrapes as bytes: a server writes them out
   * as they are rather than joining and encoding megabytes anew each scrape.
   */
  renderParts(source: AllocationSource): Buffer[] {
    const out: Buffer[] = [];
    const nodes = source.cache.cluster.nodes;
    const chunks = nodes.map((node) => this.nodeChunks(node));
    DEVICE_FAMILIES.forEach((name, f) => {
      out.push(HEADERS[name]);
      for (const chunk of chunks) {
        const part = chunk[f];
        if (part !== undefined && part.length > 0) out.push(part);
      }
      out.push(NEWLINE);
    });
    const shares = [...source.cache.entries()].map(([key, a]) => this.shareLines(key, a));
    out.push(HEADERS.hami_vgpu_memory_allocated_bytes);
    for (const pod of shares) for (const line of pod) out.push(line.memory);
    out.push(NEWLINE, HEADERS.hami_vgpu_core_allocated_ratio);
    for (const pod of shares) for (const line of pod) out.push(line.cores);
    out.push(NEWLINE);
    // A handful of series: the sample path serves.
    const quota = quotaSamples(source.quotas(), source.quotaResources, (ns) => source.cache.namespaceUsage(ns, source.quotaResources));
    out.push(Buffer.from(renderAllocation(quota, QUOTA_FAMILIES)));
    return out;
  }
}

/** `verb`, reporting each call's result (or `'threw'`) and its duration in seconds to `observe`. */
function timed<A, R>(verb: (args: A) => Promise<R>, observe: (result: R | 'threw', seconds: number) => void): (args: A) => Promise<R> {
  return async (args) => {
    const start = performance.now();
    let result: R | 'threw' = 'threw';
    try {
      result = await verb(args);
      return result;
    } finally {
      observe(result, (performance.now() - start) / 1000);
    }
  };
}

type Result = 'success' | 'failure';

/**
 * The scheduler's registry (private: nothing else in the process registers into it) and the hooks
 * that record Filter and Bind. Wrap the verbs with {@link instrumentFilter} and
 * {@link instrumentBind}; serve {@link scrape} (or use {@link startMetricsServer}).
 */
export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly filterDuration: Histogram<'result'>;
  private readonly bindDuration: Histogram<'result'>;
  private readonly filterFailures: Counter<'reason'>;

  constructor(private readonly options: SchedulerMetricsOptions) {
    const registers = [this.registry];
    // The allocation families are rendered by renderAllocation(), not registered: with thousands
    // of devices, prom-client's per-series label handling took most of a scrape.
    const build = new Gauge({
      name: 'hami_build_info',
      help: 'Build metadata as labels (Node.js replaces HAMi\'s go_version), value 1',
      labelNames: ['version', 'platform', 'node_version'],
      registers,
    });
    build.set({ version: options.version ?? packageVersion(), platform: `${process.platform}/${process.arch}`, node_version: process.version }, 1);
    new Gauge({
      name: 'tessera_scheduler_nodes',
      help: 'Nodes whose devices the scheduler knows (registered, with the device plugin running)',
      registers,
      collect() {
        this.set(options.cache.cluster.nodes.length);
      },
    });
    new Gauge({
      name: 'tessera_scheduler_ready',
      help: '1 while this replica answers Filter and Bind (caches synced and, with several replicas, leading), else 0',
      registers,
      collect() {
        this.set(options.ready() ? 1 : 0);
      },
    });
    this.filterDuration = new Histogram({
      name: 'tessera_scheduler_filter_duration_seconds',
      help: 'Time to answer POST /filter, by result (success: a node was chosen or the pod passed through)',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.bindDuration = new Histogram({
      name: 'tessera_scheduler_bind_duration_seconds',
      help: 'Time to answer POST /bind, by result',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.filterFailures = new Counter({
      name: 'tessera_scheduler_filter_failures_total',
      help: 'Filter calls that placed nothing, once per distinct reason among the nodes refused (HAMi reason codes; see docs/metrics.md)',
      labelNames: ['reason'],
      registers,
    });
  }

  private readonly allocationText = new AllocationText();

  private allocation(): Buffer[] {
    try {
      return this.allocationText.renderParts(this.options);
    } catch (error) {
      this.options.onError?.(error);
      return [];
    }
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric family this serves: the registry's and the allocation families. */
  async familyNames(): Promise<string[]> {
    return [...(Object.keys(ALLOCATION_FAMILIES) as AllocationFamily[]), ...(await this.registry.getMetricsAsJSON()).map((m) => m.name)];
  }

  /** The exposition text: the allocation families computed once from the cache as it is now, then the registry's. */
  async scrape(): Promise<string> {
    return Buffer.concat(await this.scrapeParts()).toString();
  }

  /** {@link scrape} in parts, for writing out without joining them. */
  async scrapeParts(): Promise<Buffer[]> {
    const parts = this.allocation();
    parts.push(Buffer.from(await this.registry.metrics()));
    return parts;
  }

  /** Records one Filter answer (or, for `'threw'`, an exception). */
  observeFilter(result: ExtenderFilterResult | 'threw', seconds: number): void {
    const ok = result !== 'threw' && filterSucceeded(result);
    this.filterDuration.observe({ result: ok ? 'success' : 'failure' }, seconds);
    if (ok) return;
    for (const reason of result === 'threw' ? ['Exception'] : filterFailureReasons(result)) this.filterFailures.inc({ reason });
  }

  observeBind(result: ExtenderBindingResult | 'threw', seconds: number): void {
    const outcome: Result = result !== 'threw' && result.Error === '' ? 'success' : 'failure';
    this.bindDuration.observe({ result: outcome }, seconds);
  }

  /** The Filter verb, timed and its failures counted. */
  instrumentFilter<A>(filter: (args: A) => Promise<ExtenderFilterResult>): (args: A) => Promise<ExtenderFilterResult> {
    return timed(filter, (result, seconds) => this.observeFilter(result, seconds));
  }

  /** The Bind verb, timed by outcome. */
  instrumentBind<A>(bind: (args: A) => Promise<ExtenderBindingResult>): (args: A) => Promise<ExtenderBindingResult> {
    return timed(bind, (result, seconds) => this.observeBind(result, seconds));
  }
}

export interface MetricsServer {
  /** The endpoint, `http://host:port/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (and `HEAD`) from `metrics`; any other path is 404, another method 405.
 * A scrape that fails is a 500 and is reported to `onError`; the server keeps serving.
 */
export async function startMetricsServer(
  metrics: Pick<SchedulerMetrics, 'scrapeParts' | 'contentType'>,
  options: {
    readonly host?: string;
    readonly port?: number;
    readonly onError?: (error: unknown) => void;
    /** Serves other paths on the same port (the explain API); returns false for a path it does not know. */
    readonly routes?: (request: IncomingMessage, response: ServerResponse) => boolean;
  } = {},
): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      let routed: boolean;
      try {
        routed = options.routes?.(request, response) === true;
      } catch (error) {
        // A bug in a route answers 500; an exception here would end the scheduler's process.
        options.onError?.(error);
        if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end(`${path ?? ''} failed: ${String(error)}\n`);
        return;
      }
      if (routed) return;
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`no such endpoint: ${path ?? ''}; try /metrics\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }).end('/metrics takes GET\n');
      return;
    }
    metrics.scrapeParts().then(
      (parts) => {
        let length = 0;
        for (const part of parts) length += part.length;
        response.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': length });
        if (request.method === 'HEAD') {
          response.end();
          return;
        }
        // Megabytes in thousands of parts: written as they are (one writev), not joined first.
        response.cork();
        for (const part of parts) response.write(part);
        response.end();
      },
      (error: unknown) => {
        options.onError?.(error);
        if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end(`scrape failed: ${String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${String(port)}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
