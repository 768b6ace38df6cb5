/**
 * The mutating admission webhook's decision, as a pure function: an AdmissionReview in, the
 * AdmissionReview answer out (allowed with a JSON Patch, or refused with a Status). No I/O; the
 * HTTP layer (`server.ts`) reads the body, looks up the namespace and writes the answer.
 *
 * It follows HAMi's webhook (`pkg/scheduler/webhook.go`, the vendors' `MutateAdmission`): pods that
 * ask for a managed resource are routed to our scheduler, get the resource defaults HAMi writes,
 * and are refused when HAMi refuses them. `docs/webhook.md` lists each rule with its HAMi source
 * and where this module departs.
 */
import { z } from 'zod';

import type { CompiledDeviceConfig, NvidiaConfig } from '../config/device-config.js';
import { vendorsFromConfig } from '../config/vendors.js';
import { quote, RequestError } from '../core/errors.js';
import { resourceValue, type ContainerSpec, type PodLike } from '../core/pod.js';
import { parseWholeQuantity } from '../core/quantity.js';
import { podRequest } from '../core/request.js';
import { NVIDIA } from '../core/vendors/nvidia.js';
import type { Vendor, VendorAsk } from '../core/vendors/vendor.js';
import { type ContainerInput, issueText, podSchema } from '../k8s/object-schemas.js';
import { checkQuota, podQuotaCharge, quotaResourcesFromConfig, type QuotaState } from './quota.js';

// ---------------------------------------------------------------------------------------------
// Names

/** HAMi's `--scheduler-name` default (chart value `schedulerName`): the profile pods are routed to. */
export const DEFAULT_SCHEDULER_NAME = 'hami-scheduler';

/** What the API server writes into `spec.schedulerName` when a pod names none. */
export const KUBE_DEFAULT_SCHEDULER = 'default-scheduler';

/** Label that takes a pod, or every pod of a namespace, out of the webhook's hands. */
export const WEBHOOK_LABEL = 'hami.io/webhook';
export const WEBHOOK_LABEL_IGNORE = 'ignore';

/** Task priority for HAMi-core (`util.TaskPriority`), from `nvidia.com/priority`. */
export const ENV_TASK_PRIORITY = 'CUDA_TASK_PRIORITY';
/** HAMi-core's compute-limit policy (`util.CoreLimitSwitch`), from `gpuCorePolicy`. */
export const ENV_CORE_POLICY = 'GPU_CORE_UTILIZATION_POLICY';
/** Set to `none` on containers that ask for no GPU when `overwriteEnv` is on. */
export const ENV_VISIBLE_DEVICES = 'NVIDIA_VISIBLE_DEVICES';

/** AdmissionReview versions answered; the answer carries the request's. HAMi's chart registers v1beta1. */
export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

/** What the webhook is configured with; compile once, use for every review. */
export interface AdmissionOptions {
  /** The device configuration: resource names, defaults, `overwriteEnv`, `gpuCorePolicy`, `runtimeClassName`. */
  readonly config: CompiledDeviceConfig;
  /** The vendor modules that decide which pods ask for managed resources. @default vendorsFromConfig(config) */
  readonly vendors?: readonly Vendor[];
  /** Written into `spec.schedulerName` of the pods routed to us. @default 'hami-scheduler' */
  readonly schedulerName?: string;
  /**
   * Whether a pod naming `default-scheduler` (what the API server fills in when a pod names none)
   * is routed to us anyway. HAMi's `--force-overwrite-default-scheduler`.
   * @default true
   */
  readonly forceOverwriteDefaultScheduler?: boolean;
}

/** What the webhook knows of the pod's namespace, looked up by the caller. */
export interface NamespaceContext {
  /** The namespace's labels (for `hami.io/webhook: ignore`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Its ResourceQuotas and what its pods hold; absent means no GPU quota is checked. */
  readonly quota?: QuotaState;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** One RFC 6902 operation, as this webhook writes them. */
export type JsonPatchOperation =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'remove'; readonly path: string };

/** A refusal's Status, as the API server shows it to the client. */
export interface AdmissionStatus {
  readonly code: number;
  /** Kubernetes `StatusReason`: `Forbidden` for policy, `Invalid` for bad values. */
  readonly reason: 'Forbidden' | 'Invalid';
  readonly message: string;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  /** Base64 of the JSON Patch document. */
  readonly patch?: string;
  readonly status?: AdmissionStatus;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: AdmissionApiVersion;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** The fields of a review this webhook reads, validated. */
export interface AdmissionRequest {
  readonly apiVersion: AdmissionApiVersion;
  readonly uid: string;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  /** `request.namespace`, else the pod's, else `default`. */
  readonly namespace: string;
  /** `request.kind.kind` (`Pod`), when sent. */
  readonly kind: string | undefined;
  readonly subResource: string | undefined;
  /** The pod, as sent (validated as a Pod when the operation is CREATE on pods). */
  readonly object: JsonObject | null;
}

/** A review that cannot be answered: the HTTP layer answers 400 with the message. */
export interface ReviewError {
  readonly ok: false;
  readonly code: 400;
  readonly message: string;
}

/** The answer to a review, with what was decided in one line for logs. */
export interface AdmissionResult {
  readonly ok: true;
  readonly review: AdmissionReviewResponse;
  /** The patch the answer carries (empty when none). */
  readonly patch: readonly JsonPatchOperation[];
  /** `mutated`, `allowed`, `skipped` or `denied`. */
  readonly outcome: 'mutated' | 'allowed' | 'skipped' | 'denied';
  /** Why, for people: `routed to hami-scheduler; …`, `namespace carries hami.io/webhook=ignore`. */
  readonly summary: string;
  /** `namespace/name` (the generateName with `*` when the name is not set yet). */
  readonly pod: string;
}

// ---------------------------------------------------------------------------------------------
// Validation at the boundary

const reviewSchema = z.looseObject({
  apiVersion: z.enum(ADMISSION_API_VERSIONS),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1),
    kind: z.looseObject({ group: z.string().nullish(), version: z.string().nullish(), kind: z.string() }).nullish(),
    subResource: z.string().nullish(),
    namespace: z.string().nullish(),
    operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
    object: z.unknown().optional(),
  }),
});

type Pod = z.output<typeof podSchema>;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function reviewError(message: string): ReviewError {
  return { ok: false, code: 400, message: `malformed AdmissionReview: ${message}` };
}

/**
 * Validates an AdmissionReview body (already parsed from JSON). Only what the webhook reads is
 * checked; unknown fields pass through untouched.
 *
 * @returns the request, or a {@link ReviewError} naming the first bad field
 *   (`request.object.spec.containers[0].name: expected string, received number (got 7)`)
 */
export function parseAdmissionReview(body: unknown): { ok: true; request: AdmissionRequest } | ReviewError {
  if (!isJsonObject(body)) return reviewError(`the body must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  const parsed = reviewSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) return reviewError(issueText('', parsed.error));
  const r = parsed.data.request;
  const kind = r.kind?.kind ?? undefined;
  const subResource = r.subResource ? r.subResource : undefined;
  const isPodCreate = r.operation === 'CREATE' && (kind === undefined || kind === 'Pod') && subResource === undefined;
  let object: JsonObject | null = null;
  if (isPodCreate) {
    if (!isJsonObject(r.object)) return reviewError('request.object: must be the Pod being created');
    const pod = podSchema.safeParse(r.object, { reportInput: true });
    if (!pod.success) return reviewError(issueText('request.object', pod.error));
    // Normalised to plain JSON so that the patch is computed against exactly what was sent.
    object = JSON.parse(JSON.stringify(r.object)) as JsonObject;
  } else if (isJsonObject(r.object)) {
    object = r.object as JsonObject;
  }
  const podNamespace = isJsonObject(object?.['metadata']) ? object['metadata']['namespace'] : undefined;
  const namespace = r.namespace ? r.namespace : typeof podNamespace === 'string' && podNamespace ? podNamespace : 'default';
  return {
    ok: true,
    request: { apiVersion: parsed.data.apiVersion, uid: r.uid, operation: r.operation, namespace, kind, subResource, object },
  };
}

// ---------------------------------------------------------------------------------------------
// The decision

interface Compiled {
  readonly config: CompiledDeviceConfig;
  readonly vendors: readonly Vendor[];
  readonly nvidia: NvidiaConfig | undefined;
  readonly schedulerName: string;
  readonly forceOverwrite: boolean;
}

function compile(options: AdmissionOptions): Compiled {
  return {
    config: options.config,
    vendors: options.vendors ?? vendorsFromConfig(options.config),
    nvidia: options.config.nvidia,
    schedulerName: options.schedulerName ?? DEFAULT_SCHEDULER_NAME,
    forceOverwrite: options.forceOverwriteDefaultScheduler ?? true,
  };
}

function podName(pod: Pod, namespace: string): string {
  const name = pod.metadata?.name ? pod.metadata.name : pod.metadata?.generateName ? `${pod.metadata.generateName}*` : '';
  return `${namespace}/${name}`;
}

function ignored(labels: Readonly<Record<string, string>> | null | undefined): boolean {
  return labels?.[WEBHOOK_LABEL] === WEBHOOK_LABEL_IGNORE;
}

/** A pod's container with its place: `spec.initContainers[0]`, `spec.containers[2]`. */
interface Slot {
  readonly path: 'initContainers' | 'containers';
  readonly index: number;
  readonly field: string;
  readonly container: ContainerInput;
}

function slots(pod: Pod): Slot[] {
  const of = (path: Slot['path'], list: readonly ContainerInput[] | null | undefined): Slot[] =>
    (list ?? []).map((container, index) => ({ path, index, field: `spec.${path}[${index}]`, container }));
  return [...of('initContainers', pod.spec.initContainers), ...of('containers', pod.spec.containers)];
}

/** The schema's container, as core's structural ContainerSpec (null fields read as absent). */
function asSpec(container: ContainerInput): ContainerSpec {
  return container as unknown as ContainerSpec;
}

/** Whether the container names this resource at all, in limits or requests (HAMi's `resourcePresent`). */
function present(container: ContainerSpec, name: string): boolean {
  return resourceValue(container, name) !== undefined;
}

/** Whether a pod would be touched beyond an allow: it asks some vendor for something, or overwriteEnv is on. */
function mentionsManaged(pod: Pod, c: Compiled): boolean {
  if (c.nvidia?.overwriteEnv) return true;
  return slots(pod).some(({ container }) =>
    c.vendors.some((v) => {
      try {
        return v.containerAsk(asSpec(container)) !== null;
      } catch (error) {
        if (error instanceof RequestError) return true;
        throw error;
      }
    }),
  );
}

/**
 * Whether the answer to this review can depend on the namespace (its labels or its quota): a pod
 * being created that is not itself ignored and that asks for a managed resource (or
 * `overwriteEnv` is on). The HTTP layer looks the namespace up only then, so pods without GPUs
 * never wait on it.
 */
export function namespaceLookupNeeded(request: AdmissionRequest, options: AdmissionOptions): boolean {
  if (request.operation !== 'CREATE' || request.object === null) return false;
  const pod = podSchema.safeParse(request.object);
  if (!pod.success || ignored(pod.data.metadata?.labels)) return false;
  return mentionsManaged(pod.data, compile(options));
}

/** Writable views of the mutated copy. */
function child(parent: JsonObject, key: string): JsonObject {
  const value = parent[key];
  if (isJsonObject(value)) return value;
  const created: JsonObject = {};
  parent[key] = created;
  return created;
}

function list(parent: JsonObject, key: string): JsonValue[] {
  const value = parent[key];
  if (Array.isArray(value)) return value;
  const created: JsonValue[] = [];
  parent[key] = created;
  return created;
}

/**
 * The pod being changed: a copy of what was sent, and the containers in it by slot. Mutations go
 * to the copy and the patch is the difference, as HAMi answers with
 * `PatchResponseFromRaw(original, mutated)`.
 */
class Mutation {
  readonly pod: JsonObject;
  readonly changes: string[] = [];

  constructor(original: JsonObject) {
    this.pod = JSON.parse(JSON.stringify(original)) as JsonObject;
  }

  private container(slot: Slot): JsonObject {
    const containers = list(child(this.pod, 'spec'), slot.path);
    const found = containers[slot.index];
    if (!isJsonObject(found)) throw new Error(`BUG: ${slot.field} vanished from the copy`);
    return found;
  }

  /**
   * Sets a resource limit. The request is set too when the container has a requests map, so that
   * requests and limits of the extended resource agree without relying on the API server
   * defaulting the request again after the patch.
   */
  setResource(slot: Slot, name: string, value: string): void {
    const resources = child(this.container(slot), 'resources');
    child(resources, 'limits')[name] = value;
    if (isJsonObject(resources['requests'])) resources['requests'][name] = value;
    this.changes.push(`${slot.field} ${name}=${value}`);
  }

  /** Appends an env var, unless the container already sets that name to that value (a reinvocation). */
  addEnv(slot: Slot, name: string, value: string): void {
    const env = list(this.container(slot), 'env');
    if (env.some((e) => isJsonObject(e) && e['name'] === name && e['value'] === value)) return;
    env.push({ name, value });
    this.changes.push(`${slot.field} env ${name}=${value}`);
  }

  setSpec(key: string, value: string): void {
    child(this.pod, 'spec')[key] = value;
    this.changes.push(`spec.${key}=${value}`);
  }
}

type Denial = { readonly status: AdmissionStatus };

function denied(code: 403 | 422, message: string): Denial {
  return { status: { code, reason: code === 403 ? 'Forbidden' : 'Invalid', message } };
}

/**
 * HAMi's NVIDIA `MutateAdmission` for one container that asks for NVIDIA devices: the count and
 * compute defaults it writes, and the environment for HAMi-core.
 */
function mutateNvidia(slot: Slot, ask: VendorAsk, nv: NvidiaConfig, m: Mutation): Denial | undefined {
  const spec = asSpec(slot.container);
  const countRaw = resourceValue(spec, nv.resourceCountName);
  if (countRaw === undefined) {
    // mutateContainerResource: memory, compute or a percentage without a count gets defaultGPUNum.
    m.setResource(slot, nv.resourceCountName, String(nv.defaultGPUNum));
  } else if (parseWholeQuantity(countRaw) === 0) {
    const asked = [nv.resourceMemoryName, nv.resourceMemoryPercentageName, nv.resourceCoreName].filter((n) => present(spec, n));
    return denied(
      422,
      `container ${quote(slot.container.name)} (${slot.field}): ${nv.resourceCountName}=${quote(String(countRaw))} must be at least 1 ` +
        `when ${asked.join(' and ')} ${asked.length > 1 ? 'are' : 'is'} asked for: a share of zero devices cannot be granted; ` +
        `ask for 1 or more devices, or remove ${nv.resourceCountName} to get the default of ${nv.defaultGPUNum}`,
    );
  }
  // defaultExclusiveCoreIfNeeded (HAMi #1354): a count without compute whose memory is the whole
  // device (no memory named, or a percentage of exactly 100) takes the whole device's compute, so
  // that a bare `nvidia.com/gpu: 1` is a whole card and not a share that others may join.
  if (!present(spec, nv.resourceCoreName)) {
    const percent = resourceValue(spec, nv.resourceMemoryPercentageName);
    const exclusive = percent !== undefined ? parseWholeQuantity(percent) === 100 : !present(spec, nv.resourceMemoryName);
    if (exclusive) m.setResource(slot, nv.resourceCoreName, '100');
  }
  if (ask.priority !== null) m.addEnv(slot, ENV_TASK_PRIORITY, String(ask.priority));
  if (nv.gpuCorePolicy !== 'default') m.addEnv(slot, ENV_CORE_POLICY, nv.gpuCorePolicy);
  return undefined;
}

function privilegedSlot(all: readonly Slot[]): Slot | undefined {
  return all.find((s) => s.container.securityContext?.privileged === true);
}

interface Verdict {
  readonly outcome: AdmissionResult['outcome'];
  readonly summary: string;
  readonly patch?: readonly JsonPatchOperation[];
  readonly status?: AdmissionStatus;
}

function decide(request: AdmissionRequest, c: Compiled, namespace: NamespaceContext): Verdict {
  if (request.operation !== 'CREATE') {
    // HAMi registers the webhook for CREATE only; a pod's resources cannot change afterwards.
    return { outcome: 'skipped', summary: `operation ${request.operation} is not handled (pods are mutated on CREATE)` };
  }
  if (request.subResource !== undefined || (request.kind !== undefined && request.kind !== 'Pod') || request.object === null) {
    return { outcome: 'skipped', summary: `not a Pod (kind ${request.kind ?? '?'}, subresource ${request.subResource ?? 'none'})` };
  }
  const parsed = podSchema.safeParse(request.object, { reportInput: true });
  if (!parsed.success) return { outcome: 'denied', summary: 'not a Pod', ...denied(422, issueText('request.object', parsed.error)) };
  const pod = parsed.data;
  // HAMi's chart leaves these to the webhook configuration's objectSelector and namespaceSelector;
  // checking here too keeps the rule when the webhook is registered without them.
  if (ignored(pod.metadata?.labels)) return { outcome: 'skipped', summary: `pod carries ${WEBHOOK_LABEL}=${WEBHOOK_LABEL_IGNORE}` };
  if (ignored(namespace.labels)) {
    return { outcome: 'skipped', summary: `namespace ${quote(request.namespace)} carries ${WEBHOOK_LABEL}=${WEBHOOK_LABEL_IGNORE}` };
  }
  if ((pod.spec.containers ?? []).length === 0) {
    return { outcome: 'denied', summary: 'no containers', ...denied(422, 'pod has no containers: spec.containers must list at least one container') };
  }
  const current = pod.spec.schedulerName ?? '';
  if (current !== '' && current !== c.schedulerName && !(current === KUBE_DEFAULT_SCHEDULER && c.forceOverwrite)) {
    return { outcome: 'skipped', summary: `pod already has different scheduler assigned (spec.schedulerName=${quote(current)})` };
  }

  const all = slots(pod);
  const m = new Mutation(request.object);
  const managedVendors = new Set<string>();
  for (const slot of all) {
    const spec = asSpec(slot.container);
    let asksNvidia = false;
    for (const vendor of c.vendors) {
      let ask: VendorAsk | null;
      try {
        ask = vendor.containerAsk(spec);
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        return { outcome: 'denied', summary: error.message, ...denied(422, `${error.message} (${slot.field})`) };
      }
      if (ask === null) continue;
      managedVendors.add(vendor.name);
      if (ask.vendor === NVIDIA && c.nvidia !== undefined) {
        asksNvidia = true;
        const refusal = mutateNvidia(slot, ask, c.nvidia, m);
        if (refusal) return { outcome: 'denied', summary: refusal.status.message, ...refusal };
      }
    }
    if (!asksNvidia && c.nvidia?.overwriteEnv) m.addEnv(slot, ENV_VISIBLE_DEVICES, 'none');
  }

  if (managedVendors.size === 0) {
    const patch = diffJsonPatch(request.object, m.pod);
    if (patch.length === 0) return { outcome: 'allowed', summary: 'asks for no managed resource' };
    return { outcome: 'mutated', summary: `asks for no managed resource; ${m.changes.join('; ')}`, patch };
  }

  const privileged = privilegedSlot(all);
  if (privileged) {
    const message =
      `container ${privileged.container.name} is privileged: ${privileged.field}.securityContext.privileged=true in a pod asking for ` +
      `${[...managedVendors].join(', ')} devices; a privileged container sees every GPU on the node and escapes the memory and ` +
      `compute limits, so remove privileged, or move the GPU request to a pod without privileged containers`;
    return { outcome: 'denied', summary: `privileged container ${privileged.container.name}`, ...denied(403, message) };
  }
  const nodeName = pod.spec.nodeName ?? '';
  if (nodeName !== '') {
    const message =
      `pod has node assigned: spec.nodeName=${quote(nodeName)} bypasses the scheduler, but a pod asking for GPU shares must be ` +
      `placed by ${quote(c.schedulerName)}, which chooses its devices; remove spec.nodeName and pin the node with a ` +
      `nodeSelector (kubernetes.io/hostname) or node affinity instead`;
    return { outcome: 'denied', summary: `spec.nodeName=${nodeName}`, ...denied(403, message) };
  }

  const mutated = podSchema.parse(m.pod) as unknown as PodLike;
  let asks;
  try {
    // Reads the whole pod as the scheduler will, so that annotations it would refuse at Filter
    // (policy names, scoring weights, NUMA binding) are refused now, with the field named.
    asks = podRequest(mutated, c.vendors);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    return { outcome: 'denied', summary: error.message, ...denied(422, error.message) };
  }

  if (namespace.quota !== undefined) {
    const resources = quotaResourcesFromConfig(c.config);
    const verdict = checkQuota(podQuotaCharge(asks, resources), namespace.quota, resources, request.namespace);
    if (!verdict.fits) return { outcome: 'denied', summary: `${verdict.key} over ResourceQuota ${verdict.quota}`, ...denied(403, verdict.message) };
  }

  if (current !== c.schedulerName) m.setSpec('schedulerName', c.schedulerName);
  const runtimeClass = c.nvidia?.runtimeClassName;
  if (runtimeClass !== undefined && !pod.spec.runtimeClassName && managedVendors.has(NVIDIA)) m.setSpec('runtimeClassName', runtimeClass);
  const patch = diffJsonPatch(request.object, m.pod);
  const changes = m.changes.length > 0 ? m.changes.join('; ') : 'nothing to change';
  return { outcome: patch.length > 0 ? 'mutated' : 'allowed', summary: `asks for ${[...managedVendors].join(', ')}: ${changes}`, patch };
}

/**
 * Answers a validated review.
 *
 * @param namespace what the caller knows of the namespace; needed only when
 *   {@link namespaceLookupNeeded} says so.
 */
export function admitRequest(request: AdmissionRequest, options: AdmissionOptions, namespace: NamespaceContext = {}): AdmissionResult {
  const c = compile(options);
  const verdict = decide(request, c, namespace);
  const parsed = request.object === null ? undefined : podSchema.safeParse(request.object);
  const pod = parsed?.success ? podName(parsed.data, request.namespace) : '';
  const patch = verdict.patch ?? [];
  const response: AdmissionResponse =
    verdict.status !== undefined
      ? { uid: request.uid, allowed: false, status: verdict.status }
      : patch.length > 0
        ? { uid: request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch), 'utf8').toString('base64') }
        : { uid: request.uid, allowed: true };
  return {
    ok: true,
    review: { apiVersion: request.apiVersion, kind: 'AdmissionReview', response },
    patch,
    outcome: verdict.outcome,
    summary: verdict.summary,
    pod,
  };
}

/**
 * Answers an AdmissionReview body: {@link parseAdmissionReview}, then {@link admitRequest}. Never
 * throws for anything the body holds: a malformed review is a {@link ReviewError}.
 */
export function admit(body: unknown, options: AdmissionOptions, namespace: NamespaceContext = {}): AdmissionResult | ReviewError {
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) return parsed;
  return admitRequest(parsed.request, options, namespace);
}

// ---------------------------------------------------------------------------------------------
// JSON Patch

/** RFC 6901: `~` → `~0`, `/` → `~1` (`nvidia.com/gpu` → `nvidia.com~1gpu`). */
function escapeToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The JSON Patch taking `before` to `after`: objects key by key, arrays that only grew element by
 * element (so an appended env var is one `add`), anything else replaced whole.
 */
export function diffJsonPatch(before: JsonValue, after: JsonValue, path = ''): JsonPatchOperation[] {
  const out: JsonPatchOperation[] = [];
  const walk = (a: JsonValue, b: JsonValue, at: string): void => {
    if (jsonEqual(a, b)) return;
    if (isJsonObject(a) && isJsonObject(b)) {
      for (const key of Object.keys(a)) if (!Object.hasOwn(b, key)) out.push({ op: 'remove', path: `${at}/${escapeToken(key)}` });
      for (const [key, value] of Object.entries(b)) {
        const p = `${at}/${escapeToken(key)}`;
        const old = Object.hasOwn(a, key) ? a[key] : undefined;
        if (old === undefined) out.push({ op: 'add', path: p, value });
        else walk(old, value, p);
      }
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && b.length >= a.length) {
      a.forEach((v, i) => walk(v, b[i] ?? null, `${at}/${i}`));
      for (let i = a.length; i < b.length; i++) out.push({ op: 'add', path: `${at}/${i}`, value: b[i] ?? null });
      return;
    }
    out.push({ op: 'replace', path: at, value: b });
  };
  walk(before, after, path);
  return out;
}
