/**
 * What a placement policy is to the simulator: given a task, a node and GPUs (or none), on the
 * simulator's compact cluster. The replay applies the decision to the cluster and then tells the
 * policy, so policies with state of their own (the placement engine's cluster, clustering tags)
 * stay in step.
 */
import type { FgdFragmentation, TypicalTask } from '../fgd-fragmentation.js';
import type { Decision, SimCluster, SimTask } from '../model.js';
import type { Rng } from '../rng.js';

export interface PlacementPolicy {
  /** Chooses a node and GPUs, or returns null when no node fits. Changes nothing. */
  choose(task: SimTask): Decision | null;
  /** The decision was applied to the cluster. */
  placed(task: SimTask, decision: Decision): void;
  /** A placed task left (online replay). */
  removed(task: SimTask, decision: Decision): void;
}

export interface PolicyContext {
  readonly cluster: SimCluster;
  /** FGD's typical tasks, from the whole original trace. Only the reference FGD policy may read them. */
  readonly typical: readonly TypicalTask[];
  readonly fragmentation: FgdFragmentation;
  readonly rng: Rng;
}

export interface PolicyInfo {
  readonly name: string;
  /** `reference`: as the FGD paper defines it, for validation; `tessera`: runs the production placement engine. */
  readonly family: 'reference' | 'tessera';
  readonly description: string;
  /** The policy's label in the published FGD results (`06-FGD`), for reference policies. */
  readonly publishedAs?: string;
  readonly create: (context: PolicyContext) => PlacementPolicy;
}

/**
 * Keeps the best node offered: the highest score, and among equal scores the first offered.
 * Offering nodes in index order makes that the lowest index, the seeded node order of the
 * reference simulator's tie-break.
 */
export class BestNode {
  node = -1;
  score = -Infinity;
  /** A GPU the policy chose with the score (FGD), or −1. */
  gpu = -1;

  offer(node: number, score: number, gpu = -1): void {
    if (score > this.score) {
      this.node = node;
      this.score = score;
      this.gpu = gpu;
    }
  }
}
