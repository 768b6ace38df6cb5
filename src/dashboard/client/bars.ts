import type { Colours } from './colours.js';
import { cssFraction, gib, pct, percentOf, shortModel } from './format.js';
import { html } from './html.js';
import type { GpuView, ShareView } from '../view.js';

export interface Segment {
  /** Of the whole track, 0..1. */
  readonly fraction: number;
  readonly colour: string;
  readonly title: string;
}

interface MeterProps {
  readonly segments: readonly Segment[];
  /** Where the measured value sits, 0..1, or null when it is not known. */
  readonly marker: number | null;
  /** What a screen reader hears in place of the picture. */
  readonly label: string;
}

/** A thin track: what is allocated as coloured segments, what is really used as a dark marker line. */
export function Meter({ segments, marker, label }: MeterProps) {
  return html`<div class="meter" role="img" aria-label=${label}>
    ${segments.map((s) => html`<span class="seg" style=${`width:${cssFraction(s.fraction)};background:${s.colour}`} title=${s.title}></span>`)}
    ${marker === null ? null : html`<span class="marker" style=${`left:${cssFraction(marker)}`}></span>`}
  </div>`;
}

function shareTitle(share: ShareView): string {
  const used = share.memoryUsedMiB === null ? '' : ` (${Math.round(share.memoryUsedMiB)} used)`;
  return `${share.namespace}/${share.pod} · ${share.memoryMiB} MiB${used} · ${share.cores}%`;
}

interface GpuRowProps {
  readonly gpu: GpuView;
  readonly colours: Colours;
}

/** One device: its memory and its cores, each split among the pods holding a share. */
export function GpuRow({ gpu, colours }: GpuRowProps) {
  const memory = gpu.shares.map((s) => ({ fraction: s.memoryMiB / gpu.memoryMiB, colour: colours(s.namespace), title: shareTitle(s) }));
  const cores = gpu.shares.map((s) => ({ fraction: s.cores / gpu.cores, colour: colours(s.namespace), title: shareTitle(s) }));
  const used = gpu.memoryUsedMiB;
  const memoryLabel = `memory: ${gib(gpu.memoryAllocatedMiB)} of ${gib(gpu.memoryMiB)} allocated, ${used === null ? 'use unknown' : `${gib(used)} used`}`;
  const coresAllocated = pct(percentOf(gpu.coresAllocated, gpu.cores));
  const coresLabel = `cores: ${coresAllocated} allocated, ${gpu.utilization === null ? 'utilisation unknown' : `${pct(gpu.utilization)} utilised`}`;
  const model = shortModel(gpu.type);
  return html`<div class=${gpu.healthy ? 'gpu' : 'gpu unhealthy'} data-testid="gpu" data-gpu=${gpu.id}>
    <span class="gpu-index">${gpu.index}</span>
    <span class="gpu-model">
      <span class="gpu-name" title=${`${gpu.type} · ${gpu.id} · ${gpu.tasks}/${gpu.splitCount} shares`}>${model}</span>
      ${gpu.cordoned ? html`<span class="badge warn">cordoned</span>` : null}
      ${gpu.healthy ? null : html`<span class="badge bad">unhealthy</span>`}
    </span>
    <span class="gpu-meters">
      <${Meter} segments=${memory} marker=${used === null ? null : used / gpu.memoryMiB} label=${memoryLabel} />
      <${Meter} segments=${cores} marker=${gpu.utilization === null ? null : gpu.utilization / 100} label=${coresLabel} />
    </span>
    <span class="gpu-numbers">
      <span>${gib(gpu.memoryAllocatedMiB, false)}/${gib(gpu.memoryMiB)}</span>
      <span>${coresAllocated}${gpu.utilization === null ? '' : ` · ${pct(gpu.utilization)} util`}</span>
    </span>
  </div>`;
}
