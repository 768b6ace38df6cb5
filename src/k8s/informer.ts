/**
 * Informers that do not die: a local cache of pods or nodes kept current by list+watch, built on
 * client-node's informer (`makeInformer`'s `ListWatch`), with what it lacks for a long-running
 * process.
 *
 * client-node's informer relists on 410 Gone but on any other error (a failed list, a watch
 * refused with 500, a reset connection) it emits `error` and stops for good. The scheduler
 * extender would then keep placing pods on a frozen view of the cluster. This wrapper restarts it
 * after a capped exponential backoff (100 ms doubling to 5 s by default, back to 100 ms once it
 * has run for a healthy period), resuming the watch from the last `resourceVersion` or relisting
 * when that is gone, so the cache converges on the server's state again.
 *
 * It also keeps faults in user code from reaching the informer: a handler that throws is reported
 * and the others still run (client-node would silently drop the rest of that watch event, or
 * reject its relist), and `stop()` ends every request and timer so tests and shutdowns finish.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { createKubeClient, type KubeClient, type KubeList, type Node, type Pod } from './client.js';

/** The changes an informer reports. */
export type InformerEventType = 'add' | 'update' | 'delete';

/**
 * Hears one change. `update` gets the new object only (client-node's cache keeps no old copy);
 * `delete` gets the last state the informer knew.
 */
export type InformerHandler<T> = (object: T) => void;

/** What went wrong, for {@link InformerOptions.onError}. */
export interface InformerErrorContext {
  /** What the informer watches, e.g. `pods in namespace "default"`. */
  readonly informer: string;
  /**
   * `list-watch`: the list or the watch failed and the informer restarts after `restartInMs`;
   * `handler`: a handler for `event` threw (the informer carries on).
   */
  readonly during: 'list-watch' | 'handler';
  readonly event?: InformerEventType;
  readonly restartInMs?: number;
}

/** Restart timing after a failure. */
export interface BackoffOptions {
  /** Delay before the first restart. @default 100 */
  readonly initialMs?: number;
  /** Longest delay; each failure doubles it up to here. @default 5000 */
  readonly maxMs?: number;
  /** A run this long without failing resets the delay to `initialMs`. @default 30000 */
  readonly resetAfterMs?: number;
  /**
   * Fraction of each delay taken off at random (0 to 1), so that many agents restarting after
   * the same outage do not all come back at once. @default 0.2
   */
  readonly jitter?: number;
}

export interface InformerOptions {
  /** Only objects with these labels, e.g. `gpu=on`. */
  readonly labelSelector?: string;
  /** Only objects with these fields, e.g. `spec.nodeName=gpu-1`. */
  readonly fieldSelector?: string;
  readonly backoff?: BackoffOptions;
  /**
   * Hears every failure the informer survives: list and watch errors (before a restart) and
   * handler exceptions.
   * @default prints to stderr
   */
  readonly onError?: (error: unknown, context: InformerErrorContext) => void;
  /** The port used for the list half; the watch half uses the kubeconfig. @default createKubeClient(kubeConfig) */
  readonly client?: KubeClient;
}

export interface PodInformerOptions extends InformerOptions {
  /** Watch one namespace; all when absent. */
  readonly namespace?: string;
}

/** A cache of one kind of object kept current by list+watch. */
export interface Informer<T> {
  /** The cached object, or `undefined`; omit `namespace` for cluster-scoped kinds. */
  get(name: string, namespace?: string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): readonly T[];
  /**
   * Adds a handler and returns a function that removes it. An `add` handler registered once
   * objects are cached is first called for each of them, as client-go's `AddEventHandler` does,
   * so a late subscriber misses nothing.
   */
  on(event: InformerEventType, handler: InformerHandler<T>): () => void;
  /**
   * Resolves once the first list is in the cache; rejects if the informer is stopped before
   * that. Stays resolved across restarts.
   */
  readonly synced: Promise<void>;
  hasSynced(): boolean;
  /** Starts listing and watching; again is a no-op. */
  start(): void;
  /** Ends the watch, any pending restart and all handler calls; final. */
  stop(): Promise<void>;
  /** How many times the informer was restarted after a failure. */
  readonly restarts: number;
}

/** What the informer is told about its own watch requests. */
interface WatchHooks {
  isStopped(): boolean;
  /** The informer is about to watch: the list before it, if any, is in the cache. */
  watching(): void;
}

/**
 * client-node's `Watch`, with the control the informer needs and `ListWatch` does not give: no
 * watch starts after `stop()` (a stop during a list would otherwise be followed by a fresh
 * watch), every open watch can be aborted (a stop before the response headers leaves
 * `ListWatch` without the controller to abort), and events and completions after `stop()` are
 * dropped (the abort itself ends the watch with an error `ListWatch` would report).
 */
class GuardedWatch extends Watch {
  private readonly open = new Set<AbortController>();

  constructor(
    config: KubeConfig,
    private readonly hooks: WatchHooks,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.hooks.isStopped()) {
      // Never calling `done` leaves ListWatch idle, which is what stopped means.
      const idle = new AbortController();
      idle.abort();
      return idle;
    }
    this.hooks.watching();
    // `done` may run before `super.watch` returns the controller (a refused watch).
    const state: { finished: boolean; controller?: AbortController } = { finished: false };
    const controller = await super.watch(
      path,
      queryParams,
      (phase, apiObj, watchObj) => {
        if (!this.hooks.isStopped()) callback(phase, apiObj, watchObj);
      },
      (err: unknown) => {
        state.finished = true;
        if (state.controller !== undefined) this.open.delete(state.controller);
        if (!this.hooks.isStopped()) done(err);
      },
    );
    state.controller = controller;
    if (this.hooks.isStopped()) controller.abort();
    else if (!state.finished) this.open.add(controller);
    return controller;
  }

  abortAll(): void {
    for (const controller of this.open) controller.abort();
    this.open.clear();
  }
}

function checkBackoff(backoff: BackoffOptions): Required<BackoffOptions> {
  const resolved = {
    initialMs: backoff.initialMs ?? 100,
    maxMs: backoff.maxMs ?? 5000,
    resetAfterMs: backoff.resetAfterMs ?? 30_000,
    jitter: backoff.jitter ?? 0.2,
  };
  if (!(resolved.initialMs > 0) || !(resolved.maxMs >= resolved.initialMs)) {
    throw new RangeError(`informer backoff: need 0 < initialMs <= maxMs, got initialMs=${resolved.initialMs}, maxMs=${resolved.maxMs}`);
  }
  if (!(resolved.resetAfterMs >= 0)) throw new RangeError(`informer backoff: resetAfterMs must be >= 0, got ${resolved.resetAfterMs}`);
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) throw new RangeError(`informer backoff: jitter must be in [0, 1], got ${resolved.jitter}`);
  return resolved;
}

function defaultOnError(error: unknown, context: InformerErrorContext): void {
  const what =
    context.during === 'handler'
      ? `a ${context.event ?? ''} handler threw`
      : `list/watch failed, restarting in ${Math.round(context.restartInMs ?? 0)} ms`;
  console.error(`tessera informer (${context.informer}): ${what}:`, error);
}

/** Everything a {@link ResilientInformer} needs to know about its kind. */
export interface InformerSource<T> {
  /** Watch path, e.g. `/api/v1/namespaces/default/pods`. */
  readonly path: string;
  /** Named in error reports, e.g. `pods in namespace "default"`. */
  readonly description: string;
  /** Lists the objects, with the same selectors as the watch. */
  list(): Promise<KubeList<T>>;
}

/** {@link Informer} over client-node's `ListWatch`; see the module comment. */
export class ResilientInformer<T extends KubernetesObject> implements Informer<T> {
  readonly synced: Promise<void>;
  private readonly listWatch: ListWatch<T>;
  private readonly watcher: GuardedWatch;
  private readonly handlers: Record<InformerEventType, Set<InformerHandler<T>>> = { add: new Set(), update: new Set(), delete: new Set() };
  private readonly backoff: Required<BackoffOptions>;
  private readonly onError: (error: unknown, context: InformerErrorContext) => void;
  private resolveSynced: () => void = () => undefined;
  private rejectSynced: (error: Error) => void = () => undefined;
  private isSynced = false;
  private started = false;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Consecutive failures, the exponent of the next delay. */
  private failures = 0;
  private lastStartAt = 0;
  private restartCount = 0;

  constructor(
    kubeConfig: KubeConfig,
    private readonly source: InformerSource<T>,
    options: InformerOptions = {},
  ) {
    this.backoff = checkBackoff(options.backoff ?? {});
    this.onError = options.onError ?? defaultOnError;
    this.synced = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    // Marks the promise handled: nobody awaiting it must not turn a stop into an unhandled rejection.
    this.synced.catch(() => undefined);
    this.watcher = new GuardedWatch(kubeConfig, {
      isStopped: () => this.stopped,
      watching: () => {
        if (this.isSynced) return;
        this.isSynced = true;
        this.resolveSynced();
      },
    });
    const list = async (): Promise<KubernetesListObject<T>> => {
      const page = await source.list();
      return { metadata: { resourceVersion: page.resourceVersion }, items: page.items };
    };
    this.listWatch = new ListWatch<T>(source.path, this.watcher, list, false, options.labelSelector, options.fieldSelector);
    for (const event of ['add', 'update', 'delete'] as const) {
      this.listWatch.on(event, (object: T) => this.dispatch(event, object, this.handlers[event]));
    }
    this.listWatch.on('error', (error: unknown) => this.failed(error));
  }

  get restarts(): number {
    return this.restartCount;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.listWatch.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.listWatch.list(namespace);
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  on(event: InformerEventType, handler: InformerHandler<T>): () => void {
    if (event === 'add' && !this.stopped) {
      for (const object of this.listWatch.list()) this.dispatch('add', object, [handler]);
    }
    this.handlers[event].add(handler);
    return () => {
      this.handlers[event].delete(handler);
    };
  }

  start(): void {
    if (this.stopped) throw new Error(`informer for ${this.source.description} was stopped; create a new one to watch again`);
    if (this.started) return;
    this.started = true;
    this.launch();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.listWatch.stop();
    this.watcher.abortAll();
    if (!this.isSynced) this.rejectSynced(new Error(`informer for ${this.source.description} was stopped before its first list`));
  }

  /** Calls each handler, so that one that throws neither stops the others nor reaches ListWatch. */
  private dispatch(event: InformerEventType, object: T, handlers: Iterable<InformerHandler<T>>): void {
    if (this.stopped) return;
    for (const handler of [...handlers]) {
      try {
        handler(object);
      } catch (error) {
        this.report(error, { informer: this.source.description, during: 'handler', event });
      }
    }
  }

  private report(error: unknown, context: InformerErrorContext): void {
    try {
      this.onError(error, context);
    } catch {
      // A failing reporter has nowhere left to report to; the informer must live on.
    }
  }

  /** (Re)starts ListWatch: it resumes the watch from its last version, or relists when it has none. */
  private launch(): void {
    if (this.stopped) return;
    this.lastStartAt = Date.now();
    this.listWatch.start().catch((error: unknown) => this.failed(error));
  }

  /** ListWatch has stopped on `error`: restart it after the next backoff delay. */
  private failed(error: unknown): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    if (Date.now() - this.lastStartAt >= this.backoff.resetAfterMs) this.failures = 0;
    const capped = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    const delay = capped * (1 - this.backoff.jitter * Math.random());
    this.failures = Math.min(this.failures + 1, 30);
    this.report(error, { informer: this.source.description, during: 'list-watch', restartInMs: delay });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restartCount += 1;
      this.launch();
    }, delay);
  }
}

/**
 * An informer on pods, in one namespace or all. Call `start()`, then await `synced` before
 * trusting the cache.
 *
 * @example
 * const pods = createPodInformer(kubeConfig, { fieldSelector: 'spec.nodeName=gpu-1' });
 * pods.on('add', (pod) => track(pod));
 * pods.start();
 * await pods.synced;
 */
export function createPodInformer(kubeConfig: KubeConfig, options: PodInformerOptions = {}): Informer<Pod> {
  const client = options.client ?? createKubeClient(kubeConfig);
  const { namespace, labelSelector, fieldSelector } = options;
  const selectors = {
    ...(labelSelector === undefined ? {} : { labelSelector }),
    ...(fieldSelector === undefined ? {} : { fieldSelector }),
  };
  return new ResilientInformer<Pod>(
    kubeConfig,
    {
      path: namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      description: namespace === undefined ? 'pods in all namespaces' : `pods in namespace "${namespace}"`,
      list: () => client.listPods({ ...selectors, ...(namespace === undefined ? {} : { namespace }) }),
    },
    options,
  );
}

/** An informer on nodes; see {@link createPodInformer}. */
export function createNodeInformer(kubeConfig: KubeConfig, options: InformerOptions = {}): Informer<Node> {
  const client = options.client ?? createKubeClient(kubeConfig);
  const { labelSelector, fieldSelector } = options;
  return new ResilientInformer<Node>(
    kubeConfig,
    {
      path: '/api/v1/nodes',
      description: 'nodes',
      list: () =>
        client.listNodes({
          ...(labelSelector === undefined ? {} : { labelSelector }),
          ...(fieldSelector === undefined ? {} : { fieldSelector }),
        }),
    },
    options,
  );
}
