import { useEffect, useRef, useState } from 'preact/hooks';

import { count } from './format.js';
import { html } from './html.js';
import type { WhatIfError, WhatIfView } from '../view.js';

type Answer = { readonly kind: 'idle' } | { readonly kind: 'loading' } | { readonly kind: 'done'; readonly view: WhatIfView } | { readonly kind: 'error'; readonly message: string };

interface Shape {
  readonly gpus: string;
  readonly memory: string;
  readonly cores: string;
  readonly type: string;
}

const DEFAULTS: Shape = { gpus: '1', memory: '8192', cores: '25', type: '' };

function isError(body: unknown): body is WhatIfError {
  return typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string';
}

async function ask(url: string, shape: Shape, signal: AbortSignal): Promise<Answer> {
  const query = new URLSearchParams({ gpus: shape.gpus, memory: shape.memory, cores: shape.cores });
  if (shape.type.trim() !== '') query.set('type', shape.type.trim());
  const response = await fetch(`${url}?${query.toString()}`, { signal, headers: { Accept: 'application/json' } });
  const body: unknown = await response.json().catch(() => null);
  if (response.ok) return { kind: 'done', view: body as WhatIfView };
  const message = isError(body) ? body.error : `The server answered ${response.status}.`;
  return { kind: 'error', message };
}

function sentence(view: WhatIfView): string {
  return `With sharing, this cluster would hold ${count(view.withSharing)} more of these pods; with whole idle GPUs, ${count(view.wholeGpus)}.`;
}

interface FieldProps {
  readonly label: string;
  readonly name: keyof Shape;
  readonly shape: Shape;
  readonly onChange: (name: keyof Shape, value: string) => void;
  readonly numeric: boolean;
  readonly placeholder?: string;
}

// Text with a numeric keyboard rather than type=number: that one silently drops what it cannot parse,
// while the server's answer to "abc" says what is wrong.
function Field({ label, name, shape, onChange, numeric, placeholder }: FieldProps) {
  return html`<label class="field">
    <span>${label}</span>
    <input name=${name} type="text" inputmode=${numeric ? 'numeric' : undefined} autocomplete="off" placeholder=${placeholder}
      value=${shape[name]} onInput=${(e: Event) => onChange(name, (e.currentTarget as HTMLInputElement).value)} />
  </label>`;
}

/** "How many more pods like this fit?", answered by the server from the scheduler's own view. */
export function WhatIf({ url }: { readonly url: string }) {
  const [shape, setShape] = useState(DEFAULTS);
  const [answer, setAnswer] = useState<Answer>({ kind: 'idle' });
  const inFlight = useRef<AbortController | null>(null);

  const run = (current: Shape) => {
    // A newer question makes an older answer moot; abort it so it cannot land last.
    inFlight.current?.abort();
    const controller = new AbortController();
    inFlight.current = controller;
    setAnswer({ kind: 'loading' });
    ask(url, current, controller.signal).then(
      (a) => { if (!controller.signal.aborted) setAnswer(a); },
      (error: unknown) => {
        if (!controller.signal.aborted) setAnswer({ kind: 'error', message: `Could not reach the server (${String(error)}).` });
      },
    );
  };

  useEffect(() => {
    run(DEFAULTS);
    return () => inFlight.current?.abort();
  }, []);

  const onChange = (name: keyof Shape, value: string) => setShape({ ...shape, [name]: value });
  // The server judges the shape (noValidate): its message says more than the browser's bubble.
  const onSubmit = (e: Event) => {
    e.preventDefault();
    run(shape);
  };

  return html`<section class="panel whatif" data-testid="whatif" aria-labelledby="whatif-title">
    <h2 id="whatif-title">What if</h2>
    <p class="muted">How many more pods of this shape would fit now?</p>
    <form onSubmit=${onSubmit} noValidate>
      <div class="fields">
        <${Field} label="GPUs per pod" name="gpus" shape=${shape} onChange=${onChange} numeric=${true} />
        <${Field} label="Memory per GPU (MiB)" name="memory" shape=${shape} onChange=${onChange} numeric=${true} />
        <${Field} label="Cores per GPU (%)" name="cores" shape=${shape} onChange=${onChange} numeric=${true} />
        <${Field} label="GPU type (optional)" name="type" shape=${shape} onChange=${onChange} numeric=${false} placeholder="e.g. A100" />
      </div>
      <button type="submit">Estimate</button>
    </form>
    <p class=${answer.kind === 'error' ? 'result error' : 'result'} data-testid="whatif-result" aria-live="polite">
      ${answer.kind === 'loading' ? 'Estimating…' : answer.kind === 'done' ? sentence(answer.view) : answer.kind === 'error' ? answer.message : ''}
    </p>
    ${answer.kind === 'done'
      ? html`<p class="muted small">Over ${count(answer.view.gpusConsidered)} GPU${answer.view.gpusConsidered === 1 ? '' : 's'}${answer.view.request.type === null ? '' : ` matching “${answer.view.request.type}”`}.</p>`
      : null}
  </section>`;
}
