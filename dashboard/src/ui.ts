import { ApiError, describeError } from './api.js';
import { announce, h } from './dom.js';
import type { Page } from './types.js';

/** A region for a form's or page's outcome: errors as an alert, successes as a polite status. */
export function notice(): { el: HTMLDivElement; error(err: unknown): void; ok(message: string): void; clear(): void } {
  const el = h('div', { className: 'notice-slot' });
  return {
    el,
    error(err) {
      el.replaceChildren(errorBox(err));
    },
    ok(message) {
      el.replaceChildren(h('p', { className: 'notice ok', role: 'status' }, message));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

export function errorBox(err: unknown): HTMLElement {
  const code = err instanceof ApiError && err.problem.code ? ` (${err.problem.code}, ${err.status})` : '';
  return h('div', { className: 'notice error', role: 'alert' }, h('strong', {}, 'Error: '), describeError(err), h('span', { className: 'muted' }, code));
}

export const loading = (what = 'Loading…'): HTMLElement => h('p', { className: 'loading', role: 'status', 'aria-busy': 'true' }, what);
export const empty = (text: string): HTMLElement => h('p', { className: 'empty' }, text);

/** Disables a form's controls while its request runs, so a double click sends it once. */
export async function busy<T>(form: HTMLFormElement | HTMLElement, fn: () => Promise<T>): Promise<T> {
  const controls = [...form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, select, textarea')].filter((c) => !c.disabled);
  for (const c of controls) c.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    for (const c of controls) c.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

/**
 * A list fed page by page from an API cursor: shows loading, empty and error states and a
 * "Load more" button while `next_cursor` is not null.
 */
export function pagedList<T>(options: {
  label: string;
  load: (after: string | null) => Promise<Page<T>>;
  render: (items: T[]) => HTMLElement;
  emptyText: string;
}): { el: HTMLElement; reload(): Promise<void> } {
  const body = h('div', { className: 'paged-body' });
  const more = h('button', { type: 'button', className: 'secondary' }, 'Load more');
  const footer = h('div', { className: 'paged-footer' });
  const el = h('section', { className: 'paged', 'aria-label': options.label }, body, footer);
  let cursor: string | null = null;
  let generation = 0;

  async function loadPage(first: boolean): Promise<void> {
    const mine = ++generation;
    if (first) body.replaceChildren(loading());
    footer.replaceChildren(first ? '' : loading('Loading more…'));
    try {
      const page = await options.load(first ? null : cursor);
      if (mine !== generation) return;
      if (first) body.replaceChildren();
      cursor = page.next_cursor;
      if (page.data.length) {
        body.querySelector('.empty')?.remove();
        body.appendChild(options.render(page.data));
      } else if (first) {
        // A bounded search (the customers' `q`) can answer an empty page that still has a cursor:
        // nothing matched among the rows read so far, and older rows remain.
        body.replaceChildren(empty(cursor ? 'Nothing found so far; load more to search further.' : options.emptyText));
      }
      footer.replaceChildren(cursor ? more : '');
      if (!first) announce(`${page.data.length} more loaded`);
    } catch (err) {
      if (mine !== generation) return;
      if (first) body.replaceChildren(errorBox(err));
      footer.replaceChildren(first ? '' : errorBox(err), first ? '' : more);
    }
  }
  more.addEventListener('click', () => void loadPage(false));
  return { el, reload: () => loadPage(true) };
}

/** A scrollable, focusable wrapper so wide tables stay usable at phone widths and by keyboard. */
export const tableWrap = (label: string, table: HTMLTableElement): HTMLElement =>
  h('div', { className: 'table-wrap', role: 'region', 'aria-label': label, tabindex: 0 }, table);

export function table(headers: string[], rows: (Node | string)[][], caption?: string): HTMLTableElement {
  return h(
    'table',
    {},
    caption ? h('caption', { className: 'visually-hidden' }, caption) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', { scope: 'col' }, x)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          // data-label names the column when narrow screens show each row as a list (styles.css).
          r.map((c, i) => h('td', { 'data-label': headers[i] || null }, c)),
        ),
      ),
    ),
  );
}

/** A modal confirmation built on <dialog>: focus moves into it and Escape cancels. */
export function confirmDialog(message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', className: 'danger' }, confirmLabel);
    const cancel = h('button', { type: 'button', className: 'secondary' }, 'Cancel');
    const titleId = `dlg-${Date.now()}`;
    const dialog = h('dialog', { 'aria-labelledby': titleId }, h('p', { id: titleId }, message), h('div', { className: 'actions' }, cancel, ok));
    const opener = document.activeElement as HTMLElement | null;
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(answer);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Shows a secret exactly once, with a copy button; it is never written anywhere else. */
export function secretReveal(label: string, secret: string, note: string): HTMLElement {
  const input = h('input', { type: 'text', readonly: true, value: secret, className: 'secret', 'aria-label': label, spellcheck: 'false', autocomplete: 'off' });
  const copied = h('span', { className: 'muted', role: 'status' });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(secret);
      copied.textContent = 'Copied.';
    } catch {
      copied.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  const box = h(
    'section',
    { className: 'secret-box', 'aria-label': label },
    h('h3', {}, label),
    h('p', {}, note),
    h('div', { className: 'inline' }, input, copy, copied),
  );
  queueMicrotask(() => input.focus());
  return box;
}

export function badge(text: string, kind = ''): HTMLElement {
  return h('span', { className: `badge ${kind}`.trim() }, text);
}
