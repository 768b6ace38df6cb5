/**
 * What the GPUs really use, for the dashboard: each node agent advertises its monitor's `/metrics`
 * URL on its Node (`tessera.io/node-monitor-url`), and the scheduler reads them in the background
 * every few seconds. Only three families are kept: memory used and utilisation per GPU (NVML),
 * and memory used per container and GPU (the enforcement library's accounting region).
 *
 * A monitor that does not answer is reported on its node and does not hold up the others. At
 * 1,000 nodes that is 200 requests a second, so by default the scheduler reads them only while
 * someone looks at the dashboard.
 */
import { MIB } from '../scheduler/metrics.js';

export interface DeviceUsageNow {
  readonly memoryUsedMiB: number;
  /** Percent. */
  readonly utilization: number;
}

export interface NodeUsage {
  /** Per GPU UUID. */
  readonly devices: ReadonlyMap<string, DeviceUsageNow>;
  /** Memory held per `<namespace>/<pod>/<GPU UUID>`, MiB, summed over the pod's containers. */
  readonly containers: ReadonlyMap<string, number>;
  /** Why there is no usage (the monitor did not answer), or null. */
  readonly problem: string | null;
}

const HOST_MEMORY = 'hami_host_gpu_memory_used_bytes';
const HOST_UTILIZATION = 'hami_host_gpu_utilization_ratio';
const CONTAINER_MEMORY = 'hami_vgpu_memory_used_bytes';

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/**
 * Reads the three families from a monitor's exposition text (the Prometheus text format); other
 * lines are passed over. A sample whose value is not a number is skipped.
 */
export function parseMonitorText(text: string): Omit<NodeUsage, 'problem'> {
  const memory = new Map<string, number>();
  const utilization = new Map<string, number>();
  const containers = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('hami_')) continue;
    const match = SAMPLE.exec(line);
    if (match === null) continue;
    const [, name, labelText = '', rawValue = ''] = match;
    if (name !== HOST_MEMORY && name !== HOST_UTILIZATION && name !== CONTAINER_MEMORY) continue;
    const value = Number(rawValue);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const [, key = '', raw = ''] of labelText.matchAll(LABEL)) labels[key] = unescape(raw);
    const uuid = labels.device_uuid ?? '';
    if (uuid === '') continue;
    if (name === HOST_MEMORY) memory.set(uuid, value / MIB);
    else if (name === HOST_UTILIZATION) utilization.set(uuid, value);
    else {
      const key = `${labels.namespace ?? ''}/${labels.pod ?? ''}/${uuid}`;
      containers.set(key, (containers.get(key) ?? 0) + value / MIB);
    }
  }
  const devices = new Map<string, DeviceUsageNow>();
  for (const uuid of new Set([...memory.keys(), ...utilization.keys()])) {
    devices.set(uuid, { memoryUsedMiB: Math.round(memory.get(uuid) ?? 0), utilization: utilization.get(uuid) ?? 0 });
  }
  return { devices, containers };
}

export interface ScrapeTarget {
  readonly node: string;
  readonly url: string;
}

export interface NodeUsageScraperOptions {
  /** The monitors to read now: each registered node with an advertised URL. */
  readonly targets: () => Iterable<ScrapeTarget>;
  /** @default 5000 */
  readonly intervalMs?: number;
  /** @default 2000 */
  readonly timeoutMs?: number;
  /** Monitors read at once. @default 16 */
  readonly concurrency?: number;
  /**
   * Whether anyone needs the usage now (someone is looking at the dashboard). While not, no
   * monitor is read and what was read is forgotten, so nothing stale is shown later; it is asked
   * again every second. @default always
   */
  readonly active?: () => boolean;
}

/** How often an inactive scraper asks whether it is needed again. */
const IDLE_CHECK_MS = 1000;

/** Reads every node monitor in the background and keeps the last answer of each. */
export class NodeUsageScraper {
  private readonly usage = new Map<string, NodeUsage>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: NodeUsageScraperOptions) {}

  /** The last usage read from `node`'s monitor; undefined when it advertises none. */
  get(node: string): NodeUsage | undefined {
    return this.usage.get(node);
  }

  start(): void {
    this.stopped = false;
    const tick = (): void => {
      const active = this.options.active?.() ?? true;
      if (!active) this.usage.clear();
      this.running = (active ? this.scrapeAll() : Promise.resolve()).finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, active ? (this.options.intervalMs ?? 5000) : IDLE_CHECK_MS);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round over every target; nodes no longer advertised are forgotten. */
  async scrapeAll(): Promise<void> {
    const targets = [...this.options.targets()];
    const seen = new Set(targets.map((t) => t.node));
    for (const node of this.usage.keys()) if (!seen.has(node)) this.usage.delete(node);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < targets.length && !this.stopped) {
        const target = targets[next++];
        if (target !== undefined) this.usage.set(target.node, await this.scrape(target));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 16, targets.length) }, worker));
  }

  private async scrape(target: ScrapeTarget): Promise<NodeUsage> {
    try {
      const response = await fetch(target.url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 2000) });
      const text = await response.text();
      if (!response.ok) return { devices: new Map(), containers: new Map(), problem: `monitor ${target.url} answered ${String(response.status)}` };
      return { ...parseMonitorText(text), problem: null };
    } catch (error) {
      // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, …).
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = error instanceof Error && error.name === 'TimeoutError' ? 'did not answer in time' : `unreachable (${cause?.code ?? cause?.message ?? String(error)})`;
      return { devices: new Map(), containers: new Map(), problem: `monitor ${target.url} ${reason}` };
    }
  }
}
