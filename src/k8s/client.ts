/**
 * The Kubernetes API as Tessera uses it: a small port ({@link KubeClient}) over
 * `@kubernetes/client-node` 1.4.0, so that the scheduler extender, node agent and the rest of
 * `src/k8s/` never see the generated API classes, their one-object parameters or their
 * `ApiException`. Every failure becomes a {@link KubeApiError} carrying the HTTP code and the
 * `v1.Status` reason, which is what callers branch on (retry a 409 `Conflict`, give up on a 404).
 *
 * Only the calls Tessera makes are here: pods and nodes (get, list, merge and JSON patch),
 * `pods/binding`, core/v1 Events, ResourceQuotas (list) and coordination.k8s.io/v1 Leases.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  PatchStrategy,
  type RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
  V1MicroTime,
  type CoreV1Event,
  type KubeConfig,
  type V1Lease,
  type V1ListMeta,
  type V1Namespace,
  type V1Node,
  type V1Pod,
  type V1ResourceQuota,
} from '@kubernetes/client-node';
import { TesseraError } from '../core/errors.js';
import { RawResponseError, RawTransport } from './raw-transport.js';

/** A Pod as the API returns it (client-node's data type; only the type, never the class, leaks). */
export type Pod = V1Pod;
/** A Node as the API returns it. */
export type Node = V1Node;
/** A Namespace as the API returns it. */
export type Namespace = V1Namespace;
/** A core/v1 Event as the API returns it. */
export type KubeEvent = CoreV1Event;
/** A ResourceQuota as the API returns it. */
export type ResourceQuota = V1ResourceQuota;
/**
 * A coordination.k8s.io/v1 Lease. Its `acquireTime` and `renewTime` are always `Date`s here:
 * client-node 1.4.0 hands these MicroTime fields back as the wire string despite its types, and
 * the client turns them back into dates.
 */
export type Lease = V1Lease;

/** Any JSON value, as a patch body holds. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * An RFC 7386 JSON merge patch: objects merge, `null` deletes a key, anything else replaces it.
 * E.g. `{ metadata: { annotations: { 'hami.io/mutex.lock': null } } }` removes one annotation.
 */
export type MergePatch = { readonly [key: string]: JsonValue };

/** One RFC 6902 JSON patch operation; `path` is a JSON pointer (`/` in a key is written `~1`). */
export type JsonPatchOperation =
  | { readonly op: 'add' | 'replace' | 'test'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'remove'; readonly path: string }
  | { readonly op: 'move' | 'copy'; readonly from: string; readonly path: string };

export interface MergePatchOptions {
  /**
   * Optimistic concurrency: the patch applies only if the object's `resourceVersion` is still
   * this one, else the server answers 409 `Conflict` (it is sent as `metadata.resourceVersion`
   * inside the patch, which the apiserver treats as a precondition).
   */
  readonly resourceVersion?: string;
}

/** Which objects a list returns. */
export interface ListOptions {
  /** Namespace to list in; all namespaces when absent (ignored for nodes). */
  readonly namespace?: string;
  /** E.g. `app=web,tier!=db`. */
  readonly labelSelector?: string;
  /** E.g. `spec.nodeName=node-1,status.phase=Running`. */
  readonly fieldSelector?: string;
  /** Page size; the answer's `continue` fetches the next page. */
  readonly limit?: number;
  readonly continue?: string;
  /** `resourceVersion` query parameter (`"0"`: any version, possibly cached). */
  readonly resourceVersion?: string;
}

/** One page of a list, at one consistent `resourceVersion`. */
export interface KubeList<T> {
  readonly items: T[];
  /** The collection's version: a watch from here sees every later change. */
  readonly resourceVersion: string;
  /** Token for the next page, absent on the last. */
  readonly continue?: string;
}

/** The object an Event is about. */
export interface InvolvedObject {
  readonly kind: string;
  readonly name: string;
  /** Absent for cluster-scoped objects such as nodes. */
  readonly namespace?: string;
  readonly uid?: string;
  /** @default 'v1' */
  readonly apiVersion?: string;
  readonly resourceVersion?: string;
  readonly fieldPath?: string;
}

/** A core/v1 Event to record, as `kubectl describe` shows it under "Events". */
export interface EventInput {
  readonly involvedObject: InvolvedObject;
  /** Short CamelCase machine-readable cause, e.g. `BindingSucceed` or `FilteringFailed`. */
  readonly reason: string;
  /** Human-readable detail. */
  readonly message: string;
  readonly type: 'Normal' | 'Warning';
  /** `source.component`, e.g. `tessera-scheduler`. */
  readonly component?: string;
  /** `source.host`, e.g. the node name for a node agent. */
  readonly host?: string;
  /** How many times this occurred. @default 1 */
  readonly count?: number;
  /**
   * Namespace the Event is stored in.
   * @default the involved object's namespace, or `default` for cluster-scoped objects (as client-go does)
   */
  readonly namespace?: string;
}

/** Extra fields of a `pods/binding`. */
export interface BindOptions {
  /** The pod's UID: the bind fails with 409 if the pod was replaced by another of the same name. */
  readonly uid?: string;
  /** Annotations the apiserver copies onto the pod with the binding. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * The Kubernetes calls Tessera makes. Callers depend on this interface, not on client-node;
 * {@link createKubeClient} gives the real one.
 *
 * Every method rejects with {@link KubeApiError} (use {@link isConflict}, {@link isNotFound}).
 */
export interface KubeClient {
  getPod(namespace: string, name: string): Promise<Pod>;
  listPods(options?: ListOptions): Promise<KubeList<Pod>>;
  mergePatchPod(namespace: string, name: string, patch: MergePatch, options?: MergePatchOptions): Promise<Pod>;
  jsonPatchPod(namespace: string, name: string, operations: readonly JsonPatchOperation[]): Promise<Pod>;
  /** Creates the `pods/binding` subresource: the pod is scheduled onto `nodeName`. */
  bindPod(namespace: string, name: string, nodeName: string, options?: BindOptions): Promise<void>;

  getNode(name: string): Promise<Node>;
  listNodes(options?: Omit<ListOptions, 'namespace'>): Promise<KubeList<Node>>;
  mergePatchNode(name: string, patch: MergePatch, options?: MergePatchOptions): Promise<Node>;
  jsonPatchNode(name: string, operations: readonly JsonPatchOperation[]): Promise<Node>;

  /** Records a new Event (no coalescing of repeats: each call creates one object; see `EventRecorder`). */
  createEvent(event: EventInput): Promise<KubeEvent>;
  /** Merge-patches an Event (the recorder bumps `count` and `lastTimestamp` of a repeated one). */
  mergePatchEvent(namespace: string, name: string, patch: MergePatch): Promise<KubeEvent>;

  listResourceQuotas(options?: ListOptions): Promise<KubeList<ResourceQuota>>;
  getNamespace(name: string): Promise<Namespace>;

  getLease(namespace: string, name: string): Promise<Lease>;
  createLease(lease: Lease): Promise<Lease>;
  /**
   * Replaces a lease (`PUT`). `lease.metadata.resourceVersion`, when set, must be the stored
   * one, else 409 `Conflict`: this is how leader election detects a competing writer.
   */
  updateLease(lease: Lease): Promise<Lease>;
}

/** The `v1.Status` reasons Kubernetes defines (`metav1.StatusReason`), for {@link isConflict}'s fallback. */
const KNOWN_REASONS = new Set([
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Invalid',
  'ServerTimeout',
  'StoreReadError',
  'Timeout',
  'TooManyRequests',
  'BadRequest',
  'MethodNotAllowed',
  'NotAcceptable',
  'RequestEntityTooLarge',
  'UnsupportedMediaType',
  'InternalError',
  'Expired',
  'ServiceUnavailable',
]);

/** What to do about a failure, by HTTP code, appended to the message. */
function hintFor(httpCode: number, reason: string): string {
  if (httpCode === 0) return 'check that the API server is reachable at the kubeconfig\'s server address';
  if (httpCode === 401 || httpCode === 403) return 'check the credentials and the RBAC rules of the service account';
  if (httpCode === 404) return 'check the name and namespace';
  if (httpCode === 409 && reason !== 'AlreadyExists') return 're-read the object and retry';
  if (httpCode === 429 || httpCode >= 500) return 'the API server is overloaded or failing; retry with backoff';
  return '';
}

/**
 * A Kubernetes API call that failed: the server refused it (a `v1.Status` with `httpCode` and
 * `reason`) or it never got an answer (`httpCode` 0, `reason` empty). `operation` names the call,
 * e.g. `patch node "gpu-1"`.
 */
export class KubeApiError extends TesseraError {
  constructor(
    readonly operation: string,
    /** The HTTP status, also the Status `code`; 0 when no response arrived. */
    readonly httpCode: number,
    /** The Status `reason` (`Conflict`, `NotFound`, …); `''` when the body carried none. */
    readonly reason: string,
    /** The Status `message`, or the transport error's. */
    readonly serverMessage: string,
    /** The `Retry-After` the server asked for (429, 503), in seconds. */
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
  ) {
    const what = httpCode === 0 ? 'no response' : `${httpCode}${reason === '' ? '' : ` ${reason}`}`;
    const hint = hintFor(httpCode, reason);
    super('TESSERA_ERR_KUBE_API', `${operation}: ${what}: ${serverMessage}${hint === '' ? '' : ` (${hint})`}`, options);
  }
}

/** 409 `Conflict`: a stale `resourceVersion` or a lost race; re-read and retry. Not `AlreadyExists`. */
export function isConflict(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  if (error.reason === 'Conflict') return true;
  return error.httpCode === 409 && !KNOWN_REASONS.has(error.reason);
}

/** 404 `NotFound`: the object (or its namespace) does not exist. */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  if (error.reason === 'NotFound') return true;
  return error.httpCode === 404 && !KNOWN_REASONS.has(error.reason);
}

/** 409 `AlreadyExists`: a create found an object of that name. */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof KubeApiError && error.reason === 'AlreadyExists';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `v1.Status` in an ApiException body: client-node 1.4.0 leaves it as the raw JSON text. */
function statusOf(body: unknown): Record<string, unknown> | undefined {
  if (isRecord(body)) return body;
  if (typeof body !== 'string' || body === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns whatever a client-node call threw into a {@link KubeApiError} naming `operation`.
 * An `ApiException` gives the code and the Status; anything else (connection refused, reset,
 * aborted) is a failure with no response.
 */
export function toKubeApiError(error: unknown, operation: string): KubeApiError {
  if (error instanceof KubeApiError) return error;
  if (error instanceof ApiException) {
    const status = statusOf(error.body);
    const reason = typeof status?.['reason'] === 'string' ? status['reason'] : '';
    const text = typeof error.body === 'string' ? error.body.slice(0, 200) : '';
    const message = typeof status?.['message'] === 'string' ? status['message'] : text === '' ? 'no Status in the response' : text;
    const details = status?.['details'];
    const fromDetails = isRecord(details) && typeof details['retryAfterSeconds'] === 'number' ? details['retryAfterSeconds'] : undefined;
    const header = Number(error.headers['retry-after'] ?? Number.NaN);
    const retryAfter = fromDetails ?? (Number.isFinite(header) ? header : undefined);
    return new KubeApiError(operation, error.code, reason, message, retryAfter, { cause: error });
  }
  if (error instanceof RawResponseError) {
    if (error.httpCode === 0) return new KubeApiError(operation, 0, '', error.message, undefined, { cause: error });
    const status = error.status;
    const reason = typeof status?.['reason'] === 'string' ? status['reason'] : '';
    const message = typeof status?.['message'] === 'string' ? status['message'] : error.bodyText === '' ? 'no Status in the response' : error.bodyText;
    const details = status?.['details'];
    const fromDetails = isRecord(details) && typeof details['retryAfterSeconds'] === 'number' ? details['retryAfterSeconds'] : undefined;
    const header = Number(error.retryAfterHeader ?? Number.NaN);
    const retryAfter = fromDetails ?? (Number.isFinite(header) ? header : undefined);
    return new KubeApiError(operation, error.httpCode, reason, message, retryAfter, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubeApiError(operation, 0, '', message, undefined, { cause: error });
}

function listMetaOf(meta: V1ListMeta | undefined): { resourceVersion: string; continue?: string } {
  const resourceVersion = meta?.resourceVersion ?? '';
  const next = meta?._continue;
  return next === undefined || next === '' ? { resourceVersion } : { resourceVersion, continue: next };
}

/** The list query parameters client-node takes, without the `undefined`s strict optional types refuse. */
function listQuery(options: ListOptions): {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  _continue?: string;
  resourceVersion?: string;
} {
  return {
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
    ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.continue === undefined ? {} : { _continue: options.continue }),
    ...(options.resourceVersion === undefined ? {} : { resourceVersion: options.resourceVersion }),
  };
}

/** The patch with `metadata.resourceVersion` set, which makes the apiserver check it (409 when stale). */
function withResourceVersion(patch: MergePatch, resourceVersion: string | undefined): MergePatch {
  if (resourceVersion === undefined) return patch;
  const metadata = patch['metadata'];
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new TypeError('a merge patch with a resourceVersion precondition must have an object (or no) "metadata"');
  }
  return { ...patch, metadata: { ...(metadata ?? {}), resourceVersion } };
}

/** A MicroTime field as a `V1MicroTime` (a Date that serialises with the microseconds a real apiserver requires). */
function microTime(value: unknown): V1MicroTime | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof V1MicroTime) return value;
  if (value instanceof Date || typeof value === 'string' || typeof value === 'number') {
    const at = new V1MicroTime(value instanceof Date ? value.getTime() : value);
    return Number.isNaN(at.getTime()) ? undefined : at;
  }
  return undefined;
}

/**
 * A lease with its MicroTime fields as `V1MicroTime` dates, both ways: the apiserver parses
 * MicroTime with exactly six fractional digits (a plain Date's three are refused), and client-node
 * returns these fields as strings.
 */
function normalizeLease(lease: Lease): Lease {
  const spec = lease.spec;
  if (spec === undefined) return lease;
  const normalized = { ...spec };
  const acquireTime = microTime(spec.acquireTime);
  const renewTime = microTime(spec.renewTime);
  if (acquireTime === undefined) delete normalized.acquireTime;
  else normalized.acquireTime = acquireTime;
  if (renewTime === undefined) delete normalized.renewTime;
  else normalized.renewTime = renewTime;
  return { ...lease, spec: normalized };
}

function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}

function nodePath(name: string): string {
  return `/api/v1/nodes/${encodeURIComponent(name)}`;
}

export interface KubeClientOptions {
  /** Clock for Event timestamps and names. @default () => new Date() */
  readonly now?: () => Date;
}

/** {@link KubeClient} over client-node's generated `CoreV1Api` and `CoordinationV1Api`. */
/**
 * client-node 1.4.0 builds a new `Agent` for every request (`KubeConfig.applySecurityAuthentication`),
 * so every call opens a connection, and over HTTPS does a TLS handshake: that was a quarter of
 * the scheduler extender's CPU in `npm run bench -- extender`. This keeps client-node's
 * authentication and swaps its throwaway agent for one keep-alive agent with the same options,
 * rebuilt only when those change (rotated client certificates). Proxy agents are left alone.
 */
class KeepAliveAuthentication implements SecurityAuthentication {
  private agent: HttpAgent | undefined;
  private agentKey = '';

  constructor(private readonly kubeConfig: KubeConfig) {}

  getName(): string {
    return 'tessera-keep-alive';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    if (!fresh || (fresh.constructor !== HttpAgent && fresh.constructor !== HttpsAgent)) return;
    const options = (fresh as HttpAgent & { options: Record<string, unknown> }).options;
    const tls = fresh.constructor === HttpsAgent;
    const key = JSON.stringify([tls, options.ca, options.cert, options.key, options.pfx, options.passphrase, options.rejectUnauthorized, options.servername]);
    if (!this.agent || key !== this.agentKey) {
      this.agent?.destroy();
      this.agent = tls ? new HttpsAgent({ ...options, keepAlive: true }) : new HttpAgent({ ...options, keepAlive: true });
      this.agentKey = key;
    }
    context.setAgent(this.agent);
  }
}

/** `kubeConfig.makeApiClient`, with {@link KeepAliveAuthentication}. */
function makeApiClient<T>(kubeConfig: KubeConfig, auth: SecurityAuthentication, api: new (configuration: ReturnType<typeof createConfiguration>) => T): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new TesseraError('TESSERA_ERR_CONFIG', 'kubeconfig has no current cluster: set current-context, or pass --kubeconfig');
  return new api(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } }));
}

export class ClientNodeKubeClient implements KubeClient {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly now: () => Date;
  /** Disambiguates Event names made in the same millisecond. */
  private eventSequence = 0;

  /** Plain JSON over one keep-alive agent, for the calls on hot paths (see raw-transport.ts). */
  private readonly raw: RawTransport;

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    this.raw = new RawTransport(kubeConfig);
    const auth = new KeepAliveAuthentication(kubeConfig);
    this.core = makeApiClient(kubeConfig, auth, CoreV1Api);
    this.coordination = makeApiClient(kubeConfig, auth, CoordinationV1Api);
    this.now = options.now ?? (() => new Date());
  }

  /** Runs a call, turning its failure into a {@link KubeApiError} named `operation`. */
  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toKubeApiError(error, operation);
    }
  }

  /** A call through the lean transport; the answer is the API's JSON, typed as what the path returns. */
  private rawCall<T>(operation: string, method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    return this.call(operation, () => this.raw.request(method, path, body, contentType) as Promise<T>);
  }

  getPod(namespace: string, name: string): Promise<Pod> {
    return this.rawCall(`get pod "${namespace}/${name}"`, 'GET', podPath(namespace, name));
  }

  async listPods(options: ListOptions = {}): Promise<KubeList<Pod>> {
    const namespace = options.namespace;
    const where = namespace === undefined ? 'in all namespaces' : `in namespace "${namespace}"`;
    const list = await this.call(`list pods ${where}`, () =>
      namespace === undefined
        ? this.core.listPodForAllNamespaces(listQuery(options))
        : this.core.listNamespacedPod({ namespace, ...listQuery(options) }),
    );
    return { items: list.items, ...listMetaOf(list.metadata) };
  }

  mergePatchPod(namespace: string, name: string, patch: MergePatch, options: MergePatchOptions = {}): Promise<Pod> {
    const body = withResourceVersion(patch, options.resourceVersion);
    return this.rawCall(`merge-patch pod "${namespace}/${name}"`, 'PATCH', podPath(namespace, name), body, PatchStrategy.MergePatch);
  }

  jsonPatchPod(namespace: string, name: string, operations: readonly JsonPatchOperation[]): Promise<Pod> {
    return this.rawCall(`json-patch pod "${namespace}/${name}"`, 'PATCH', podPath(namespace, name), operations, PatchStrategy.JsonPatch);
  }

  async bindPod(namespace: string, name: string, nodeName: string, options: BindOptions = {}): Promise<void> {
    const metadata = {
      name,
      namespace,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.annotations === undefined ? {} : { annotations: { ...options.annotations } }),
    };
    await this.rawCall(`bind pod "${namespace}/${name}" to node "${nodeName}"`, 'POST', `${podPath(namespace, name)}/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata,
      target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
    });
  }

  getNode(name: string): Promise<Node> {
    return this.rawCall(`get node "${name}"`, 'GET', nodePath(name));
  }

  async listNodes(options: Omit<ListOptions, 'namespace'> = {}): Promise<KubeList<Node>> {
    const list = await this.call('list nodes', () => this.core.listNode(listQuery(options)));
    return { items: list.items, ...listMetaOf(list.metadata) };
  }

  mergePatchNode(name: string, patch: MergePatch, options: MergePatchOptions = {}): Promise<Node> {
    const body = withResourceVersion(patch, options.resourceVersion);
    return this.rawCall(`merge-patch node "${name}"`, 'PATCH', nodePath(name), body, PatchStrategy.MergePatch);
  }

  jsonPatchNode(name: string, operations: readonly JsonPatchOperation[]): Promise<Node> {
    return this.rawCall(`json-patch node "${name}"`, 'PATCH', nodePath(name), operations, PatchStrategy.JsonPatch);
  }

  createEvent(event: EventInput): Promise<KubeEvent> {
    const at = this.now();
    const involved = event.involvedObject;
    const namespace = event.namespace ?? involved.namespace ?? 'default';
    // client-go names an Event `<object>.<unix nanoseconds in hex>`; the sequence keeps two Events
    // of the same millisecond apart.
    this.eventSequence = (this.eventSequence + 1) % 1_000_000;
    const stamp = (BigInt(at.getTime()) * 1_000_000n + BigInt(this.eventSequence)).toString(16);
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${involved.name}.${stamp}`, namespace },
      involvedObject: {
        apiVersion: involved.apiVersion ?? 'v1',
        kind: involved.kind,
        name: involved.name,
        ...(involved.namespace === undefined ? {} : { namespace: involved.namespace }),
        ...(involved.uid === undefined ? {} : { uid: involved.uid }),
        ...(involved.resourceVersion === undefined ? {} : { resourceVersion: involved.resourceVersion }),
        ...(involved.fieldPath === undefined ? {} : { fieldPath: involved.fieldPath }),
      },
      reason: event.reason,
      message: event.message,
      type: event.type,
      count: event.count ?? 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: {
        ...(event.component === undefined ? {} : { component: event.component }),
        ...(event.host === undefined ? {} : { host: event.host }),
      },
    };
    const what = `${involved.kind} "${involved.namespace === undefined ? '' : `${involved.namespace}/`}${involved.name}"`;
    return this.rawCall(`create event ${event.reason} for ${what}`, 'POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, body);
  }

  mergePatchEvent(namespace: string, name: string, patch: MergePatch): Promise<KubeEvent> {
    return this.rawCall(
      `merge-patch event "${namespace}/${name}"`,
      'PATCH',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/events/${encodeURIComponent(name)}`,
      patch,
      PatchStrategy.MergePatch,
    );
  }

  async listResourceQuotas(options: ListOptions = {}): Promise<KubeList<ResourceQuota>> {
    const namespace = options.namespace;
    const where = namespace === undefined ? 'in all namespaces' : `in namespace "${namespace}"`;
    const list = await this.call(`list resourcequotas ${where}`, () =>
      namespace === undefined
        ? this.core.listResourceQuotaForAllNamespaces(listQuery(options))
        : this.core.listNamespacedResourceQuota({ namespace, ...listQuery(options) }),
    );
    return { items: list.items, ...listMetaOf(list.metadata) };
  }

  getNamespace(name: string): Promise<Namespace> {
    return this.call(`get namespace "${name}"`, () => this.core.readNamespace({ name }));
  }

  async getLease(namespace: string, name: string): Promise<Lease> {
    const lease = await this.call(`get lease "${namespace}/${name}"`, () => this.coordination.readNamespacedLease({ namespace, name }));
    return normalizeLease(lease);
  }

  async createLease(lease: Lease): Promise<Lease> {
    const namespace = lease.metadata?.namespace ?? 'default';
    const name = lease.metadata?.name ?? '';
    const created = await this.call(`create lease "${namespace}/${name}"`, () =>
      this.coordination.createNamespacedLease({ namespace, body: normalizeLease(lease) }),
    );
    return normalizeLease(created);
  }

  async updateLease(lease: Lease): Promise<Lease> {
    const namespace = lease.metadata?.namespace ?? 'default';
    const name = lease.metadata?.name ?? '';
    const updated = await this.call(`update lease "${namespace}/${name}"`, () =>
      this.coordination.replaceNamespacedLease({ namespace, name, body: normalizeLease(lease) }),
    );
    return normalizeLease(updated);
  }
}

/** The real {@link KubeClient}, talking to the cluster `kubeConfig` points at. */
export function createKubeClient(kubeConfig: KubeConfig, options: KubeClientOptions = {}): KubeClient {
  return new ClientNodeKubeClient(kubeConfig, options);
}
