/**
 * kube-scheduler's extender protocol (`k8s.io/kube-scheduler/extender/v1`). Its Go structs carry no
 * json tags, so the JSON keys are the Go field names (`Pod`, `NodeNames`, `FailedNodes`, …); Go's
 * decoder matches keys case-insensitively, so requests are read that way too, and answers are
 * written with exactly the Go names. The objects inside (`Pod`, `Nodes`) are Kubernetes API
 * objects with their usual lower-case keys.
 */
import { z } from 'zod';

import { issueText, nodeSchema, podSchema, podSpecSchema } from '../k8s/object-schemas.js';
import type { NodeObject } from './node-inventory.js';
import type { PodObject } from './pod-allocation.js';

const ExtenderArgsSchema = z.object({
  // kube-scheduler sends the pod as the API server stored it; anything else sending a Pod whose
  // fields have the wrong types is refused here, naming the field, not deep in the placement code.
  pod: podSchema.extend({ spec: podSpecSchema.nullish() }).nullish(),
  nodes: z.object({ items: z.array(nodeSchema).nullish() }).passthrough().nullish(),
  nodenames: z.array(z.string()).nullish(),
});

const BindingArgsSchema = z.object({
  podname: z.string().min(1),
  podnamespace: z.string().min(1),
  poduid: z.string().nullish(),
  node: z.string().min(1),
});

export interface ExtenderArgs {
  readonly pod: PodObject | null;
  /** Full Node objects: the path Cluster Autoscaler's simulation takes. Null when names are sent. */
  readonly nodes: readonly NodeObject[] | null;
  readonly nodeNames: readonly string[] | null;
}

export interface ExtenderFilterResult {
  readonly Nodes: { readonly apiVersion: 'v1'; readonly kind: 'NodeList'; readonly items: readonly NodeObject[] } | null;
  readonly NodeNames: readonly string[] | null;
  readonly FailedNodes: Readonly<Record<string, string>> | null;
  readonly FailedAndUnresolvableNodes: Readonly<Record<string, string>> | null;
  readonly Error: string;
}

export interface ExtenderBindingArgs {
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUID: string;
  readonly node: string;
}

export interface ExtenderBindingResult {
  readonly Error: string;
}

/** A request body that is not what the protocol says: the message names the field. */
export class WireError extends Error {}

function lowerKeys(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

const GO_NAMES: Readonly<Record<string, string>> = { pod: 'Pod', nodes: 'Nodes', nodenames: 'NodeNames', podname: 'PodName', podnamespace: 'PodNamespace', poduid: 'PodUID', node: 'Node' };

/** The first problem, the protocol's own field written with its Go name: `Pod.spec.containers: …`. */
function problem(error: z.ZodError): string {
  const top = error.issues[0]?.path[0];
  const goName = typeof top === 'string' ? GO_NAMES[top] : undefined;
  return goName === undefined ? issueText('', error) : issueText(goName, error, 1);
}

/** @throws WireError naming the field at fault */
export function parseExtenderArgs(body: unknown): ExtenderArgs {
  const parsed = ExtenderArgsSchema.safeParse(lowerKeys(body), { reportInput: true });
  if (!parsed.success) throw new WireError(`ExtenderArgs: ${problem(parsed.error)}`);
  const { pod, nodes, nodenames } = parsed.data;
  return {
    pod: (pod ?? null) as PodObject | null,
    nodes: nodes ? ((nodes.items ?? []) as NodeObject[]) : null,
    nodeNames: nodenames ?? null,
  };
}

/** @throws WireError naming the field at fault */
export function parseBindingArgs(body: unknown): ExtenderBindingArgs {
  const parsed = BindingArgsSchema.safeParse(lowerKeys(body), { reportInput: true });
  if (!parsed.success) throw new WireError(`ExtenderBindingArgs: ${problem(parsed.error)}`);
  const d = parsed.data;
  return { podName: d.podname, podNamespace: d.podnamespace, podUID: d.poduid ?? '', node: d.node };
}

export function filterResult(fields: Partial<ExtenderFilterResult>): ExtenderFilterResult {
  return { Nodes: null, NodeNames: null, FailedNodes: null, FailedAndUnresolvableNodes: null, Error: '', ...fields };
}
