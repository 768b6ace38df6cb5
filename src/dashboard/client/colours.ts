/**
 * One colour per tenant (namespace). The index in the server's sorted `namespaces` picks from a
 * fixed palette, so a tenant keeps its colour across updates and page loads while the set of
 * tenants is stable; past the palette, a hash of the name still gives a stable (if less distinct) hue.
 */

// Tableau 10, with its light grey swapped for a darker one so every segment stands out from the empty track.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#79706e'];

export type Colours = (namespace: string) => string;

function hashed(name: string): string {
  // FNV-1a: cheap and spreads short, similar names (team-a, team-b) across the wheel.
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `hsl(${(hash >>> 0) % 360} 55% 48%)`;
}

export function tenantColours(namespaces: readonly string[]): Colours {
  const index = new Map(namespaces.map((ns, i) => [ns, i]));
  return (namespace) => {
    const i = index.get(namespace);
    return (i === undefined ? undefined : PALETTE[i]) ?? hashed(namespace);
  };
}
