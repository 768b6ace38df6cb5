/**
 * The placement example of `tessera tour`: a built-in
 * cluster (A100 PCIe nodes with NVLink bridges, an H100 node on NVSwitch, a T4 node) and a
 * built-in mix of workloads (inference shares, notebooks, type-constrained and NUMA-bound pods,
 * a pod with an init container, training jobs of 2 and 8 GPUs, and some that cannot fit), placed
 * one after another by the placement engine the scheduler uses.
 */
import { DEFAULT_DEVICE_CONFIG } from '../config/device-config.js';
import { vendorsFromConfig } from '../config/vendors.js';
import type { Device, DeviceLink, NodeInventory, PodGrants } from '../core/device.js';
import { ClusterState } from '../core/placement/cluster.js';
import { PlacementEngine } from '../core/placement/engine.js';
import type { PodLike } from '../core/pod.js';
import { type NodePolicy, podRequest } from '../core/request.js';

function gpus(prefix: string, n: number, type: string, memoryMiB: number, numaOf: (i: number) => number): Device[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `GPU-${prefix}-${String(i)}`,
    index: i,
    vendor: 'NVIDIA',
    type,
    memoryMiB,
    cores: 100,
    splitCount: 10,
    numa: numaOf(i),
    healthy: true,
    mode: 'hami-core' as const,
  }));
}

/** Pair scores as HAMi's device plugin computes them: 100 per NVLink, 10-60 for PCIe relations. */
function links(devices: readonly Device[], score: (a: Device, b: Device) => number): DeviceLink[] {
  return devices.flatMap((a) => devices.filter((b) => b !== a).map((b) => ({ from: a.id, to: b.id, score: score(a, b) })));
}

export function exampleCluster(): NodeInventory[] {
  const nodes: NodeInventory[] = [];
  for (const name of ['a100-pcie-0', 'a100-pcie-1']) {
    // Four A100 PCIe cards, two per CPU socket, bridged in pairs by 3 NVLinks.
    const devices = gpus(name, 4, 'NVIDIA-NVIDIA A100 80GB PCIe', 81920, (i) => (i < 2 ? 0 : 1));
    const pair = (a: Device, b: Device): number => (Math.floor(a.index / 2) === Math.floor(b.index / 2) ? 300 : a.numa === b.numa ? 20 : 10);
    nodes.push({ name, devices, links: links(devices, pair), cordoned: new Set() });
  }
  const h100 = gpus('h100-sxm-0', 8, 'NVIDIA-NVIDIA H100 80GB HBM3', 81920, (i) => (i < 4 ? 0 : 1));
  nodes.push({ name: 'h100-sxm-0', devices: h100, links: links(h100, () => 1800), cordoned: new Set() }); // 18 NVLinks via NVSwitch
  const t4 = gpus('t4-0', 4, 'NVIDIA-Tesla T4', 15360, () => 0);
  nodes.push({ name: 't4-0', devices: t4, links: links(t4, () => 50), cordoned: new Set() });
  return nodes;
}

interface Ask {
  gpu?: number;
  mem?: number;
  memPercent?: number;
  cores?: number;
}

function resources(a: Ask): Record<string, string> {
  const r: Record<string, string> = {};
  if (a.gpu !== undefined) r['nvidia.com/gpu'] = String(a.gpu);
  if (a.mem !== undefined) r['nvidia.com/gpumem'] = String(a.mem);
  if (a.memPercent !== undefined) r['nvidia.com/gpumem-percentage'] = String(a.memPercent);
  if (a.cores !== undefined) r['nvidia.com/gpucores'] = String(a.cores);
  return r;
}

function examplePod(name: string, ask: Ask, annotations: Record<string, string> = {}, init?: Ask): PodLike {
  return {
    metadata: { name, namespace: 'demo', annotations },
    spec: {
      initContainers: init ? [{ name: 'warm-up', resources: { limits: resources(init) } }] : [],
      containers: [{ name: 'main', resources: { limits: resources(ask) } }],
    },
  };
}

export function exampleWorkload(): PodLike[] {
  const pods: PodLike[] = [];
  const topology = { 'hami.io/gpu-scheduler-policy': 'topology-aware' };
  pods.push(examplePod('train-8gpu', { gpu: 8 }, topology));
  pods.push(examplePod('train-2gpu-a', { gpu: 2 }, topology));
  pods.push(examplePod('train-2gpu-b', { gpu: 2 }, topology));
  for (let i = 1; i <= 4; i++) pods.push(examplePod(`llm-inference-${String(i)}`, { gpu: 1, mem: 20000, cores: 25 }));
  for (let i = 1; i <= 6; i++) pods.push(examplePod(`embedding-${String(i)}`, { gpu: 1, mem: 6000, cores: 10 }));
  for (let i = 1; i <= 3; i++) pods.push(examplePod(`notebook-${String(i)}`, { gpu: 1, memPercent: 25, cores: 20 }));
  for (let i = 1; i <= 3; i++) pods.push(examplePod(`vision-t4-${String(i)}`, { gpu: 1, mem: 7000, cores: 40 }, { 'nvidia.com/use-gputype': 'T4' }));
  pods.push(examplePod('finetune-numa', { gpu: 2, mem: 40000, cores: 50 }, { 'nvidia.com/numa-bind': 'true' }));
  pods.push(examplePod('etl-with-warm-up', { gpu: 1, mem: 10000, cores: 20 }, {}, { gpu: 1, mem: 30000, cores: 50 }));
  pods.push(examplePod('too-big-16gpu', { gpu: 16 }));
  pods.push(examplePod('big-t4', { gpu: 1, mem: 15000, cores: 50 }, { 'nvidia.com/use-gputype': 'T4' }));
  pods.push(examplePod('whole-h100', { gpu: 1 }, { 'nvidia.com/use-gputype': 'H100' }));
  return pods;
}

export interface ExampleResult {
  readonly pod: string;
  readonly node: string | null;
  readonly grants: PodGrants;
  readonly reasons: ReadonlyMap<string, string>;
}

export interface NodeUtilisation {
  readonly node: string;
  readonly devices: number;
  readonly devicesInUse: number;
  readonly memoryPercent: number;
  readonly coresPercent: number;
}

export interface ExampleReport {
  readonly policy: NodePolicy;
  readonly results: readonly ExampleResult[];
  readonly nodes: readonly NodeUtilisation[];
  readonly placed: number;
  readonly memoryPercent: number;
}

export function runPlacementExample(policy: NodePolicy = 'binpack'): ExampleReport {
  const vendors = vendorsFromConfig(DEFAULT_DEVICE_CONFIG);
  const cluster = new ClusterState();
  for (const n of exampleCluster()) cluster.setNode(n);
  const engine = new PlacementEngine(cluster, vendors, { nodePolicy: policy });
  const results = exampleWorkload().map((pod): ExampleResult => {
    const name = pod.metadata?.name ?? '';
    const out = engine.place(`demo/${name}`, podRequest(pod, vendors));
    return { pod: name, node: out.placement?.node ?? null, grants: out.placement?.grants ?? [], reasons: out.failed };
  });
  let memory = 0;
  let used = 0;
  const nodes = cluster.nodes.map((n): NodeUtilisation => {
    memory += n.totalMemory;
    used += n.usedMemory;
    return {
      node: n.name,
      devices: n.devices.length,
      devicesInUse: [...n.tasks].filter((t) => t > 0).length,
      memoryPercent: (100 * n.usedMemory) / n.totalMemory,
      coresPercent: (100 * n.usedCores) / n.totalCores,
    };
  });
  return { policy, results, nodes, placed: results.filter((r) => r.node).length, memoryPercent: (100 * used) / memory };
}

export function formatPlacementExample(report: ExampleReport, others: readonly ExampleReport[]): string {
  const lines = [
    `Placement: ${String(report.results.length)} pods on the built-in cluster (node policy ${report.policy}, device policy spread unless a pod says otherwise)`,
  ];
  const width = Math.max(...report.results.map((r) => r.pod.length));
  for (const r of report.results) {
    if (r.node) {
      const devices = r.grants
        .flat()
        .map((g) => `${g.id.replace(/^GPU-/, '')} ${String(g.memoryMiB)} MiB ${String(g.cores)}%`)
        .join(', ');
      lines.push(`  ${r.pod.padEnd(width)}  -> ${r.node}: ${devices}`);
    } else {
      const reasons = [...r.reasons.entries()].map(([node, why]) => `${node}: ${why}`).join('; ');
      lines.push(`  ${r.pod.padEnd(width)}  -> not placed (${reasons})`);
    }
  }
  lines.push('', '  node          GPUs in use   memory allocated   compute allocated');
  for (const n of report.nodes) {
    lines.push(
      `  ${n.node.padEnd(12)}  ${`${String(n.devicesInUse)}/${String(n.devices)}`.padStart(11)}   ${n.memoryPercent.toFixed(1).padStart(15)}%   ${n.coresPercent.toFixed(1).padStart(16)}%`,
    );
  }
  lines.push(
    '',
    `  ${String(report.placed)} of ${String(report.results.length)} pods placed; ${report.memoryPercent.toFixed(1)}% of the cluster's GPU memory allocated.`,
    ...others.map(
      (o) => `  With node policy ${o.policy}: ${String(o.placed)} placed, ${o.memoryPercent.toFixed(1)}% of GPU memory allocated.`,
    ),
  );
  return lines.join('\n');
}
