import { useRef } from 'preact/hooks';

import { GpuRow } from './bars.js';
import type { Colours } from './colours.js';
import { count, gib, pct, percentOf } from './format.js';
import { html } from './html.js';
import { MoreButton, useFilter, usePages } from './paging.js';
import { useSeen } from './visible.js';
import type { NodeView } from '../view.js';

/** Cards per page: a thousand nodes would mean tens of thousands of elements, and a slow page. */
const PAGE = 30;
/**
 * Cards whose GPU rows are built at once, about a screenful (two rows of three); the others build theirs
 * as they scroll near, which keeps the first render (and each live update) a fraction of the cost.
 */
const EAGER = 6;

interface NodeCardProps {
  readonly node: NodeView;
  readonly colours: Colours;
  readonly eager: boolean;
}

function NodeCard({ node, colours, eager }: NodeCardProps) {
  const ref = useRef<HTMLElement>(null);
  const seen = useSeen(ref, eager);
  let memory = 0;
  let allocated = 0;
  for (const gpu of node.gpus) {
    memory += gpu.memoryMiB;
    allocated += gpu.memoryAllocatedMiB;
  }
  return html`<article class="card node" data-testid="node" data-node=${node.name} ref=${ref}>
    <header class="node-head">
      <h3>${node.name}</h3>
      <span class="muted">${node.gpus.length} GPU${node.gpus.length === 1 ? '' : 's'} · ${gib(allocated, false)}/${gib(memory)} (${pct(percentOf(allocated, memory))})</span>
    </header>
    ${node.usageProblem === null ? null : html`<p class="note">${node.usageProblem}</p>`}
    ${node.gpus.length === 0
      ? html`<p class="note">No GPUs registered.</p>`
      : seen
        ? node.gpus.map((gpu) => html`<${GpuRow} key=${gpu.id} gpu=${gpu} colours=${colours} />`)
        : html`<div class="gpu-placeholder" style=${`height:calc(${node.gpus.length} * var(--gpu-row))`}></div>`}
  </article>`;
}

function nameMatches(node: NodeView, q: string): boolean {
  return node.name.toLowerCase().includes(q);
}

interface NodeGridProps {
  readonly nodes: readonly NodeView[];
  readonly colours: Colours;
}

export function NodeGrid({ nodes, colours }: NodeGridProps) {
  const { filter, setFilter, matching } = useFilter(nodes, nameMatches);
  const { shown, rest, more, reset } = usePages(matching, PAGE);
  return html`<section class="panel" aria-labelledby="nodes-title">
    <div class="panel-head">
      <h2 id="nodes-title">Nodes</h2>
      <label class="filter">
        <span>Filter nodes</span>
        <input type="search" placeholder="node name" value=${filter}
          onInput=${(e: Event) => { setFilter((e.currentTarget as HTMLInputElement).value); reset(); }} />
      </label>
      <span class="muted">${shown.length === nodes.length ? `${count(nodes.length)} nodes` : `${count(shown.length)} of ${count(matching.length)} shown · ${count(nodes.length)} nodes`}</span>
    </div>
    <p class="key muted">
      Each GPU: <span class="key-item"><span class="key-bar"></span> memory</span>, then <span class="key-item"><span class="key-bar"></span> cores</span>,
      coloured by tenant; <span class="key-item"><span class="key-marker"></span> measured use</span>.
    </p>
    ${matching.length === 0 ? html`<p class="empty">No node matches “${filter}”.</p>` : null}
    <div class="node-grid">
      ${shown.map((node, i) => html`<${NodeCard} key=${node.name} node=${node} colours=${colours} eager=${i < EAGER} />`)}
    </div>
    <${MoreButton} rest=${rest} page=${PAGE} onMore=${more} />
  </section>`;
}
