/**
 * The demo's kube-scheduler: it calls the extender the way kube-scheduler does for pods of its
 * profile. A pending pod (its `schedulerName`, no node yet) gets `POST /filter` with every node's
 * name, then `POST /bind` to the node chosen. One pod at a time, oldest first, as kube-scheduler's
 * scheduling cycle goes. A pod that fits nowhere gets the `PodScheduled=False, Unschedulable`
 * condition with the extender's per-node reasons, and is retried with backoff (1 s doubling to
 * 30 s), as kube-scheduler's unschedulable queue does.
 */
import { NODES, PODS, type ApiServer } from '../../apiserver/index.js';

interface PodView {
  metadata: { name: string; namespace: string; uid: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec: { nodeName?: string; schedulerName?: string };
}

export interface KubeSchedulerOptions {
  readonly api: ApiServer;
  /** The extender's base URL (`http://127.0.0.1:8080`). */
  readonly extenderUrl: string;
  readonly schedulerName: string;
  readonly intervalMs?: number;
  readonly log?: (line: string) => void;
}

/** `0/4 nodes are available: 2 CardInsufficientMemory, 1 CardTypeMismatch, …`, kube-scheduler's summary. */
export function unschedulableMessage(failed: Readonly<Record<string, string>>, nodes: number): string {
  const counts = new Map<string, number>();
  for (const reason of Object.values(failed)) {
    const word = /^\d+\/\d+ ([A-Za-z]+)/.exec(reason)?.[1] ?? reason;
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const parts = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
  return `0/${nodes} nodes are available: ${parts.join(', ')}.`;
}

export class KubeSchedulerStandIn {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly backoff = new Map<string, { until: number; delayMs: number }>();
  /** Pods bound so far. */
  bound = 0;

  constructor(private readonly options: KubeSchedulerOptions) {}

  start(): void {
    const tick = (): void => {
      this.running = this.round().catch((error: unknown) => this.options.log?.(`kube-scheduler: ${String(error)}`));
      void this.running.finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, this.options.intervalMs ?? 200);
      });
    };
    tick();
  }

  private async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.options.extenderUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  }

  private async round(): Promise<void> {
    const { store } = this.options.api;
    const nodeNames = (store.list(NODES).items as { metadata: { name: string } }[]).map((n) => n.metadata.name);
    const now = Date.now();
    const pending = (store.list(PODS).items as unknown as PodView[])
      .filter((p) => p.spec.schedulerName === this.options.schedulerName && !p.spec.nodeName && p.metadata.deletionTimestamp === undefined)
      .filter((p) => (this.backoff.get(p.metadata.uid)?.until ?? 0) <= now)
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
    for (const pod of pending) {
      if (this.closed) return;
      await this.scheduleOne(pod, nodeNames);
    }
  }

  private retryLater(uid: string): void {
    const delayMs = Math.min((this.backoff.get(uid)?.delayMs ?? 500) * 2, 30_000);
    this.backoff.set(uid, { until: Date.now() + delayMs, delayMs });
  }

  private async scheduleOne(pod: PodView, nodeNames: readonly string[]): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    const current = this.options.api.store.find(PODS, namespace, name);
    if (current === undefined) return;
    const filtered = await this.post('/filter', { Pod: current, NodeNames: nodeNames });
    const chosen = (filtered.NodeNames as string[] | null | undefined)?.[0];
    if (filtered.Error !== '' || chosen === undefined) {
      const message = filtered.Error !== '' ? String(filtered.Error) : unschedulableMessage((filtered.FailedNodes ?? {}) as Record<string, string>, nodeNames.length);
      this.condition(namespace, name, message);
      this.retryLater(uid);
      return;
    }
    const bound = await this.post('/bind', { PodName: name, PodNamespace: namespace, PodUID: uid, Node: chosen });
    if (bound.Error !== '') {
      this.options.log?.(`kube-scheduler: binding ${namespace}/${name} to ${chosen}: ${String(bound.Error)}`);
      this.retryLater(uid);
      return;
    }
    this.backoff.delete(uid);
    this.bound++;
  }

  private condition(namespace: string, name: string, message: string): void {
    const condition = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: new Date().toISOString() };
    try {
      this.options.api.store.patch(PODS, namespace, name, 'merge', { status: { phase: 'Pending', conditions: [condition] } }, 'status');
    } catch {
      // Deleted meanwhile.
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
