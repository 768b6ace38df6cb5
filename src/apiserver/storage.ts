/**
 * Versioned object storage, the part of the API server that etcd and the watch cache play
 * upstream: objects per resource type, one `resourceVersion` counter shared by every write of every
 * kind (etcd's revision), and a bounded history of changes per resource type from which watches
 * resume and paged lists read consistent snapshots.
 *
 * It knows nothing of Kubernetes semantics beyond versions; {@link Store} applies those on top.
 * Stored objects are frozen and replaced on every write, never changed in place, so history
 * entries and snapshots can share them safely.
 */
import type { JsonObject } from './json.js';
import type { ResourceType } from './kinds.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One write, as watches see it. */
export interface Change {
  readonly type: ChangeType;
  readonly resource: ResourceType;
  /** The object's {@link objectKey}. */
  readonly key: string;
  /** The revision of this write. */
  readonly resourceVersion: number;
  /** The object after the write; for `DELETED`, the last state with the deletion's revision. */
  readonly object: JsonObject;
  /** The object before the write (absent for `ADDED`); watches with selectors need it. */
  readonly previous?: JsonObject;
}

export type ChangeListener = (change: Change) => void;

/** An object's place in its resource type: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(namespace: string, name: string): string {
  return namespace === '' ? name : `${namespace}/${name}`;
}

interface ResourceState {
  readonly objects: Map<string, JsonObject>;
  /** Changes in revision order; the oldest are dropped beyond the history limit. */
  history: Change[];
  /** Highest revision whose change has been dropped: history from any revision ≥ this is whole. */
  compactedThrough: number;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Whether every change after `revision` is still retained for the resource type. */
export type HistoryResult = { readonly complete: true; readonly changes: readonly Change[] } | { readonly complete: false; readonly oldest: number };

export class VersionedStorage {
  private revision = 0;
  private readonly states = new Map<string, ResourceState>();
  private readonly listeners = new Set<ChangeListener>();
  /** Revision below which history is missing for resource types first touched after a compaction. */
  private compactFloor = 0;

  /**
   * @param historyLimit changes kept per resource type; a watch or a paged list from before the
   *   oldest kept change gets 410 Expired
   */
  constructor(private historyLimit: number) {
    if (!Number.isInteger(historyLimit) || historyLimit < 1) throw new RangeError(`historyLimit must be a positive integer, got ${historyLimit}`);
  }

  /** The revision of the latest write (0 before any). */
  get currentRevision(): number {
    return this.revision;
  }

  private state(resource: ResourceType): ResourceState {
    let state = this.states.get(resource.key);
    if (state === undefined) {
      state = { objects: new Map(), history: [], compactedThrough: this.compactFloor };
      this.states.set(resource.key, state);
    }
    return state;
  }

  get(resource: ResourceType, key: string): JsonObject | undefined {
    return this.state(resource).objects.get(key);
  }

  /** Current objects of a resource type in key order. */
  current(resource: ResourceType): { key: string; object: JsonObject }[] {
    return [...this.state(resource).objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, object]) => ({ key, object }));
  }

  /** The next revision, for a write about to happen; objects are stamped with it before {@link commit}. */
  nextRevision(): number {
    return this.revision + 1;
  }

  /**
   * Records a write: the object (stamped with {@link nextRevision}) replaces or removes the stored
   * one, the change joins the history and every listener hears of it.
   */
  commit(type: ChangeType, resource: ResourceType, key: string, object: JsonObject): Change {
    const state = this.state(resource);
    const previous = state.objects.get(key);
    this.revision += 1;
    const frozen = deepFreeze(object);
    if (type === 'DELETED') state.objects.delete(key);
    else state.objects.set(key, frozen);
    const base = { type, resource, key, resourceVersion: this.revision, object: frozen };
    const change: Change = previous === undefined ? base : { ...base, previous };
    state.history.push(change);
    if (state.history.length > this.historyLimit) {
      const dropped = state.history.splice(0, state.history.length - this.historyLimit);
      state.compactedThrough = Math.max(state.compactedThrough, dropped[dropped.length - 1]?.resourceVersion ?? 0);
    }
    for (const listener of [...this.listeners]) listener(change);
    return change;
  }

  /** Changes of a resource type after `revision`, or where they start when some are gone. */
  changesSince(resource: ResourceType, revision: number): HistoryResult {
    const state = this.state(resource);
    if (revision < state.compactedThrough) return { complete: false, oldest: state.compactedThrough };
    return { complete: true, changes: state.history.filter((c) => c.resourceVersion > revision) };
  }

  /**
   * The objects of a resource type as they were at `revision`, in key order, rebuilt by undoing
   * later changes; `undefined` when the history no longer reaches back that far.
   */
  snapshot(resource: ResourceType, revision: number): { key: string; object: JsonObject }[] | undefined {
    if (revision >= this.revision) return this.current(resource);
    const since = this.changesSince(resource, revision);
    if (!since.complete) return undefined;
    const objects = new Map(this.state(resource).objects);
    for (const change of [...since.changes].reverse()) {
      if (change.previous === undefined) objects.delete(change.key);
      else objects.set(change.key, change.previous);
    }
    return [...objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, object]) => ({ key, object }));
  }

  /** Forgets all history: any watch or paged list from before now gets 410 Expired. */
  compact(): void {
    for (const state of this.states.values()) {
      state.history = [];
      state.compactedThrough = this.revision;
    }
    // Resource types not yet touched must expire too.
    this.compactFloor = this.revision;
  }

  /** Changes the history limit from now on (a smaller limit takes effect at the next write). */
  setHistoryLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`historyLimit must be a positive integer, got ${limit}`);
    this.historyLimit = limit;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
