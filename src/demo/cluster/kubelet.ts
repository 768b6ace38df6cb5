/**
 * The demo cluster's kubelet: per node, the device manager (the node agent's plugin registers with
 * it over unix sockets), the Node's allocatable `nvidia.com/gpu` kept to the healthy slots it
 * advertises, and the pods bound to the node started as the kubelet starts them. One `Allocate`
 * call per container that asks for GPUs, in container order (init containers first). The pod runs
 * if every call succeeds; a refusal fails it with the kubelet's `UnexpectedAdmissionError`.
 * Containers do not really run: a started pod is only marked Running.
 */
import { NODES, PODS, type ApiServer } from '../../apiserver/index.js';
import { KubeletDevices } from './kubelet-devices.js';

interface PodView {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec: {
    nodeName?: string;
    initContainers?: { name: string; resources?: { limits?: Record<string, string> } }[];
    containers: { name: string; resources?: { limits?: Record<string, string> } }[];
  };
  status?: { phase?: string };
}

export interface DemoKubeletOptions {
  readonly api: ApiServer;
  readonly nodeName: string;
  /** The kubelet's device plugin directory (where `kubelet.sock` is served). */
  readonly pluginDir: string;
  readonly resourceName?: string;
  readonly intervalMs?: number;
  readonly log?: (line: string) => void;
}

export class DemoKubelet {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly options: DemoKubeletOptions,
    readonly devices: KubeletDevices,
  ) {}

  static async start(options: DemoKubeletOptions): Promise<DemoKubelet> {
    const kubelet = new DemoKubelet(options, await KubeletDevices.start(options.pluginDir));
    const tick = (): void => {
      kubelet.running = kubelet.round().catch((error: unknown) => options.log?.(`kubelet ${options.nodeName}: ${String(error)}`));
      void kubelet.running.finally(() => {
        if (!kubelet.closed) kubelet.timer = setTimeout(tick, options.intervalMs ?? 300);
      });
    };
    tick();
    return kubelet;
  }

  private get resource(): string {
    return this.options.resourceName ?? 'nvidia.com/gpu';
  }

  private async round(): Promise<void> {
    this.publishAllocatable();
    const { store } = this.options.api;
    const pods = (store.list(PODS).items as unknown as PodView[]).filter(
      (p) => p.spec.nodeName === this.options.nodeName && (p.status?.phase ?? 'Pending') === 'Pending' && p.metadata.deletionTimestamp === undefined && !this.started.has(p.metadata.uid),
    );
    for (const pod of pods) {
      if (this.closed) return;
      this.started.add(pod.metadata.uid);
      await this.startPod(pod);
    }
  }

  /** What the kubelet reports from ListAndWatch: the healthy slots as allocatable. */
  private publishAllocatable(): void {
    const { store } = this.options.api;
    const healthy = String(this.devices.devices.filter((d) => d.health === 'Healthy').length);
    const node = store.find(NODES, '', this.options.nodeName) as { status?: { allocatable?: Record<string, string>; capacity?: Record<string, string> } } | undefined;
    if (node === undefined || node.status?.allocatable?.[this.resource] === healthy) return;
    const resources = { ...(node.status?.allocatable ?? {}), [this.resource]: healthy };
    store.patch(NODES, '', this.options.nodeName, 'merge', { status: { allocatable: resources, capacity: resources } }, 'status');
  }

  private async startPod(pod: PodView): Promise<void> {
    const { namespace, name } = pod.metadata;
    const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    for (const container of containers) {
      const count = Number(container.resources?.limits?.[this.resource] ?? 0);
      if (!(count > 0)) continue;
      const slots = this.devices.devices.filter((d) => d.health === 'Healthy').slice(0, count).map((d) => d.ID);
      try {
        await this.devices.allocate([slots]);
      } catch (error) {
        const message = `Allocate failed due to ${(error as Error).message}, which is unexpected`;
        this.options.log?.(`kubelet ${this.options.nodeName}: pod ${namespace}/${name}: ${message}`);
        this.setStatus(namespace, name, { phase: 'Failed', reason: 'UnexpectedAdmissionError', message });
        return;
      }
    }
    const now = new Date().toISOString();
    this.setStatus(namespace, name, {
      phase: 'Running',
      startTime: now,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: 'True', lastTransitionTime: now },
      ],
    });
  }

  private setStatus(namespace: string, name: string, status: Record<string, unknown>): void {
    try {
      this.options.api.store.patch(PODS, namespace, name, 'merge', { status }, 'status');
    } catch {
      // Deleted meanwhile: nothing to report on.
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
    await this.devices.close();
  }
}
