/**
 * The demo's users: a seeded stream of pods that keeps about `target` of them alive, each leaving
 * after its lifetime. The mix is what a shared GPU cluster sees:
 * - inference shares: one GPU, 2–16 GiB, 10–40% of its compute;
 * - notebooks: a quarter or half of a GPU's memory;
 * - training jobs of 1, 2, 4 or 8 whole GPUs, some of them on A100 or H100 only;
 * - now and then one that fits nowhere (more memory than any GPU has), to show a pending pod
 *   and its reasons.
 * Every pod goes through the admission webhook first, as the API server would send it, and is
 * created with the webhook's patch applied.
 */
import { PODS, type ApiServer } from '../../apiserver/index.js';
import { applyJsonPatch } from '../../apiserver/patch.js';
import { Rng } from '../../sim/rng.js';

export const WORKLOAD_LABEL = 'tessera.io/demo-workload';
const LIFETIME_ANNOTATION = 'tessera.io/demo-lifetime-seconds';

export interface WorkloadOptions {
  readonly api: ApiServer;
  /** The webhook's base URL; pods are admitted through `POST /webhook`. */
  readonly webhookUrl: string;
  readonly namespaces: readonly string[];
  /** Pods kept alive. @default 40 */
  readonly target?: number;
  /** Time between two new pods. @default 1000 */
  readonly intervalMs?: number;
  /** Lifetimes are drawn from this range, in seconds. @default [30, 120] */
  readonly lifetimeSeconds?: readonly [number, number];
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

interface Shape {
  readonly kind: string;
  readonly limits: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export class WorkloadGenerator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private counter = 0;
  private readonly rng: Rng;
  /** Pods created so far. */
  created = 0;

  constructor(private readonly options: WorkloadOptions) {
    this.rng = new Rng(options.seed ?? 42);
  }

  start(): void {
    const tick = (): void => {
      this.running = this.round().catch((error: unknown) => this.options.log?.(`workload: ${String(error)}`));
      void this.running.finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, this.options.intervalMs ?? 1000);
      });
    };
    tick();
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.rng.int(items.length)] as T;
  }

  private shape(): Shape {
    const r = this.rng.float();
    if (r < 0.5) {
      const memory = this.pick([2048, 4096, 6144, 8192, 12288, 16384]);
      return { kind: 'infer', limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': String(memory), 'nvidia.com/gpucores': String(this.pick([10, 20, 30, 40])) } };
    }
    if (r < 0.72) return { kind: 'notebook', limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem-percentage': this.pick(['25', '50']) } };
    if (r < 0.95) {
      const gpus = this.pick(['1', '1', '2', '2', '4', '8']);
      const big = this.rng.float() < 0.5;
      return { kind: 'train', limits: { 'nvidia.com/gpu': gpus }, ...(big && { annotations: { 'nvidia.com/use-gputype': 'A100,H100' } }) };
    }
    return { kind: 'huge', limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '200000' } };
  }

  private async round(): Promise<void> {
    const { store } = this.options.api;
    const mine = (store.list(PODS).items as { metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp?: string } }[]).filter(
      (p) => p.metadata.labels?.[WORKLOAD_LABEL] === 'true',
    );
    const now = Date.now();
    for (const pod of mine) {
      const lifetime = Number(pod.metadata.annotations?.[LIFETIME_ANNOTATION] ?? 60);
      if (now - Date.parse(pod.metadata.creationTimestamp ?? '') > lifetime * 1000) {
        try {
          store.delete(PODS, pod.metadata.namespace, pod.metadata.name);
        } catch {
          // Gone already.
        }
      }
    }
    if (mine.length < (this.options.target ?? 40)) await this.submit();
  }

  private async submit(): Promise<void> {
    const shape = this.shape();
    const namespace = this.pick(this.options.namespaces);
    const name = `${shape.kind}-${String(++this.counter).padStart(4, '0')}`;
    const [low, high] = this.options.lifetimeSeconds ?? [30, 120];
    const lifetime = Math.round(low + this.rng.float() * (high - low));
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { [WORKLOAD_LABEL]: 'true', app: shape.kind }, annotations: { [LIFETIME_ANNOTATION]: String(lifetime), ...shape.annotations } },
      spec: { containers: [{ name: 'main', image: 'nvcr.io/nvidia/pytorch:25.01-py3', resources: { limits: { cpu: '2', memory: '8Gi', ...shape.limits } } }] },
    };
    const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: `${namespace}-${name}`, operation: 'CREATE', namespace, kind: { group: '', version: 'v1', kind: 'Pod' }, object: pod } };
    const response = await fetch(`${this.options.webhookUrl}/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(review) });
    const answer = (await response.json()) as { response?: { allowed?: boolean; patch?: string; status?: { message?: string } } };
    if (answer.response?.allowed !== true) {
      this.options.log?.(`workload: the webhook refused ${namespace}/${name}: ${answer.response?.status?.message ?? response.status}`);
      return;
    }
    const patch = answer.response.patch === undefined ? [] : (JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as unknown[]);
    this.options.api.store.create(PODS, namespace, applyJsonPatch(pod as never, patch as never));
    this.created++;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
