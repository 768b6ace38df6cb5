/** Every placement policy the simulator can run, by name. */
import { TESSERA_POLICIES } from './engine.js';
import type { PolicyInfo } from './policy.js';
import { REFERENCE_POLICIES } from './reference.js';

export const ALL_POLICIES: readonly PolicyInfo[] = [...REFERENCE_POLICIES, ...TESSERA_POLICIES];

export function policyByName(name: string): PolicyInfo {
  const policy = ALL_POLICIES.find((p) => p.name === name);
  if (!policy) throw new RangeError(`unknown policy "${name}"; known: ${ALL_POLICIES.map((p) => p.name).join(', ')}`);
  return policy;
}
