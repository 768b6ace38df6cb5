/**
 * The parts of a Pod and a Node that Tessera reads, as schemas for the bodies it is sent: the
 * admission webhook's AdmissionReview and the extender's ExtenderArgs. Objects from the API
 * server's watch need no such check (the API server has validated them); a body can carry
 * anything, and a pod whose `containers` is a number or whose annotation is an array must be
 * refused with the field named, not fail deep inside the placement code. Only what is read is
 * checked; every other field passes through untouched.
 */
import { z } from 'zod';

/** A resource quantity as JSON carries it: `"3000"`, `"1Gi"`, or a bare number. */
const quantity = z.union([z.string(), z.number()], { error: 'expected a quantity: a string such as "3000" or "1Gi", or a number' });
const resourceList = z.record(z.string(), quantity).nullish();
const stringMap = z.record(z.string(), z.string()).nullish();

const containerSchema = z.looseObject({
  name: z.string(),
  resources: z.looseObject({ limits: resourceList, requests: resourceList }).nullish(),
  securityContext: z.looseObject({ privileged: z.boolean().nullish() }).nullish(),
  env: z.array(z.looseObject({ name: z.string() })).nullish(),
});

export type ContainerInput = z.output<typeof containerSchema>;

export const podSpecSchema = z.looseObject({
  containers: z.array(containerSchema).nullish(),
  initContainers: z.array(containerSchema).nullish(),
  nodeName: z.string().nullish(),
  schedulerName: z.string().nullish(),
  runtimeClassName: z.string().nullish(),
});

/** A Pod; `spec` is required, as the API server requires it of a pod being created. */
export const podSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().nullish(),
      generateName: z.string().nullish(),
      namespace: z.string().nullish(),
      uid: z.string().nullish(),
      labels: stringMap,
      annotations: stringMap,
    })
    .nullish(),
  spec: podSpecSchema,
  status: z
    .looseObject({
      phase: z.string().nullish(),
      initContainerStatuses: z
        .array(z.looseObject({ state: z.looseObject({ terminated: z.looseObject({ exitCode: z.number().nullish() }).nullish() }).nullish() }))
        .nullish(),
    })
    .nullish(),
});

/** A Node as Cluster Autoscaler sends it to Filter: its name, annotations and allocatable resources. */
export const nodeSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string().nullish(), annotations: stringMap }).nullish(),
  status: z.looseObject({ allocatable: resourceList }).nullish(),
});

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `request.object.spec.containers[0].resources.limits["nvidia.com/gpu"]` from a zod path. */
function fieldPath(base: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${String(key)}]`;
    const name = String(key);
    if (!IDENTIFIER.test(name)) return `${text}[${JSON.stringify(name)}]`;
    return text === '' ? name : `${text}.${name}`;
  }, base);
}

/** What was found, short enough for an error message. */
function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The first problem a schema found, naming the field and the value there, e.g.
 * `request.object.spec.containers: expected array, received number (got 1.5)`. Parse with
 * `{ reportInput: true }` so that the value is known. `base` stands for the first `replaced`
 * keys of the problem's path.
 */
export function issueText(base: string, error: z.ZodError, replaced = 0): string {
  const first = error.issues[0];
  if (first === undefined) return `${base === '' ? 'body' : base}: is not valid`;
  const more = error.issues.length > 1 ? ` (and ${String(error.issues.length - 1)} more problems)` : '';
  const message = first.message.replace(/^Invalid input: /, '');
  const value = 'input' in first ? ` (got ${shown(first.input)})` : '';
  return `${fieldPath(base, first.path.slice(replaced)) || 'body'}: ${message}${value}${more}`;
}
