/*
 * A tiny element builder. Every piece of API data reaches the page as a text node or an attribute
 * value, never as HTML, so a ticket subject cannot inject markup.
 */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'className') {
      el.className = String(value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

let uid = 0;
/** A unique id for label/for and aria-describedby pairs. */
export const nextId = (prefix: string): string => `${prefix}-${++uid}`;

/** A labelled form field: the label, the control, an optional hint tied by aria-describedby. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLDivElement {
  if (!control.id) control.id = nextId('f');
  const hintEl = hint ? h('p', { className: 'hint', id: nextId('hint') }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { className: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A group of checkboxes in a fieldset with a legend. */
export function checkboxes(legend: string, name: string, options: { value: string; label: string; checked?: boolean }[]): HTMLFieldSetElement {
  return h(
    'fieldset',
    { className: 'checks' },
    h('legend', {}, legend),
    options.map((o) => {
      const input = h('input', { type: 'checkbox', name, value: o.value, id: nextId(name), checked: o.checked ?? false });
      return h('label', { className: 'check', for: input.id }, input, ` ${o.label}`);
    }),
  );
}

export const checkedValues = (root: ParentNode, name: string): string[] =>
  [...root.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);

export function select(name: string, options: { value: string; label: string }[], value = ''): HTMLSelectElement {
  const el = h('select', { name });
  for (const o of options) el.appendChild(h('option', { value: o.value, selected: o.value === value }, o.label));
  return el;
}

export const formatTime = (iso: string | null | undefined): string => {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
};

export const timeEl = (iso: string | null | undefined): HTMLElement | string => (iso ? h('time', { datetime: iso }, formatTime(iso)) : '—');

/** Announces a short message to screen readers through the page's live region. */
export function announce(message: string): void {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  window.setTimeout(() => (live.textContent = message), 30);
}

/** "just now", "5 min ago", "3 h ago", "2 d ago", then the date: short enough for a list column. */
export function relativeTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  const say = (n: number, unit: string) => (future ? `in ${n} ${unit}` : `${n} ${unit} ago`);
  if (a < 45) return future ? 'in a moment' : 'just now';
  if (a < 3600) return say(Math.max(1, Math.round(a / 60)), 'min');
  if (a < 86_400) return say(Math.round(a / 3600), 'h');
  if (a < 30 * 86_400) return say(Math.round(a / 86_400), 'd');
  return new Date(t).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** A span of time in words, as "2 h 5 min" or "3 d 4 h": how long someone has waited. */
export function duration(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 1) return 'under 1 min';
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** A <time> with the relative wording, and the absolute local date and time on hover. */
export const relTimeEl = (iso: string | null | undefined): HTMLElement | string =>
  iso ? h('time', { datetime: iso, title: formatTime(iso), className: 'rel' }, relativeTime(iso)) : '—';

const NOT_TYPED = new Set(['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'range', 'color']);

/** True while the user types: key shortcuts stay quiet in inputs, text areas, selects and editable content. */
export function isTyping(target: EventTarget | null): boolean {
  const el = target instanceof Element ? target : null;
  if (!el) return false;
  // Ticking a checkbox or pressing a button is not typing: j/k keep working after selecting a row.
  if (el instanceof HTMLInputElement) return !NOT_TYPED.has(el.type);
  if (el.closest('textarea, select, [contenteditable=""], [contenteditable="true"]')) return true;
  return el instanceof HTMLElement && el.isContentEditable;
}

// Relative dates stay true while a page is left open: each is reworded once a minute.
window.setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll<HTMLTimeElement>('time.rel[datetime]')) el.textContent = relativeTime(el.dateTime, now);
}, 60_000);
