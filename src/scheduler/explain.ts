/**
 * Why a pod is pending, or where it went: the scheduler remembers the last Filter and Bind of
 * every pod it decided on since it started (bounded, oldest forgotten first) and serves them as
 * JSON (`GET /api/v1/explain/<namespace>/<name>`) for `tessera explain`. kube-scheduler's
 * `FailedScheduling` event carries only a summary; this keeps each node's reason, the devices
 * chosen and the score.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { PodGrants } from '../core/device.js';
import { decodePathSegments } from '../http/path-segments.js';

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

/** Node names grouped under their reason, in the order first met. */
export function nodesByReason(failed: Iterable<readonly [string, string]>): Map<string, string[]> {
  const byReason = new Map<string, string[]>();
  for (const [node, reason] of failed) {
    const nodes = byReason.get(reason);
    if (nodes) nodes.push(node);
    else byReason.set(reason, [node]);
  }
  return byReason;
}

/**
 * A Filter's per-node reasons as kept: node names grouped under their reason. There are few
 * distinct reasons and the names are shared strings, so a pod that walked past a thousand nodes
 * costs about a thousand pointers, not a thousand-key object (`npm run bench -- explain`).
 */
interface KeptReasons {
  readonly byReason: ReadonlyMap<string, readonly string[]>;
  readonly count: number;
}

function keep(failed: Readonly<Record<string, string>>): KeptReasons {
  const byReason = nodesByReason(Object.entries(failed));
  let count = 0;
  for (const nodes of byReason.values()) count += nodes.length;
  return { byReason, count };
}

function unkeep(kept: KeptReasons): Record<string, string> {
  const failed: Record<string, string> = {};
  for (const [reason, nodes] of kept.byReason) for (const node of nodes) failed[node] = reason;
  return failed;
}

interface Kept {
  readonly namespace: string;
  readonly name: string;
  readonly filter?: Omit<FilterExplanation, 'failedNodes'> & { readonly failed: KeptReasons };
  readonly bind?: BindExplanation;
}

export class ExplanationLog {
  private readonly entries = new Map<string, Kept>();
  /** Node reasons held over all entries. */
  private reasonsHeld = 0;

  /**
   * @param capacity pods remembered at most
   * @param reasonBudget node reasons held at most over all pods (about 10 bytes each): on a large
   *   cluster every pod of a burst can carry a reason for most nodes
   */
  constructor(
    private readonly capacity = 10_000,
    private readonly reasonBudget = 4_000_000,
  ) {}

  private put(namespace: string, name: string, update: (old: Kept | undefined) => Kept): void {
    const key = `${namespace}/${name}`;
    const old = this.entries.get(key);
    const next = update(old);
    this.reasonsHeld += (next.filter?.failed.count ?? 0) - (old?.filter?.failed.count ?? 0);
    this.entries.delete(key);
    this.entries.set(key, next);
    while (this.entries.size > this.capacity || (this.reasonsHeld > this.reasonBudget && this.entries.size > 1)) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.reasonsHeld -= this.entries.get(oldest)?.filter?.failed.count ?? 0;
      this.entries.delete(oldest);
    }
  }

  /** A new Filter replaces the last one and forgets the last Bind (it belonged to an earlier decision). */
  filtered(namespace: string, name: string, filter: FilterExplanation): void {
    const { failedNodes, ...rest } = filter;
    this.put(namespace, name, () => ({ namespace, name, filter: { ...rest, failed: keep(failedNodes) } }));
  }

  bound(namespace: string, name: string, bind: BindExplanation): void {
    this.put(namespace, name, (old) => ({ ...(old ?? { namespace, name }), bind }));
  }

  get(namespace: string, name: string): Explanation | undefined {
    const kept = this.entries.get(`${namespace}/${name}`);
    if (!kept) return undefined;
    const { filter, ...rest } = kept;
    if (!filter) return rest;
    const { failed, ...decision } = filter;
    return { ...rest, filter: { ...decision, failedNodes: unkeep(failed) } };
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
  const parts = decodePathSegments(path.slice(EXPLAIN_PATH.length));
  const [namespace, name] = parts ?? [];
  if (parts?.length !== 2 || !namespace || !name) {
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
