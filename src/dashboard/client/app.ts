/**
 * The dashboard's browser island: it takes over `#app` (which holds the server-rendered summary)
 * once it has the document, and follows the server's event stream.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';

import { h, render } from 'preact';
import { useLayoutEffect, useMemo } from 'preact/hooks';

import { UsageChart } from './chart.js';
import { tenantColours } from './colours.js';
import { html } from './html.js';
import { useLiveView } from './live.js';
import { NodeGrid } from './nodes.js';
import { PendingTable } from './pending.js';
import { PodTable } from './pods.js';
import { Header, Legend, TotalsBar } from './summary.js';
import { WhatIf } from './whatif.js';
import { podsOf, type DashboardView } from '../view.js';

const API = '/api/v1/dashboard';

function Dashboard({ view }: { readonly view: DashboardView }) {
  const colours = tenantColours(view.namespaces);
  const pods = useMemo(() => podsOf(view.nodes), [view]);
  // The server's clock less ours, taken when this document arrived, so "waiting for" ages with our
  // clock between documents (the server sends none while nothing changes) yet cannot be skewed by it.
  const clockOffsetMs = useMemo(() => {
    const generated = Date.parse(view.generatedAt);
    return Number.isNaN(generated) ? 0 : generated - Date.now();
  }, [view]);
  return html`
    <${TotalsBar} totals=${view.totals} />
    <${Legend} namespaces=${view.namespaces} pods=${pods} colours=${colours} />
    <div class="row">
      <${UsageChart} history=${view.history} />
      <${WhatIf} url=${`${API}/what-if`} />
    </div>
    <${NodeGrid} nodes=${view.nodes} colours=${colours} />
    <${PendingTable} pending=${view.pending} clockOffsetMs=${clockOffsetMs} colours=${colours} />
    <${PodTable} pods=${pods} colours=${colours} />`;
}

function App({ summary }: { readonly summary: HTMLElement }) {
  const { view, status, error } = useLiveView(API);
  // The server's summary stays until there is something better to show; then the page is whole
  // (Preact renders synchronously, layout effects such as the chart included).
  useLayoutEffect(() => {
    if (view === null) return;
    summary.remove();
    document.body.dataset.ready = '1';
    // Time from navigation to a whole, usable page: what the benchmark reports.
    performance.mark('tessera:ready');
  }, [view === null]);
  if (view === null) return error === null ? null : html`<p class="notice">Could not load the dashboard: ${error}. Retrying over the event stream…</p>`;
  return html`<div class="page">
    <${Header} status=${status} generatedAt=${view.generatedAt} />
    <main><${Dashboard} view=${view} /></main>
  </div>`;
}

const summary = document.getElementById('app');
if (summary !== null) {
  // A container of its own: Preact would otherwise try to reuse the summary's unrelated elements.
  const island = document.createElement('div');
  summary.after(island);
  render(h(App, { summary }), island);
}
