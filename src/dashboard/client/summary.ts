import type { Colours } from './colours.js';
import { clockTime, count, gib, pct, percentOf } from './format.js';
import { html } from './html.js';
import type { LiveStatus } from './live.js';
import type { PodView, Totals } from '../view.js';

const STATUS_TEXT: Record<LiveStatus, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
};

export function LiveBadge({ status }: { readonly status: LiveStatus }) {
  return html`<span class=${`live ${status}`} data-testid="live-status" role="status"><span class="live-dot" aria-hidden="true"></span>${STATUS_TEXT[status]}</span>`;
}

interface HeaderProps {
  readonly status: LiveStatus;
  readonly generatedAt: string | null;
}

export function Header({ status, generatedAt }: HeaderProps) {
  return html`<header class="top">
    <div class="brand">
      <h1>Tessera</h1>
      <span class="muted">GPU sharing</span>
    </div>
    <div class="top-right">
      ${generatedAt === null ? null : html`<span class="muted small">updated ${clockTime(generatedAt)}</span>`}
      <${LiveBadge} status=${status} />
    </div>
  </header>`;
}

/** Allocated (the fill) against measured (the marker), the comparison the whole page is about. */
function Gauge({ allocated, used }: { readonly allocated: number; readonly used: number | null }) {
  return html`<div class="gauge" aria-hidden="true">
    <span class="gauge-fill" style=${`width:${Math.min(100, allocated).toFixed(1)}%`}></span>
    ${used === null ? null : html`<span class="marker" style=${`left:${Math.min(100, used).toFixed(1)}%`}></span>`}
  </div>`;
}

function Stat({ label, value, detail, tone }: { readonly label: string; readonly value: string; readonly detail?: unknown; readonly tone?: string }) {
  return html`<div class=${tone === undefined ? 'stat' : `stat ${tone}`}>
    <span class="stat-label">${label}</span>
    <span class="stat-value">${value}</span>
    ${detail}
  </div>`;
}

export function TotalsBar({ totals: t }: { readonly totals: Totals }) {
  const memoryAllocated = percentOf(t.memoryAllocatedMiB, t.memoryMiB);
  const memoryUsed = t.memoryUsedMiB === null ? null : percentOf(t.memoryUsedMiB, t.memoryMiB);
  const coresAllocated = percentOf(t.coresAllocated, t.cores);
  return html`<section class="totals" aria-label="Cluster totals">
    <${Stat} label="Nodes" value=${count(t.nodes)} />
    <${Stat} label="GPUs" value=${count(t.gpus)} />
    <${Stat} label="GPU memory" value=${`${pct(memoryAllocated)} allocated`} detail=${html`
      <${Gauge} allocated=${memoryAllocated} used=${memoryUsed} />
      <span class="stat-detail">${gib(t.memoryAllocatedMiB)} of ${gib(t.memoryMiB)} · used ${t.memoryUsedMiB === null ? 'unknown' : `${gib(t.memoryUsedMiB)} (${pct(memoryUsed)})`}</span>`} />
    <${Stat} label="GPU cores" value=${`${pct(coresAllocated)} allocated`} detail=${html`
      <${Gauge} allocated=${coresAllocated} used=${t.utilization} />
      <span class="stat-detail">mean utilisation ${t.utilization === null ? 'unknown' : pct(t.utilization)}</span>`} />
    <${Stat} label="Pods holding shares" value=${count(t.pods)} />
    <${Stat} label="Pending pods" value=${count(t.pending)} tone=${t.pending > 0 ? 'warn' : undefined} />
  </section>`;
}

/** Who the colours stand for, with how many pods each tenant holds. */
export function Legend({ namespaces, pods, colours }: { readonly namespaces: readonly string[]; readonly pods: readonly PodView[]; readonly colours: Colours }) {
  const held = new Map<string, number>();
  for (const pod of pods) held.set(pod.namespace, (held.get(pod.namespace) ?? 0) + 1);
  return html`<section class="legend" aria-labelledby="legend-title">
    <h2 id="legend-title">Tenants</h2>
    ${namespaces.length === 0
      ? html`<span class="muted">none yet</span>`
      : html`<ul>${namespaces.map((ns) => html`<li key=${ns}><span class="dot" style=${`background:${colours(ns)}`}></span>${ns}<span class="muted">· ${count(held.get(ns) ?? 0)} pods</span></li>`)}</ul>`}
  </section>`;
}
