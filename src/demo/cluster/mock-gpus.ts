/**
 * The demo cluster's hardware: four GPU nodes of eight mixed GPUs, written as the node agent's mock
 * device files (docs/node-agent.md, "Mock devices").
 */

export interface DemoNode {
  readonly name: string;
  /** The mock devices file's YAML. */
  readonly devices: string;
  readonly gpus: number;
}

/** NVLink pairs (0-1, 2-3, …) of `count` GPUs, `links` NVLinks each. */
function pairs(count: number, links: number, offset = 0): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < count; i += 2) out.push(`  - between: [${offset + i}, ${offset + i + 1}]`, `    nvlinks: ${links}`);
  return out;
}

/** Every pair of `count` GPUs on one NVSwitch fabric. */
function nvswitch(count: number, links: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) for (let j = i + 1; j < count; j++) out.push(`  - between: [${i}, ${j}]`, `    nvlinks: ${links}`);
  return out;
}

function gpus(name: string, memoryMiB: number, count: number, numa: number, usedMiB: number, utilization: number): string[] {
  return [
    `  - name: ${name}`,
    `    memoryMiB: ${memoryMiB}`,
    `    count: ${count}`,
    `    numa: ${numa}`,
    `    usage: { memoryUsedMiB: ${usedMiB}, utilization: ${utilization}, memoryUtilization: ${Math.round(utilization / 2)} }`,
  ];
}

export const DEMO_NODES: readonly DemoNode[] = [
  {
    name: 'gpu-a100',
    gpus: 8,
    devices: ['devices:', ...gpus('NVIDIA A100-SXM4-80GB', 81920, 4, 0, 0, 0), ...gpus('NVIDIA A100-SXM4-80GB', 81920, 4, 1, 0, 0), 'links:', ...pairs(8, 12)].join('\n'),
  },
  {
    name: 'gpu-h100',
    gpus: 8,
    devices: ['devices:', ...gpus('NVIDIA H100 80GB HBM3', 81920, 4, 0, 0, 0), ...gpus('NVIDIA H100 80GB HBM3', 81920, 4, 1, 0, 0), 'links:', ...nvswitch(8, 18)].join('\n'),
  },
  {
    name: 'gpu-mixed',
    gpus: 8,
    devices: ['devices:', ...gpus('NVIDIA A10', 24576, 4, 0, 0, 0), ...gpus('NVIDIA L4', 23034, 4, 1, 0, 0)].join('\n'),
  },
  {
    name: 'gpu-t4',
    gpus: 8,
    devices: ['devices:', ...gpus('Tesla T4', 15360, 8, 0, 0, 0)].join('\n'),
  },
];
