/**
 * Watch streams, as the apiserver's watch cache serves them: newline-delimited JSON events
 * `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{…}}` on a chunked 200 response.
 *
 * Where a watch starts (`resourceVersion`):
 * - unset or `"0"`: synthetic `ADDED` events for every current object that matches, then changes
 *   from now (upstream: "get state and start at most recent" / "start at any");
 * - a revision N: every change after N, then live changes; when changes after N are no longer
 *   retained, one `ERROR` event carrying a 410 `Expired` Status, then the stream ends (clients
 *   such as client-node's informer relist on it).
 *
 * Selectors filter as the watch cache does: an object that stops matching arrives as `DELETED`
 * (its last matching content, stamped with the new revision) and one that starts matching as
 * `ADDED`. `allowWatchBookmarks=true` adds periodic `BOOKMARK` events carrying only the current
 * revision; `timeoutSeconds` ends the stream cleanly.
 */
import type { ServerResponse } from 'node:http';
import type { JsonObject } from './json.js';
import type { ResourceType } from './kinds.js';
import { labelsOf, matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.js';
import { expired, type ApiError } from './status.js';
import type { Change } from './storage.js';
import { parseRevision, type Store } from './store.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** What a watch request asks for, parsed from its path and query. */
export interface WatchRequest {
  readonly resource: ResourceType;
  /** `''` watches all namespaces (or a cluster-scoped kind). */
  readonly namespace: string;
  readonly labelSelector: LabelSelector;
  readonly fieldSelector: FieldSelector;
  /** The `resourceVersion` query value, `''` when absent. */
  readonly resourceVersion: string;
  readonly allowWatchBookmarks: boolean;
  /** Seconds until the server ends the stream; `undefined` = until closed. */
  readonly timeoutSeconds?: number;
  /** `sendInitialEvents` (watch-list): `undefined` when absent. */
  readonly sendInitialEvents?: boolean;
}

/** How an open watch is ended from outside: cleanly (`end`) or by resetting the connection. */
export type DropMode = 'end' | 'reset';

interface OpenWatch {
  readonly request: WatchRequest;
  readonly response: ServerResponse;
  stop(mode: DropMode): void;
}

/** Annotation on the bookmark that ends the initial events of a watch-list. */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** Open watches, fed from the store's change stream. */
export class WatchHub {
  private readonly open = new Set<OpenWatch>();

  /**
   * @param bookmarkIntervalMs how often a watch that asked for bookmarks gets one
   */
  constructor(
    private readonly store: Store,
    private readonly bookmarkIntervalMs: number,
    /** Hears a failure while feeding one watch; that stream is cut, the write that caused it stands. */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Number of streams now open. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Serves a watch on an HTTP response. Headers are flushed before any event: client-node's watch
   * waits for them, and a quiet watch would otherwise never be seen as established.
   */
  serve(response: ServerResponse, watch: WatchRequest): void {
    const { resource } = watch;
    const matches = (object: JsonObject): boolean => {
      if (watch.namespace !== '' && objectNamespace(object) !== watch.namespace) return false;
      return matchesLabels(watch.labelSelector, labelsOf(object)) && matchesFields(watch.fieldSelector, object, resource.fieldLabels);
    };

    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    response.flushHeaders();

    // Events are written from the next turn of the event loop, all of a turn's in one write: the
    // response to the write that caused an event goes out first, as with a real API server, whose
    // watch cache hears of a change after the write has returned.
    let queued: string[] = [];
    let flushScheduled = false;
    const flush = (): void => {
      flushScheduled = false;
      if (queued.length === 0) return;
      const text = queued.join('');
      queued = [];
      if (!response.writableEnded && !response.destroyed) response.write(text);
    };
    const send = (type: WatchEventType, object: JsonObject): void => {
      if (response.writableEnded || response.destroyed) return;
      queued.push(`${JSON.stringify({ type, object })}\n`);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    };
    const bookmark = (annotations?: JsonObject): void => {
      const metadata: JsonObject = { resourceVersion: this.store.resourceVersion };
      if (annotations !== undefined) metadata['annotations'] = annotations;
      send('BOOKMARK', { kind: resource.kind, apiVersion: resource.apiVersion, metadata });
    };
    const fail = (error: ApiError): void => {
      send('ERROR', error.toStatus());
      flush();
      response.end();
    };

    const rv = watch.resourceVersion;
    const initial = watch.sendInitialEvents ?? (rv === '' || rv === '0');
    if (initial) {
      for (const object of this.store.currentObjects(resource)) if (matches(object)) send('ADDED', object);
      if (watch.sendInitialEvents === true && watch.allowWatchBookmarks) bookmark({ [INITIAL_EVENTS_END]: 'true' });
    } else if (rv !== '' && rv !== '0') {
      // Checked by the REST layer before the stream started (a malformed version is a plain 400).
      const revision = parseRevision(rv);
      const since = this.store.changesSince(resource, revision);
      if (!since.complete) {
        fail(expired(`too old resource version: ${revision} (${since.oldest})`));
        return;
      }
      for (const change of since.changes) this.deliver(change, matches, send);
    }

    const unsubscribe = this.store.subscribe((change) => {
      if (change.resource !== resource) return;
      // A broken stream must never fail the write that is being announced.
      try {
        this.deliver(change, matches, send);
      } catch (error) {
        this.onError(error);
        response.destroy();
      }
    });
    const timers: NodeJS.Timeout[] = [];
    if (watch.allowWatchBookmarks && this.bookmarkIntervalMs > 0) timers.push(setInterval(() => bookmark(), this.bookmarkIntervalMs));
    if (watch.timeoutSeconds !== undefined && watch.timeoutSeconds > 0) {
      timers.push(setTimeout(() => entry.stop('end'), watch.timeoutSeconds * 1000));
    }

    const entry: OpenWatch = {
      request: watch,
      response,
      stop: (mode) => {
        if (mode === 'reset') response.destroy();
        else if (!response.writableEnded) {
          flush();
          response.end();
        }
      },
    };
    const cleanup = (): void => {
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      this.open.delete(entry);
    };
    this.open.add(entry);
    // 'close' also fires when the client goes away mid-stream.
    response.on('close', cleanup);
    response.on('finish', cleanup);
  }

  /** Sends a change to one watch, translated by its filter as the watch cache does. */
  private deliver(change: Change, matches: (object: JsonObject) => boolean, send: (type: WatchEventType, object: JsonObject) => void): void {
    const now = matches(change.object);
    const before = change.previous !== undefined && matches(change.previous);
    switch (change.type) {
      case 'ADDED':
        if (now) send('ADDED', change.object);
        break;
      case 'MODIFIED':
        if (now && before) send('MODIFIED', change.object);
        else if (now) send('ADDED', change.object);
        else if (before && change.previous !== undefined) send('DELETED', withRevision(change.previous, change.resourceVersion));
        break;
      case 'DELETED':
        if (now) send('DELETED', change.object);
        break;
    }
  }

  /** Ends every open watch; returns how many there were. */
  dropAll(mode: DropMode = 'end'): number {
    const all = [...this.open];
    for (const entry of all) entry.stop(mode);
    return all.length;
  }
}

function objectNamespace(object: JsonObject): string {
  const metadata = object['metadata'];
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return '';
  const namespace = metadata['namespace'];
  return typeof namespace === 'string' ? namespace : '';
}

/** A copy of `object` stamped with another `resourceVersion`. */
function withRevision(object: JsonObject, revision: number): JsonObject {
  const metadata = object['metadata'];
  const base = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? metadata : {};
  return { ...object, metadata: { ...base, resourceVersion: String(revision) } };
}
