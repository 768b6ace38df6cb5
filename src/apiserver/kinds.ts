/**
 * The resource types the server serves, one table entry each. An entry states what the REST
 * paths, discovery documents, field selectors and per-kind rules (defaults, validation, which
 * subresources exist, whether PUT may create) need; everything else is derived. To serve another
 * kind, add an entry to {@link RESOURCES}.
 */
import { dns1123LabelReason } from '../core/codec/fields.js';
import { field, isJsonObject, objectField, setField, stringField, type JsonObject, type JsonValue } from './json.js';
import type { FieldError, ResourceName } from './status.js';

/** Subresources beyond the object itself. `status` writes only `.status`; `binding` assigns a pod to a node. */
export type Subresource = 'status' | 'binding';

/** A field selector label and where its value lives in the object. */
export interface FieldLabel {
  /** Dotted JSON path, e.g. `spec.nodeName`. */
  readonly path: string;
  /** Value compared when the field is absent: Go reads a missing bool as `false`. */
  readonly absent?: string;
}

/** What one table entry states. */
export interface ResourceSpec {
  readonly kind: string;
  /** API group; `''` is the core group (`/api/v1`). */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
  readonly shortNames?: readonly string[];
  /** Discovery categories, e.g. `all` for `kubectl get all`. */
  readonly categories?: readonly string[];
  readonly subresources?: readonly Subresource[];
  /**
   * Field selector labels beyond `metadata.name` and `metadata.namespace`, which every kind
   * has. Each kind supports only its own list; anything else is a 400, as upstream.
   */
  readonly fieldLabels?: Readonly<Record<string, FieldLabel>>;
  /** Whether PUT of a missing object creates it (leases and events: yes; most kinds: no). */
  readonly allowCreateOnUpdate?: boolean;
  /**
   * Whether DELETE answers with the deleted object (pods, namespaces) rather than a success
   * `Status` (most other kinds), as upstream's registry for the kind does.
   */
  readonly returnDeletedObject?: boolean;
  /** Name rule: namespaces are DNS-1123 labels, everything else here a DNS-1123 subdomain. */
  readonly nameRule?: 'dns1123-label' | 'dns1123-subdomain';
  /**
   * Normalises a new object before validation (upstream's `PrepareForCreate` plus defaulting),
   * e.g. a pod's status is reset to `Pending` whatever the client sent.
   */
  readonly prepareForCreate?: (object: JsonObject) => void;
  /** Kind-specific validation on create and update; metadata is validated for every kind. */
  readonly validate?: (object: JsonObject) => FieldError[];
}

/** A served resource type: the table entry with its derived names. */
export interface ResourceType extends ResourceName {
  readonly kind: string;
  readonly listKind: string;
  readonly group: string;
  readonly version: string;
  /** `v1` or `coordination.k8s.io/v1`: the `apiVersion` of its objects. */
  readonly apiVersion: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly subresources: readonly Subresource[];
  readonly fieldLabels: Readonly<Record<string, FieldLabel>>;
  readonly allowCreateOnUpdate: boolean;
  readonly returnDeletedObject: boolean;
  readonly nameRule: 'dns1123-label' | 'dns1123-subdomain';
  readonly prepareForCreate: (object: JsonObject) => void;
  readonly validate: (object: JsonObject) => FieldError[];
  /** Unique key among resource types: `pods`, `leases.coordination.k8s.io`. */
  readonly key: string;
}

/** Builds a {@link ResourceType} from a table entry. */
export function defineResource(spec: ResourceSpec): ResourceType {
  return Object.freeze({
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    group: spec.group,
    version: spec.version,
    apiVersion: spec.group === '' ? spec.version : `${spec.group}/${spec.version}`,
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    subresources: spec.subresources ?? [],
    fieldLabels: {
      'metadata.name': { path: 'metadata.name' },
      'metadata.namespace': { path: 'metadata.namespace' },
      ...spec.fieldLabels,
    },
    allowCreateOnUpdate: spec.allowCreateOnUpdate ?? false,
    returnDeletedObject: spec.returnDeletedObject ?? false,
    nameRule: spec.nameRule ?? 'dns1123-subdomain',
    prepareForCreate: spec.prepareForCreate ?? (() => undefined),
    validate: spec.validate ?? (() => []),
    key: spec.group === '' ? spec.plural : `${spec.plural}.${spec.group}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Pods: defaults and validation, the part of upstream's pod strategy a scheduler test relies on.

/**
 * Pod defaults the scheduler path sees (`SetDefaults_Pod`, `SetDefaults_Container`): requests
 * default to limits per resource (so `nvidia.com/gpu` in limits alone is also a request), the
 * scheduler name, restart and DNS policy, grace period and image pull policy.
 */
function defaultPod(pod: JsonObject): void {
  const spec = objectField(pod, 'spec');
  if (stringField(spec, 'restartPolicy') === undefined) spec['restartPolicy'] = 'Always';
  if (stringField(spec, 'dnsPolicy') === undefined) spec['dnsPolicy'] = 'ClusterFirst';
  if (stringField(spec, 'schedulerName') === undefined) spec['schedulerName'] = 'default-scheduler';
  if (field(spec, 'terminationGracePeriodSeconds') === undefined) spec['terminationGracePeriodSeconds'] = 30;
  for (const list of ['initContainers', 'containers']) {
    const containers = field(spec, list);
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      if (!isJsonObject(container)) continue;
      const image = stringField(container, 'image') ?? '';
      if (stringField(container, 'imagePullPolicy') === undefined) {
        const tagged = /:[^/]+$/.test(image) && !image.endsWith(':latest');
        container['imagePullPolicy'] = tagged || image.includes('@') ? 'IfNotPresent' : 'Always';
      }
      if (stringField(container, 'terminationMessagePath') === undefined) {
        container['terminationMessagePath'] = '/dev/termination-log';
      }
      if (stringField(container, 'terminationMessagePolicy') === undefined) container['terminationMessagePolicy'] = 'File';
      const resources = field(container, 'resources');
      if (!isJsonObject(resources)) continue;
      const limits = field(resources, 'limits');
      if (!isJsonObject(limits)) continue;
      const requests = objectField(resources, 'requests');
      for (const [name, quantity] of Object.entries(limits)) {
        if (field(requests, name) === undefined) setField(requests, name, quantity);
      }
    }
  }
}

/** Upstream's `GetPodQOS` for cpu and memory: BestEffort, Guaranteed or Burstable. */
function podQosClass(pod: JsonObject): string {
  const spec = field(pod, 'spec');
  const containers = isJsonObject(spec) ? field(spec, 'containers') : undefined;
  if (!Array.isArray(containers)) return 'BestEffort';
  let anyResource = false;
  let guaranteed = true;
  for (const container of containers) {
    const resources = isJsonObject(container) ? field(container, 'resources') : undefined;
    const requests = isJsonObject(resources) ? field(resources, 'requests') : undefined;
    const limits = isJsonObject(resources) ? field(resources, 'limits') : undefined;
    for (const name of ['cpu', 'memory']) {
      const request = isJsonObject(requests) ? field(requests, name) : undefined;
      const limit = isJsonObject(limits) ? field(limits, name) : undefined;
      if (request !== undefined || limit !== undefined) anyResource = true;
      if (limit === undefined || (request !== undefined && request !== limit)) guaranteed = false;
    }
  }
  if (!anyResource) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function prepareNewPod(pod: JsonObject): void {
  defaultPod(pod);
  // Clients do not set a new pod's status; the kubelet does, through pods/status.
  pod['status'] = { phase: 'Pending', qosClass: podQosClass(pod) };
}

function validatePod(pod: JsonObject): FieldError[] {
  const errors: FieldError[] = [];
  const spec = field(pod, 'spec');
  if (!isJsonObject(spec)) return [{ type: 'FieldValueRequired', field: 'spec', detail: '' }];
  const containers = field(spec, 'containers');
  if (!Array.isArray(containers) || containers.length === 0) {
    return [{ type: 'FieldValueRequired', field: 'spec.containers', detail: '' }];
  }
  const seen = new Set<string>();
  for (const list of ['initContainers', 'containers']) {
    const items = field(spec, list);
    if (items === undefined || items === null) continue;
    if (!Array.isArray(items)) {
      errors.push({ type: 'FieldValueInvalid', field: `spec.${list}`, detail: 'must be a list', value: typeof items });
      continue;
    }
    items.forEach((container: JsonValue, i) => {
      const at = `spec.${list}[${i}]`;
      if (!isJsonObject(container)) {
        errors.push({ type: 'FieldValueInvalid', field: at, detail: 'must be an object', value: JSON.stringify(container) });
        return;
      }
      const name = stringField(container, 'name');
      if (name === undefined || name === '') {
        errors.push({ type: 'FieldValueRequired', field: `${at}.name`, detail: '' });
      } else if (seen.has(name)) {
        errors.push({ type: 'FieldValueDuplicate', field: `${at}.name`, detail: '', value: name });
      } else {
        seen.add(name);
        const reason = dns1123LabelReason(name);
        if (reason !== undefined) errors.push({ type: 'FieldValueInvalid', field: `${at}.name`, detail: reason, value: name });
      }
      const image = stringField(container, 'image');
      if (image === undefined || image.trim() === '') errors.push({ type: 'FieldValueRequired', field: `${at}.image`, detail: '' });
    });
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Other kinds.

function prepareNewNamespace(namespace: JsonObject): void {
  const metadata = objectField(namespace, 'metadata');
  const labels = objectField(metadata, 'labels');
  // The namespace defaulter labels every namespace with its own name, so selectors can pick it.
  labels['kubernetes.io/metadata.name'] = stringField(metadata, 'name') ?? '';
  const spec = objectField(namespace, 'spec');
  if (!Array.isArray(field(spec, 'finalizers'))) spec['finalizers'] = ['kubernetes'];
  namespace['status'] = { phase: 'Active' };
}

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function validateConfigMap(configMap: JsonObject): FieldError[] {
  const errors: FieldError[] = [];
  for (const part of ['data', 'binaryData']) {
    const entries = field(configMap, part);
    if (entries === undefined || entries === null) continue;
    if (!isJsonObject(entries)) {
      errors.push({ type: 'FieldValueInvalid', field: part, detail: 'must be a map of strings', value: JSON.stringify(entries) });
      continue;
    }
    for (const [key, value] of Object.entries(entries)) {
      if (!CONFIG_KEY.test(key) || key.length > 253) {
        errors.push({
          type: 'FieldValueInvalid',
          field: `${part}[${key}]`,
          detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
          value: key,
        });
      }
      if (typeof value !== 'string') {
        errors.push({ type: 'FieldValueInvalid', field: `${part}[${key}]`, detail: 'must be a string', value: JSON.stringify(value) });
      }
    }
  }
  return errors;
}

export const PODS = defineResource({
  kind: 'Pod',
  group: '',
  version: 'v1',
  plural: 'pods',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  subresources: ['status', 'binding'],
  returnDeletedObject: true,
  fieldLabels: {
    'spec.nodeName': { path: 'spec.nodeName' },
    'spec.restartPolicy': { path: 'spec.restartPolicy' },
    'spec.schedulerName': { path: 'spec.schedulerName' },
    'spec.serviceAccountName': { path: 'spec.serviceAccountName' },
    'spec.hostNetwork': { path: 'spec.hostNetwork', absent: 'false' },
    'status.phase': { path: 'status.phase' },
    'status.podIP': { path: 'status.podIP' },
    'status.nominatedNodeName': { path: 'status.nominatedNodeName' },
  },
  prepareForCreate: prepareNewPod,
  validate: validatePod,
});

export const NODES = defineResource({
  kind: 'Node',
  group: '',
  version: 'v1',
  plural: 'nodes',
  namespaced: false,
  shortNames: ['no'],
  subresources: ['status'],
  fieldLabels: { 'spec.unschedulable': { path: 'spec.unschedulable', absent: 'false' } },
});

export const NAMESPACES = defineResource({
  kind: 'Namespace',
  group: '',
  version: 'v1',
  plural: 'namespaces',
  namespaced: false,
  shortNames: ['ns'],
  subresources: ['status'],
  fieldLabels: { 'status.phase': { path: 'status.phase' } },
  returnDeletedObject: true,
  nameRule: 'dns1123-label',
  prepareForCreate: prepareNewNamespace,
});

export const EVENTS = defineResource({
  kind: 'Event',
  group: '',
  version: 'v1',
  plural: 'events',
  namespaced: true,
  shortNames: ['ev'],
  allowCreateOnUpdate: true,
  fieldLabels: {
    'involvedObject.kind': { path: 'involvedObject.kind' },
    'involvedObject.namespace': { path: 'involvedObject.namespace' },
    'involvedObject.name': { path: 'involvedObject.name' },
    'involvedObject.uid': { path: 'involvedObject.uid' },
    'involvedObject.apiVersion': { path: 'involvedObject.apiVersion' },
    'involvedObject.resourceVersion': { path: 'involvedObject.resourceVersion' },
    'involvedObject.fieldPath': { path: 'involvedObject.fieldPath' },
    reason: { path: 'reason' },
    reportingComponent: { path: 'reportingComponent' },
    source: { path: 'source.component' },
    type: { path: 'type' },
  },
});

export const RESOURCE_QUOTAS = defineResource({
  kind: 'ResourceQuota',
  group: '',
  version: 'v1',
  plural: 'resourcequotas',
  namespaced: true,
  shortNames: ['quota'],
  subresources: ['status'],
});

export const CONFIG_MAPS = defineResource({
  kind: 'ConfigMap',
  group: '',
  version: 'v1',
  plural: 'configmaps',
  namespaced: true,
  shortNames: ['cm'],
  validate: validateConfigMap,
});

export const LEASES = defineResource({
  kind: 'Lease',
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  namespaced: true,
  allowCreateOnUpdate: true,
});

/** Every served resource type. */
export const RESOURCES: readonly ResourceType[] = [PODS, NODES, NAMESPACES, EVENTS, RESOURCE_QUOTAS, CONFIG_MAPS, LEASES];

/** The resource type at `/api(s)/<group>/<version>/…/<plural>`, or `undefined`. */
export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/**
 * A resource type by any name a test would write: plural (`pods`), key
 * (`leases.coordination.k8s.io`), kind (`Pod`), singular or short name (`po`).
 * @throws RangeError naming the served types when nothing matches
 */
export function resourceType(name: string): ResourceType {
  const found = RESOURCES.find(
    (r) => r.key === name || r.plural === name || r.kind === name || r.singular === name || r.shortNames.includes(name),
  );
  if (found === undefined) {
    throw new RangeError(`no served resource type is called ${JSON.stringify(name)}; served: ${RESOURCES.map((r) => r.key).join(', ')}`);
  }
  return found;
}

/** API groups in discovery order, with their versions; the core group is `''`. */
export function groupVersions(): { readonly group: string; readonly versions: readonly string[] }[] {
  const groups: { group: string; versions: string[] }[] = [];
  for (const r of RESOURCES) {
    let entry = groups.find((g) => g.group === r.group);
    if (entry === undefined) {
      entry = { group: r.group, versions: [] };
      groups.push(entry);
    }
    if (!entry.versions.includes(r.version)) entry.versions.push(r.version);
  }
  return groups;
}
