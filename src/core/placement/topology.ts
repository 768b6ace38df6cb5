/**
 * Topology-aware choice among devices that all fit (HAMi's `topology-aware` policy), using the
 * pair scores a node registers (`hami.io/node-nvidia-score`: NVLink counts × 100, PCIe relations
 * 10–60). One device: the one least linked to the other candidates, keeping well-connected
 * devices free for multi-device pods. Several: the set with the highest sum of pair scores.
 */
import type { NodeState } from './cluster.js';

/** Beyond this many combinations, the set is grown greedily instead of enumerated. */
const MAX_COMBINATIONS = 20_000;

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Picks `count` of the candidates (given in preference order; ties keep that order). */
export function bestLinkedSet<T extends { readonly position: number }>(node: NodeState, candidates: readonly T[], count: number): T[] {
  const n = node.devices.length;
  const link = (a: T, b: T): number => node.links[a.position * n + b.position] ?? 0;
  if (count === 1) {
    let best = candidates[0];
    let bestSum = Infinity;
    for (const c of candidates) {
      let sum = 0;
      for (const o of candidates) if (o !== c) sum += link(c, o);
      if (sum < bestSum) {
        bestSum = sum;
        best = c;
      }
    }
    return best ? [best] : [];
  }
  const score = (set: readonly T[]): number => {
    let s = 0;
    for (let i = 0; i < set.length; i++) for (let j = i + 1; j < set.length; j++) s += link(set[i] as T, set[j] as T);
    return s;
  };
  if (binomial(candidates.length, count) > MAX_COMBINATIONS) {
    // Greedy: start from the best-linked pair, add the device adding the most link score.
    const chosen: T[] = [candidates[0] as T];
    while (chosen.length < count) {
      let pick: T | undefined;
      let gain = -1;
      for (const c of candidates) {
        if (chosen.includes(c)) continue;
        const g = chosen.reduce((s, o) => s + link(c, o), 0);
        if (g > gain) {
          gain = g;
          pick = c;
        }
      }
      if (!pick) break;
      chosen.push(pick);
    }
    return chosen;
  }
  let best: T[] = candidates.slice(0, count);
  let bestScore = score(best);
  const current: T[] = [];
  const walk = (start: number): void => {
    if (current.length === count) {
      const s = score(current);
      if (s > bestScore) {
        bestScore = s;
        best = [...current];
      }
      return;
    }
    for (let i = start; i <= candidates.length - (count - current.length); i++) {
      current.push(candidates[i] as T);
      walk(i + 1);
      current.pop();
    }
  };
  walk(0);
  return best;
}
