/** Text for numbers, sizes and times, shared by every panel so they all read alike. */

// One formatter for the page: toLocaleString builds a new one per call, which shows at 8,000 rows.
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(n: number): string {
  return integer.format(n);
}

/** MiB as GiB: one decimal while that decimal still says something. */
export function gib(mib: number, unit = true): string {
  const v = mib / 1024;
  const text = v >= 100 ? count(Math.round(v)) : v.toFixed(v >= 10 ? 0 : 1);
  return unit ? `${text} GiB` : text;
}

/** part / whole as a percentage; an empty whole counts as nothing allocated rather than NaN. */
export function percentOf(part: number, whole: number): number {
  return whole > 0 ? (100 * part) / whole : 0;
}

export function pct(n: number | null): string {
  return n === null ? '—' : `${Math.round(n)}%`;
}

/** A fraction of a bar as a CSS width, clamped so an over-committed GPU cannot overflow its track. */
export function cssFraction(fraction: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  return `${(clamped * 100).toFixed(2)}%`;
}

/** How long ago `iso` was, at `nowMs`. */
export function ago(iso: string | null, nowMs: number): string {
  if (iso === null) return '—';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '—';
  const s = Math.max(0, Math.round((nowMs - then) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

/** `NVIDIA-NVIDIA A100-SXM4-80GB` → `A100-SXM4-80GB`: the registered type repeats the vendor. */
export function shortModel(type: string): string {
  return type.replace(/^NVIDIA-/, '').replace(/^NVIDIA /, '');
}

/** `GPU-8a7b6c5d-…` → `GPU-8a7b6c5d`: enough to tell a node's devices apart. */
export function shortId(id: string): string {
  return id.startsWith('GPU-') ? id.slice(0, 12) : id.slice(0, 8);
}

export function clockTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
}
