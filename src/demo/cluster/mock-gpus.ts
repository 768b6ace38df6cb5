/**
 * The demo cluster's hardware: four GPU nodes of eight mixed GPUs, written as the node agent's mock
 * device files (docs/node-agent.md, "Mock devices"). Each GPU is its own entry so that its usage
 * can be rewritten while the demo runs (usage.ts); UUIDs derive from the node name and index, so
 * they stay the same across rewrites.
 */

export interface DemoGpu {
  /** Product name as NVML reports it. */
  readonly name: string;
  readonly memoryMiB: number;
  readonly numa: number;
}

export interface DemoNode {
  readonly name: string;
  readonly gpus: number;
  readonly devices: readonly DemoGpu[];
  /** The `links:` section's lines. */
  readonly links: readonly string[];
}

/** What the monitor is to report for one GPU. */
export interface GpuUsage {
  readonly memoryUsedMiB: number;
  /** Percent. */
  readonly utilization: number;
}

/** NVLink pairs (0-1, 2-3, …) of `count` GPUs, `links` NVLinks each. */
function pairs(count: number, links: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < count; i += 2) out.push(`  - between: [${i}, ${i + 1}]`, `    nvlinks: ${links}`);
  return out;
}

/** Every pair of `count` GPUs on one NVSwitch fabric. */
function nvswitch(count: number, links: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) for (let j = i + 1; j < count; j++) out.push(`  - between: [${i}, ${j}]`, `    nvlinks: ${links}`);
  return out;
}

function gpus(name: string, memoryMiB: number, count: number, numa: number): DemoGpu[] {
  return Array.from({ length: count }, () => ({ name, memoryMiB, numa }));
}

function demoNode(name: string, devices: DemoGpu[], links: string[] = []): DemoNode {
  return { name, gpus: devices.length, devices, links };
}

/** The node's mock devices file, with `usage[i]` reported for GPU i (zeros where absent). */
export function devicesYaml(node: DemoNode, usage: readonly (GpuUsage | undefined)[] = []): string {
  const lines = ['devices:'];
  node.devices.forEach((d, i) => {
    const u = usage[i] ?? { memoryUsedMiB: 0, utilization: 0 };
    const memory = Math.min(d.memoryMiB, Math.max(0, Math.round(u.memoryUsedMiB)));
    const utilization = Math.min(100, Math.max(0, Math.round(u.utilization)));
    lines.push(
      `  - name: ${d.name}`,
      `    memoryMiB: ${d.memoryMiB}`,
      `    numa: ${d.numa}`,
      `    usage: { memoryUsedMiB: ${memory}, utilization: ${utilization}, memoryUtilization: ${Math.round(utilization / 2)} }`,
    );
  });
  if (node.links.length > 0) lines.push('links:', ...node.links);
  return `${lines.join('\n')}\n`;
}

export const DEMO_NODES: readonly DemoNode[] = [
  demoNode('gpu-a100', [...gpus('NVIDIA A100-SXM4-80GB', 81920, 4, 0), ...gpus('NVIDIA A100-SXM4-80GB', 81920, 4, 1)], pairs(8, 12)),
  demoNode('gpu-h100', [...gpus('NVIDIA H100 80GB HBM3', 81920, 4, 0), ...gpus('NVIDIA H100 80GB HBM3', 81920, 4, 1)], nvswitch(8, 18)),
  demoNode('gpu-mixed', [...gpus('NVIDIA A10', 24576, 4, 0), ...gpus('NVIDIA L4', 23034, 4, 1)]),
  demoNode('gpu-t4', gpus('Tesla T4', 15360, 8, 0)),
];
