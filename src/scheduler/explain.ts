/**
 * Why a pod is pending, or where it went: the scheduler remembers the last Filter and Bind of
 * every pod it decided on since it started (bounded, oldest forgotten first) and serves them as
 * JSON (`GET /api/v1/explain/<namespace>/<name>`) for `tessera explain`. kube-scheduler's
 * `FailedScheduling` event carries only a summary; this keeps each node's reason, the devices
 * chosen and the score.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { PodGrants } from '../core/device.js';

export type FilterOutcome =
  /** Placed: `node` chosen, the others in `failedNodes`. */
  | 'placed'
  /** No node fits; `failedNodes` says why for each. */
  | 'unschedulable'
  /** The request could not be read, the quota refused it, or writing the decision failed. */
  | 'error';

export interface FilterExplanation {
  readonly at: string;
  readonly outcome: FilterOutcome;
  readonly node?: string;
  readonly score?: number;
  /** Devices per container (init containers first), as written to the pod's annotations. */
  readonly grants?: PodGrants;
  /** The containers' names in the same order (init containers first). */
  readonly containers?: readonly string[];
  /** Nodes that fit, of those asked. */
  readonly fits?: number;
  readonly candidates: number;
  readonly failedNodes: Readonly<Record<string, string>>;
  /** Nodes that fit and ranked before `node`, passed over because another pod was being bound there. */
  readonly busyNodes?: readonly string[];
  readonly message?: string;
}

export interface BindExplanation {
  readonly at: string;
  readonly node: string;
  /** Empty when the bind succeeded. */
  readonly error: string;
}

export interface Explanation {
  readonly namespace: string;
  readonly name: string;
  readonly filter?: FilterExplanation;
  readonly bind?: BindExplanation;
}

export const EXPLAIN_PATH = '/api/v1/explain/';

export class ExplanationLog {
  private readonly entries = new Map<string, Explanation>();

  constructor(private readonly capacity = 10_000) {}

  private put(namespace: string, name: string, update: (old: Explanation | undefined) => Explanation): void {
    const key = `${namespace}/${name}`;
    const next = update(this.entries.get(key));
    this.entries.delete(key);
    this.entries.set(key, next);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** A new Filter replaces the last one and forgets the last Bind (it belonged to an earlier decision). */
  filtered(namespace: string, name: string, filter: FilterExplanation): void {
    this.put(namespace, name, () => ({ namespace, name, filter }));
  }

  bound(namespace: string, name: string, bind: BindExplanation): void {
    this.put(namespace, name, (old) => ({ ...(old ?? { namespace, name }), bind }));
  }

  get(namespace: string, name: string): Explanation | undefined {
    return this.entries.get(`${namespace}/${name}`);
  }

  get size(): number {
    return this.entries.size;
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/**
 * Answers `GET /api/v1/explain/<namespace>/<name>`; returns false for any other path, so the
 * caller can route it elsewhere.
 */
export function serveExplain(log: ExplanationLog, request: IncomingMessage, response: ServerResponse): boolean {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  if (!path.startsWith(EXPLAIN_PATH)) return false;
  if (request.method !== 'GET') {
    json(response, 405, { error: `${path} takes GET` });
    return true;
  }
  const parts = path.slice(EXPLAIN_PATH.length).split('/').map((p) => decodeURIComponent(p));
  const [namespace, name] = parts;
  if (parts.length !== 2 || !namespace || !name) {
    json(response, 400, { error: `write ${EXPLAIN_PATH}<namespace>/<name>, got ${path}` });
    return true;
  }
  const found = log.get(namespace, name);
  if (found === undefined) {
    json(response, 404, {
      error:
        `no decision recorded for pod ${namespace}/${name} since this scheduler started: it may ask for no GPU, ` +
        'not have reached the scheduler yet, or have been decided by another replica',
    });
    return true;
  }
  json(response, 200, found);
  return true;
}
