/**
 * Tessera's policies in the simulator: the production placement engine (src/core/placement), fed
 * the trace as Kubernetes pods. Each task becomes a pod asking for `num_gpu` GPUs with a memory
 * share and a compute share of gpu_milli / 10 percent each (`nvidia.com/gpumem-percentage`,
 * `nvidia.com/gpucores`), its CPU and memory as container requests and its model constraint as
 * `nvidia.com/use-gputype`; each node registers its GPUs as a node agent would, with its CPU and
 * memory as allocatable. The request goes through the same parser (`podRequest`) and the same
 * engine the scheduler extender uses.
 */
import { NVIDIA_USE_TYPE, POD_DEVICE_POLICY, POD_NODE_POLICY } from '../../core/annotations.js';
import type { Device, DeviceGrant, NodeInventory } from '../../core/device.js';
import type { PodLike } from '../../core/pod.js';
import { ClusterState } from '../../core/placement/cluster.js';
import { PlacementEngine } from '../../core/placement/engine.js';
import { type PodRequest, podRequest } from '../../core/request.js';
import { nvidiaVendor } from '../../core/vendors/nvidia.js';
import type { Decision, SimCluster, SimTask } from '../model.js';
import { MILLI } from '../trace.js';
import type { PlacementPolicy, PolicyContext, PolicyInfo } from './policy.js';

/**
 * GPU memory by model (MiB), as the FGD simulator's card table has it; G2 and G3 are unnamed
 * models it assumes. Shares are percentages, so memory only sets the rounding of a share.
 */
export const MODEL_MEMORY_MIB: Readonly<Record<string, number>> = {
  T4: 15109,
  V100M16: 16160,
  P100: 16280,
  A10: 22731,
  V100M32: 32510,
  G2: 20000,
  G3: 30000,
};
const DEFAULT_MEMORY_MIB = 16384;
/** Tasks one GPU may hold: above anything openb packs (its smallest share is 50 milli), so HAMi's slot limit never binds. */
const SPLIT_COUNT = 64;

/** The simulator's nodes as the engine sees them, in the same tie order (names sort as the seeded order). */
function inventories(c: SimCluster): NodeInventory[] {
  const models = [...c.modelIds.keys()];
  const width = String(c.size).length;
  return Array.from({ length: c.size }, (_, n) => {
    const name = `${String(n).padStart(width, '0')}-${c.names[n] ?? ''}`;
    const model = models[c.model[n] ?? -1] ?? '';
    const devices: Device[] = Array.from({ length: c.gpuCount[n] ?? 0 }, (_, g) => ({
      id: `${name}/gpu-${String(g)}`,
      index: g,
      vendor: 'NVIDIA',
      type: `NVIDIA-${model}`,
      memoryMiB: MODEL_MEMORY_MIB[model] ?? DEFAULT_MEMORY_MIB,
      cores: 100,
      splitCount: SPLIT_COUNT,
      numa: 0,
      healthy: true,
      mode: 'hami-core',
    }));
    return { name, devices, links: [], cordoned: new Set<string>(), host: { cpuMilli: c.cpuCap[n] ?? 0, memoryMiB: c.memCap[n] ?? 0 } };
  });
}

/** The pod a trace task stands for. */
export function taskPod(t: SimTask, nodePolicy: string, devicePolicy: string): PodLike {
  const resources: Record<string, string> = { cpu: `${String(t.cpu)}m`, memory: `${String(t.memory)}Mi` };
  if (t.gpus > 0) {
    const percent = String((100 * t.milli) / MILLI);
    resources['nvidia.com/gpu'] = String(t.gpus);
    resources['nvidia.com/gpumem-percentage'] = percent;
    resources['nvidia.com/gpucores'] = percent;
  }
  const annotations: Record<string, string> = { [POD_NODE_POLICY]: nodePolicy, [POD_DEVICE_POLICY]: devicePolicy };
  if (t.source.models.length > 0) annotations[NVIDIA_USE_TYPE] = t.source.models.join(',');
  return {
    metadata: { name: t.source.name, namespace: 'trace', annotations },
    spec: { containers: [{ name: 'main', resources: { requests: resources, limits: resources } }] },
  };
}

function enginePolicy(nodePolicy: 'binpack' | 'spread' | 'fragmentation', devicePolicy: 'binpack' | 'spread') {
  return ({ cluster: c }: PolicyContext): PlacementPolicy => {
    const vendors = [nvidiaVendor()];
    const state = new ClusterState();
    const nodes = inventories(c);
    const index = new Map<string, number>();
    nodes.forEach((inv, n) => {
      state.setNode(inv);
      index.set(inv.name, n);
    });
    const engine = new PlacementEngine(state, vendors);
    const requests = new Map<string, PodRequest>();
    const pending = new WeakMap<Decision, readonly DeviceGrant[]>();
    const keys = new WeakMap<Decision, string>();
    const observed = new WeakSet<SimTask>();
    let placedCount = 0;

    const requestOf = (t: SimTask): PodRequest => {
      const key = `${String(t.cpu)}|${String(t.memory)}|${String(t.gpus)}|${String(t.milli)}|${t.source.models.join(',')}`;
      let r = requests.get(key);
      if (!r) {
        r = podRequest(taskPod(t, nodePolicy, devicePolicy), vendors);
        requests.set(key, r);
      }
      return r;
    };

    return {
      choose(t) {
        const request = requestOf(t);
        // The policy learns from every pod it is asked to place, placed or not, once (the online
        // replay asks again for a pod that waits).
        if (!observed.has(t)) {
          observed.add(t);
          engine.observe(request);
        }
        const placement = engine.filter(request).placement;
        if (!placement) return null;
        const n = index.get(placement.node) ?? -1;
        const node = state.node(placement.node);
        const grants = placement.grants[0] ?? [];
        const decision: Decision = { node: n, gpus: grants.map((g) => node?.position(g.id) ?? -1) };
        pending.set(decision, grants);
        return decision;
      },
      placed(t, d) {
        const grants = pending.get(d);
        const name = nodes[d.node]?.name;
        if (!grants || name === undefined) throw new Error(`engine policy: placed a decision it did not make (task ${t.source.name})`);
        const key = `trace/${t.source.name}#${String(placedCount++)}`;
        keys.set(d, key);
        state.addPod(name, key, [grants], 0, requestOf(t).host);
      },
      removed(t, d) {
        const key = keys.get(d);
        if (key === undefined || !engine.release(key)) throw new Error(`engine policy: task ${t.source.name} was not placed by it`);
      },
    };
  };
}

export const TESSERA_POLICIES: readonly PolicyInfo[] = [
  {
    name: 'binpack',
    family: 'tessera',
    description: "HAMi's binpack: the most used node, then the most used GPU (the production engine)",
    create: enginePolicy('binpack', 'binpack'),
  },
  {
    name: 'spread',
    family: 'tessera',
    description: "HAMi's spread: the least used node, then the least used GPU (the production engine)",
    create: enginePolicy('spread', 'spread'),
  },
  {
    name: 'fragmentation',
    family: 'tessera',
    description: "Tessera's fragmentation-aware policy, learning pod shapes online (the production engine)",
    create: enginePolicy('fragmentation', 'binpack'),
  },
];
