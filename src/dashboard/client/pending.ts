import { useEffect, useState } from 'preact/hooks';

import type { Colours } from './colours.js';
import { ago, count } from './format.js';
import { html } from './html.js';
import { MoreButton, usePages } from './paging.js';
import type { PendingView } from '../view.js';

// Rows at first and per "show more": hundreds of rows would cost the first render more than they tell.
const PAGE = 25;
/** How often "waiting for" moves on by itself; minutes are its usual grain. */
const TICK_MS = 15_000;

/** Re-renders the caller every `ms`. */
function useTicker(ms: number): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((n) => n + 1), ms);
    return () => clearInterval(id);
  }, [ms]);
}

interface PendingRowProps {
  readonly pod: PendingView;
  readonly nowMs: number;
  readonly colours: Colours;
}

function PendingRow({ pod, nowMs, colours }: PendingRowProps) {
  // Per row and keyed by pod, so a row stays open across live updates.
  const [open, setOpen] = useState(false);
  const name = `${pod.namespace}/${pod.name}`;
  // Only built when open: with a thousand nodes each closed row would otherwise carry a thousand entries.
  const failed = open ? Object.entries(pod.failedNodes).sort(([a], [b]) => a.localeCompare(b)) : [];
  return html`
    <tr class="pending-row" data-testid="pending" onClick=${() => setOpen(!open)}>
      <td>
        <button type="button" class="disclose" aria-expanded=${open} aria-label=${`${open ? 'Hide' : 'Show'} per-node reasons for ${name}`}
          onClick=${(e: Event) => { e.stopPropagation(); setOpen(!open); }}>${open ? '▾' : '▸'}</button>
        <span class="dot" style=${`background:${colours(pod.namespace)}`}></span>${name}
      </td>
      <td class="nowrap" title=${pod.since ?? ''}>${ago(pod.since, nowMs)}</td>
      <td data-testid="pending-reason">${pod.reason}</td>
    </tr>
    ${open
      ? html`<tr class="pending-detail"><td colspan="3">
          ${failed.length === 0
            ? html`<p class="muted">The scheduler has not filtered this pod yet.</p>`
            : html`<dl class="failed">${failed.map(([node, reason]) => html`<div key=${node}><dt>${node}</dt><dd>${reason}</dd></div>`)}</dl>`}
        </td></tr>`
      : null}`;
}

interface PendingTableProps {
  readonly pending: readonly PendingView[];
  /** The server's clock less this browser's, for "waiting for". */
  readonly clockOffsetMs: number;
  readonly colours: Colours;
}

export function PendingTable({ pending, clockOffsetMs, colours }: PendingTableProps) {
  useTicker(TICK_MS);
  const { shown, rest, more } = usePages(pending, PAGE);
  const nowMs = Date.now() + clockOffsetMs;
  return html`<section class="panel" aria-labelledby="pending-title">
    <div class="panel-head"><h2 id="pending-title">Pending pods</h2><span class="muted">${count(pending.length)} waiting</span></div>
    ${pending.length === 0
      ? html`<p class="empty">No pods are waiting for a GPU.</p>`
      : html`<div class="table-wrap"><table class="data pending">
          <thead><tr><th scope="col">Pod</th><th scope="col">Waiting</th><th scope="col">Reason</th></tr></thead>
          <tbody>${shown.map((pod) => html`<${PendingRow} key=${`${pod.namespace}/${pod.name}`} pod=${pod} nowMs=${nowMs} colours=${colours} />`)}</tbody>
        </table></div>`}
    <${MoreButton} rest=${rest} page=${PAGE} onMore=${more} />
  </section>`;
}
