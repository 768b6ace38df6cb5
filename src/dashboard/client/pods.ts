import type { Colours } from './colours.js';
import { count, shortId } from './format.js';
import { html } from './html.js';
import { MoreButton, useFilter, usePages } from './paging.js';
import type { PodView } from '../view.js';

// Rows at first and per "show more"; the filter finds the rest.
const PAGE = 25;

function matches(pod: PodView, q: string): boolean {
  return (
    `${pod.namespace}/${pod.name}`.toLowerCase().includes(q) ||
    pod.node.toLowerCase().includes(q) ||
    pod.devices.some((d) => d.id.toLowerCase().includes(q))
  );
}

interface PodTableProps {
  readonly pods: readonly PodView[];
  readonly colours: Colours;
}

export function PodTable({ pods, colours }: PodTableProps) {
  const { filter, setFilter, matching } = useFilter(pods, matches);
  const { shown, rest, more } = usePages(matching, PAGE);
  return html`<section class="panel" aria-labelledby="pods-title">
    <div class="panel-head">
      <h2 id="pods-title">Pods holding shares</h2>
      <label class="filter">
        <span>Filter pods</span>
        <input type="search" placeholder="namespace/name, node or GPU" value=${filter}
          onInput=${(e: Event) => setFilter((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <span class="muted">${matching.length === pods.length ? `${count(pods.length)} pods` : `${count(matching.length)} of ${count(pods.length)} match`}</span>
    </div>
    ${matching.length === 0
      ? html`<p class="empty">${pods.length === 0 ? 'No pod holds a GPU share.' : `No pod matches “${filter}”.`}</p>`
      : html`<div class="table-wrap"><table class="data pods">
          <thead><tr><th scope="col">Pod</th><th scope="col">Node</th><th scope="col">Devices</th></tr></thead>
          <tbody>${shown.map((pod) => html`<tr key=${`${pod.namespace}/${pod.name}`}>
            <td><span class="dot" style=${`background:${colours(pod.namespace)}`}></span>${pod.namespace}/${pod.name}</td>
            <td>${pod.node}</td>
            <td>${pod.devices.map((d) => html`<span class="chip" title=${d.id}>${shortId(d.id)} · ${d.memoryUsedMiB === null ? '' : `${Math.round(d.memoryUsedMiB)} used of `}${d.memoryMiB} MiB · ${d.cores}%</span>`)}</td>
          </tr>`)}</tbody>
        </table></div>`}
    <${MoreButton} rest=${rest} page=${PAGE} onMore=${more} />
  </section>`;
}
