/*
 * Single-key shortcuts (j/k, r, n, e, ?). Each page registers the ones it offers; none fires while
 * the user types in a field, while a modifier key is held, or while a dialog is open.
 */
import { h, isTyping } from './dom.js';

export interface Shortcut {
  key: string;
  label: string;
  run: () => void;
}

let current: Shortcut[] = [];

/** Replaces the shortcuts of the page on screen (an empty list on pages without any). */
export function setShortcuts(list: Shortcut[]): void {
  current = list;
}

const HELP: [string, string][] = [
  ['j', 'Next ticket in the list'],
  ['k', 'Previous ticket in the list'],
  ['o or Enter', 'Open the highlighted ticket'],
  ['x', 'Select or unselect the highlighted ticket'],
  ['r', 'Reply to the customer'],
  ['n', 'Write an internal note'],
  ['e', 'Resolve the ticket'],
  ['?', 'Show this help'],
];

export function showHelp(): void {
  if (document.getElementById('shortcut-help')) return;
  const close = h('button', { type: 'button', className: 'secondary' }, 'Close');
  const available = new Set(current.map((s) => s.key));
  const dialog = h(
    'dialog',
    { id: 'shortcut-help', 'aria-labelledby': 'shortcut-help-title' },
    h('h2', { id: 'shortcut-help-title' }, 'Keyboard shortcuts'),
    h('p', { className: 'muted small' }, 'They work anywhere but in a text field. Shortcuts this page does not offer are greyed.'),
    h(
      'dl',
      { className: 'facts shortcuts' },
      HELP.flatMap(([key, what]) => {
        const on = key === '?' || key.split(' or ').some((k) => available.has(k === 'Enter' ? 'Enter' : k));
        return [h('dt', { className: on ? '' : 'off' }, h('kbd', {}, key)), h('dd', { className: on ? '' : 'off' }, what)];
      }),
    ),
    h('div', { className: 'actions' }, close),
  );
  const opener = document.activeElement as HTMLElement | null;
  const done = () => {
    dialog.close();
    dialog.remove();
    opener?.focus();
  };
  close.addEventListener('click', done);
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    done();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  close.focus();
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  if (isTyping(e.target)) return;
  if (document.querySelector('dialog[open]')) return;
  if (e.key === '?') {
    e.preventDefault();
    showHelp();
    return;
  }
  // Enter on a link or button keeps its own meaning.
  if (e.key === 'Enter' && e.target instanceof Element && e.target.closest('a, button')) return;
  const found = current.find((s) => s.key === e.key);
  if (!found) return;
  e.preventDefault();
  found.run();
});
