/**
 * GPU quota as HAMi enforces it (`pkg/device/quota.go`, the webhook's `fitResourceQuota` and the
 * Filter's `ResourceQuotaNotFit`): a namespace's ResourceQuotas may cap the GPU memory and compute
 * its pods hold with the keys `limits.<memory resource>` and `limits.<core resource>`, e.g.
 *
 * ```yaml
 * spec:
 *   hard:
 *     limits.nvidia.com/gpumem: "30000"    # MiB (times memoryFactor)
 *     limits.nvidia.com/gpucores: "200"    # percent of one GPU: two whole GPUs' compute
 * ```
 *
 * Kubernetes' own quota controller cannot count these: a pod's `nvidia.com/gpumem` is per device,
 * and a bare `nvidia.com/gpu` holds memory it never names. So HAMi charges what the scheduler will
 * grant, and so does this module. The count (`nvidia.com/gpu`) stays with the standard quota
 * controller (`requests.nvidia.com/gpu`).
 *
 * Everything here is pure, so the admission webhook and the extender's Filter share it: the
 * webhook charges a pod's request ({@link podQuotaCharge}), the Filter a tentative grant
 * ({@link grantsQuotaCharge}), and both compare with {@link checkQuota}. What the namespace already
 * holds comes from its pods' allocation annotations ({@link namespaceQuotaUsage}), computed by the
 * caller from its pod cache.
 */
import type { CompiledDeviceConfig } from '../config/device-config.js';
import { POD_DEVICES_ALLOCATED } from '../core/annotations.js';
import { decodePodGrants } from '../core/codec/allocation.js';
import type { PodGrants } from '../core/device.js';
import { DecodeError, quote } from '../core/errors.js';
import { podKey, type PodLike } from '../core/pod.js';
import { parseWholeQuantity } from '../core/quantity.js';
import type { PodRequest } from '../core/request.js';
import { NVIDIA } from '../core/vendors/nvidia.js';

/** Prefix of the ResourceQuota keys HAMi reads (`limits.nvidia.com/gpumem`). */
export const QUOTA_KEY_PREFIX = 'limits.';

/** One vendor's quota-bearing resources, from the device configuration. */
export interface QuotaResources {
  /** Vendor key, as in {@link VendorAsk.vendor} and the allocation entries' type field. */
  readonly vendor: string;
  /** Memory resource (`nvidia.com/gpumem`); charged in MiB. */
  readonly memoryResource: string;
  /** Compute resource (`nvidia.com/gpucores`); charged in percent of one device. */
  readonly coreResource: string;
  /**
   * The memory resource's unit in MiB (`memoryFactor`): a quota of `n` allows `n × memoryFactor`
   * MiB, as HAMi scales the limit (requests are multiplied the same way).
   */
  readonly memoryFactor: number;
  /** Pod annotation holding the vendor's grants (`hami.io/vgpu-devices-allocated`). */
  readonly allocatedAnnotation: string;
}

/** The quota-bearing resources of the vendors a device configuration enables (NVIDIA today). */
export function quotaResourcesFromConfig(config: CompiledDeviceConfig): QuotaResources[] {
  const nvidia = config.nvidia;
  if (nvidia === undefined) return [];
  return [
    {
      vendor: NVIDIA,
      memoryResource: nvidia.resourceMemoryName,
      coreResource: nvidia.resourceCoreName,
      memoryFactor: nvidia.memoryFactor,
      allocatedAnnotation: POD_DEVICES_ALLOCATED,
    },
  ];
}

/**
 * An amount per resource name (`nvidia.com/gpumem` → MiB, `nvidia.com/gpucores` → percent of a
 * device): what a pod is charged, or what a namespace already holds.
 */
export type QuotaAmounts = Readonly<Record<string, number>>;

/** A ResourceQuota as read here; any `V1ResourceQuota` fits. */
export interface ResourceQuotaLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: { readonly hard?: Readonly<Record<string, string | number | undefined>> };
}

/** The quota side of a namespace: its ResourceQuotas and what its pods already hold. */
export interface QuotaState {
  readonly quotas: readonly ResourceQuotaLike[];
  /** Held per resource name; see {@link namespaceQuotaUsage}. A missing resource holds 0. */
  readonly used: QuotaAmounts;
}

/** Memory and compute of one container or one pod, for one vendor. */
interface Charge {
  memoryMiB: number;
  cores: number;
}

/**
 * A pod's charge from per-container amounts, HAMi v2.10's init-container rule: init containers
 * run one at a time before the app containers, so the pod holds the larger of its biggest init
 * container and the sum of its app containers, term by term.
 *
 * @example init 4000 MiB/100 %, apps 3000+2000 MiB and 30+30 % → 5000 MiB, 100 %.
 */
function collapse(init: readonly Charge[], app: readonly Charge[]): Charge {
  const sum = app.reduce((s, c) => ({ memoryMiB: s.memoryMiB + c.memoryMiB, cores: s.cores + c.cores }), { memoryMiB: 0, cores: 0 });
  return init.reduce((m, c) => ({ memoryMiB: Math.max(m.memoryMiB, c.memoryMiB), cores: Math.max(m.cores, c.cores) }), sum);
}

function amounts(resources: readonly QuotaResources[], chargeOf: (r: QuotaResources) => Charge): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of resources) {
    const c = chargeOf(r);
    out[r.memoryResource] = (out[r.memoryResource] ?? 0) + c.memoryMiB;
    out[r.coreResource] = (out[r.coreResource] ?? 0) + c.cores;
  }
  return out;
}

/**
 * What admitting a pod would charge: per container, memory per device × devices and compute per
 * device × devices (HAMi's `memreq*nums`, `coresreq*nums` from `GenerateResourceRequests`), init
 * containers collapsed as in {@link collapse}.
 *
 * Memory asked as a percentage, or the whole device by default, is charged 0 MiB here: the device,
 * and so the MiB, is not known before placement. HAMi's webhook charges the same; the Filter then
 * charges the MiB actually granted ({@link grantsQuotaCharge}).
 */
export function podQuotaCharge(request: PodRequest, resources: readonly QuotaResources[]): Record<string, number> {
  return amounts(resources, (r) => {
    const per = (init: boolean): Charge[] =>
      request.containers
        .filter((c) => c.init === init)
        .map((c) =>
          c.asks
            .filter((a) => a.vendor === r.vendor)
            .reduce((s, a) => ({ memoryMiB: s.memoryMiB + (a.memoryMiB ?? 0) * a.count, cores: s.cores + a.cores * a.count }), {
              memoryMiB: 0,
              cores: 0,
            }),
        );
    return collapse(per(true), per(false));
  });
}

/**
 * What granted devices charge: the grants' MiB and cores summed per container, init containers
 * (the first `initContainers` entries) collapsed as in {@link collapse}.
 */
export function grantsQuotaCharge(grants: PodGrants, initContainers: number, resources: readonly QuotaResources[]): Record<string, number> {
  return amounts(resources, (r) => {
    const per = grants.map((container) =>
      container
        .filter((g) => g.vendor === r.vendor)
        .reduce((s, g) => ({ memoryMiB: s.memoryMiB + g.memoryMiB, cores: s.cores + g.cores }), { memoryMiB: 0, cores: 0 }),
    );
    return collapse(per.slice(0, initContainers), per.slice(initContainers));
  });
}

/** A pod whose allocation annotation could not be read, so it was not counted. */
export interface UnreadablePod {
  /** `namespace/name`. */
  readonly pod: string;
  readonly message: string;
}

/**
 * What a namespace's pods hold: the sum of each pod's granted devices (its allocation annotation,
 * HAMi's `hami.io/vgpu-devices-allocated`, written at Filter and never erased), init containers
 * collapsed. HAMi's scheduler keeps the same sum in its quota cache.
 *
 * The caller passes the pods that still hold their devices: not yet terminated (phase neither
 * `Succeeded` nor `Failed`), in the quota's namespace, and, for an admission, without the pod being
 * admitted. A pod whose annotation does not decode is left out and listed in `unreadable`.
 */
export function namespaceQuotaUsage(
  pods: Iterable<PodLike>,
  resources: readonly QuotaResources[],
): { used: Record<string, number>; unreadable: UnreadablePod[] } {
  const used: Record<string, number> = {};
  const unreadable: UnreadablePod[] = [];
  for (const pod of pods) {
    const initContainers = pod.spec?.initContainers?.length ?? 0;
    const annotations = pod.metadata?.annotations ?? {};
    const keys = new Set(resources.map((r) => r.allocatedAnnotation));
    for (const key of keys) {
      const text = annotations[key];
      if (text === undefined || text === '') continue;
      let grants: PodGrants;
      try {
        grants = decodePodGrants(text, key);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        unreadable.push({ pod: podKey(pod), message: error.message });
        continue;
      }
      const charge = grantsQuotaCharge(
        grants,
        initContainers,
        resources.filter((r) => r.allocatedAnnotation === key),
      );
      for (const [name, amount] of Object.entries(charge)) used[name] = (used[name] ?? 0) + amount;
    }
  }
  return { used, unreadable };
}

/** The quota a charge would exceed, with the numbers; every amount in the resource's unit. */
export interface QuotaExceeded {
  readonly fits: false;
  /** The ResourceQuota's name. */
  readonly quota: string;
  /** The quota key, `limits.nvidia.com/gpumem`. */
  readonly key: string;
  /** The resource, `nvidia.com/gpumem`. */
  readonly resource: string;
  readonly requested: number;
  readonly used: number;
  /** The hard limit in the charge's unit: for memory, the quota's value × memoryFactor. */
  readonly hard: number;
  /** The hard limit as written in the quota. */
  readonly hardAsWritten: number;
  readonly unit: 'MiB' | '%';
  /** For people: the quota, the key, requested, used and hard, and what to do. */
  readonly message: string;
}

export type QuotaVerdict = { readonly fits: true } | QuotaExceeded;

/** HAMi's denial text, kept as the message's start so operators can search for it. */
export const QUOTA_DENIED = 'exceeding resource quota';

/**
 * Whether `charge` fits every ResourceQuota of the namespace, given what its pods already hold.
 *
 * Each quota is checked on its own, as Kubernetes checks quotas (HAMi keeps one limit per
 * namespace and resource, the last quota read winning). A resource the pod is not charged for
 * never refuses it, even in a namespace already over its quota. A hard value of 0 refuses every
 * positive charge: it means "none", not "unlimited" (HAMi v2.10's `LimitSet`). A hard value that is
 * not a whole number is skipped, as HAMi skips what `AsInt64` cannot read. Scopes and scope
 * selectors are ignored, as HAMi ignores them.
 *
 * @returns the first quota exceeded, in quota order and then resource order, or `{ fits: true }`
 */
export function checkQuota(
  charge: QuotaAmounts,
  state: QuotaState,
  resources: readonly QuotaResources[],
  namespace?: string,
): QuotaVerdict {
  for (const quota of state.quotas) {
    const hardList = quota.spec?.hard ?? {};
    for (const r of resources) {
      for (const [resource, unit] of [
        [r.memoryResource, 'MiB'],
        [r.coreResource, '%'],
      ] as const) {
        const requested = charge[resource] ?? 0;
        if (requested <= 0) continue;
        const key = `${QUOTA_KEY_PREFIX}${resource}`;
        const raw = hardList[key];
        if (raw === undefined) continue;
        const written = parseWholeQuantity(raw);
        if (typeof written === 'string') continue;
        const factor = unit === 'MiB' ? r.memoryFactor : 1;
        const hard = written * factor;
        const used = state.used[resource] ?? 0;
        if (used + requested <= hard) continue;
        const name = quota.metadata?.name ?? '(unnamed)';
        const where = namespace === undefined ? '' : ` in namespace ${quote(namespace)}`;
        const hardText = factor === 1 ? `${hard} ${unit}` : `${written} × memoryFactor ${factor} = ${hard} ${unit}`;
        const message =
          `${QUOTA_DENIED}: ResourceQuota ${quote(name)}${where}: ${key} requested ${requested} ${unit}, ` +
          `used ${used} ${unit}, hard ${hardText} (${used} + ${requested} > ${hard}); ` +
          `ask for less, wait for pods in the namespace to finish, or raise ${key}`;
        return { fits: false, quota: name, key, resource, requested, used, hard, hardAsWritten: written, unit, message };
      }
    }
  }
  return { fits: true };
}
