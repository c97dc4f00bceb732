import { ApiError, api, describeError, enc } from '../api.js';
import { announce, duration, field, h, relTimeEl, select } from '../dom.js';
import { activeAgents, agentName } from '../people.js';
import { href, navigate } from '../router.js';
import { brandName, can, session } from '../session.js';
import { setShortcuts } from '../shortcuts.js';
import {
  type Agent,
  type BulkChange,
  type BulkResult,
  PRIORITIES,
  type Page,
  STATUSES,
  type SavedView,
  type SearchHit,
  type Ticket,
  type ViewCount,
} from '../types.js';
import { badge, busy, errorBox, pagedList, tableWrap } from '../ui.js';
import { setComposeIntent } from './ticket.js';

interface Filters {
  brand_id: string;
  status: string;
  priority: string;
  assigned_to: string;
  tag: string;
  sort: string;
}

const SORTS = [
  { value: '', label: 'Newest first' },
  { value: '-updated_at', label: 'Last activity, most recent first' },
  { value: 'updated_at', label: 'Last activity, oldest first' },
] as const;

/** How often the view counts are refreshed while the tab is visible. */
const COUNTS_EVERY_MS = 5000;

/** Inbox state survives going to a ticket and back within the tab (never the token: only filters). */
let remembered: { filters: Filters; query: string; view: string } = {
  filters: { brand_id: '', status: '', priority: '', assigned_to: '', tag: '', sort: '' },
  query: '',
  view: '',
};

export function inboxPage(main: HTMLElement): void {
  const brands = session()?.brands ?? [];
  const f = remembered.filters;
  const brand = select('brand_id', [{ value: '', label: 'All brands' }, ...brands.map((b) => ({ value: b.id, label: b.name }))], f.brand_id);
  const status = select('status', [{ value: '', label: 'Any status' }, ...STATUSES.map((s) => ({ value: s, label: s }))], f.status);
  const priority = select('priority', [{ value: '', label: 'Any priority' }, ...PRIORITIES.map((p) => ({ value: p, label: p }))], f.priority);
  const assignee = h('input', { type: 'email', name: 'assigned_to', value: f.assigned_to, placeholder: 'agent@example.com', autocomplete: 'off' });
  const tag = h('input', { type: 'text', name: 'tag', value: f.tag, autocomplete: 'off' });
  const sort = select(
    'sort',
    SORTS.map((s) => ({ value: s.value, label: s.label })),
    f.sort,
  );
  const query = h('input', { type: 'search', name: 'query', value: remembered.query, placeholder: 'refund for order 10021', autocomplete: 'off' });
  let view = remembered.view;
  let agents: Agent[] = [];

  const form = h(
    'form',
    { className: 'card filters', role: 'search', 'aria-label': 'Search and filter tickets' },
    h(
      'div',
      { className: 'searchrow' },
      field('Search tickets', query, 'Hybrid search: words and meaning. Leave empty to list tickets.'),
      h('button', { type: 'submit' }, 'Search'),
    ),
    h(
      'div',
      { className: 'filterrow' },
      field('Brand', brand),
      field('Status', status),
      field('Priority', priority),
      field('Assignee', assignee),
      field('Tag', tag),
      field('Sort', sort),
    ),
    h(
      'div',
      { className: 'actions' },
      h('button', { type: 'submit', className: 'secondary' }, 'Apply filters'),
      h('button', { type: 'button', className: 'link', onclick: reset }, 'Clear'),
    ),
  );

  const heading = h('h2', { id: 'results-title' }, 'Newest tickets');
  const results = h('div', { className: 'ticket-results' });
  const bulk = can('tickets:write') ? bulkForm() : null;
  const views = viewsSidebar();
  main.append(
    h('h1', {}, 'Tickets'),
    h(
      'div',
      { className: 'inbox-layout' },
      views.el,
      h('div', { className: 'inbox-main' }, form, heading, h('p', { className: 'muted small' }, 'Press ? for keyboard shortcuts.'), bulk?.el ?? '', results),
    ),
  );

  function current(): Filters {
    return {
      brand_id: brand.value,
      status: status.value,
      priority: priority.value,
      assigned_to: assignee.value.trim(),
      tag: tag.value.trim().toLowerCase(),
      sort: sort.value,
    };
  }

  function run(): void {
    const filters = current();
    const q = query.value.trim();
    remembered = { filters, query: q, view };
    const viewName = view ? views.name(view) : '';
    const list = q ? searchList(q, filters, rows) : view ? viewList(view, rows) : ticketList(filters, rows);
    heading.textContent = q
      ? `Search results for “${q}”`
      : view
        ? `View: ${viewName}`
        : filters.sort
          ? `Tickets by ${SORTS.find((s) => s.value === filters.sort)?.label.toLowerCase()}`
          : 'Newest tickets';
    results.replaceChildren(list.el);
    bulk?.reset();
    views.mark(view);
    void list.reload();
  }

  function rows(items: { ticket: Ticket; score?: number; highlights?: SearchHit['highlights']; match?: SearchHit['match'] }[]): HTMLElement {
    return ticketTable(items, agents, () => bulk?.update());
  }

  function reset(): void {
    form.reset();
    for (const s of [brand, status, priority, sort]) s.value = '';
    assignee.value = '';
    tag.value = '';
    query.value = '';
    view = '';
    run();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    view = '';
    run();
  });

  // ---- Keyboard: j/k move through the rows, o opens, x selects, r/n open the composer, e resolves.
  const rowEls = () => [...results.querySelectorAll<HTMLTableRowElement>('tr[data-ticket-id]')];
  const currentRow = () => results.querySelector<HTMLTableRowElement>('tr.current[data-ticket-id]');
  function move(step: number): void {
    const all = rowEls();
    if (!all.length) return;
    const at = currentRow();
    const idx = at ? all.indexOf(at) : -1;
    const next = all[Math.min(all.length - 1, Math.max(0, idx === -1 ? 0 : idx + step))]!;
    at?.classList.remove('current');
    next.classList.add('current');
    next.querySelector<HTMLAnchorElement>('a.subject')?.focus();
  }
  function open(compose?: 'reply' | 'note'): void {
    const row = currentRow();
    if (!row) return;
    if (compose) setComposeIntent(compose);
    navigate(`/tickets/${enc(row.dataset.ticketId!)}`);
  }
  async function resolveCurrent(): Promise<void> {
    const row = currentRow();
    if (!row || !can('tickets:write')) return;
    try {
      const t = await api.patch<Ticket>(`/v1/tickets/${enc(row.dataset.ticketId!)}`, { status: 'resolved' });
      row.querySelector('.status-cell')?.replaceChildren(badge(t.status, `s-${t.status}`));
      announce(`Resolved: ${t.subject}`);
    } catch (err) {
      announce(`Not resolved: ${describeError(err)}`);
      row.querySelector('.status-cell')?.append(errorBox(err));
    }
  }
  setShortcuts([
    { key: 'j', label: 'next', run: () => move(1) },
    { key: 'k', label: 'previous', run: () => move(-1) },
    { key: 'o', label: 'open', run: () => open() },
    {
      key: 'x',
      label: 'select',
      run: () => {
        const box = currentRow()?.querySelector<HTMLInputElement>('input[name="select"]');
        if (!box) return;
        box.checked = !box.checked;
        bulk?.update();
      },
    },
    { key: 'r', label: 'reply', run: () => open('reply') },
    { key: 'n', label: 'note', run: () => open('note') },
    { key: 'e', label: 'resolve', run: () => void resolveCurrent() },
  ]);
  results.addEventListener('focusin', (e) => {
    const row = (e.target as Element).closest<HTMLTableRowElement>('tr[data-ticket-id]');
    if (!row || row.classList.contains('current')) return;
    currentRow()?.classList.remove('current');
    row.classList.add('current');
  });

  // ---- Bulk actions on the selected rows.
  function bulkForm() {
    const out = h('div', { className: 'bulk-results', role: 'status' });
    const count = h('span', { className: 'bulk-count' }, 'No ticket selected');
    const assign = select('assign', [
      { value: '', label: 'Keep assignee' },
      { value: '-', label: 'Unassign' },
    ]);
    const newStatus = select('bulk_status', [{ value: '', label: 'Keep status' }, ...STATUSES.map((s) => ({ value: s, label: s }))]);
    const addTags = h('input', { type: 'text', name: 'tags_add', autocomplete: 'off', placeholder: 'vip, refund' });
    const removeTags = h('input', { type: 'text', name: 'tags_remove', autocomplete: 'off' });
    const apply = h('button', { type: 'submit' }, 'Apply to selected');
    const el = h(
      'form',
      { className: 'card bulk', 'aria-labelledby': 'bulk-title' },
      h('h3', { id: 'bulk-title' }, 'Bulk actions'),
      h('p', { className: 'muted small' }, count),
      h(
        'div',
        { className: 'bulkrow' },
        field('Assign to', assign),
        field('Set status', newStatus),
        field('Add tags', addTags, 'Comma-separated.'),
        field('Remove tags', removeTags, 'Comma-separated.'),
      ),
      h('div', { className: 'actions' }, apply),
      out,
    );
    activeAgents()
      .then((list) => {
        agents = list;
        for (const a of list) assign.appendChild(h('option', { value: a.email }, `${a.name} <${a.email}>`));
      })
      .catch(() => {
        // Without the agent list only unassigning is offered; the error shows on the ticket page.
      });
    const selected = () => [...results.querySelectorAll<HTMLInputElement>('input[name="select"]:checked')].map((i) => i.value);
    function update(): void {
      const n = selected().length;
      count.textContent = n ? `${n} selected` : 'No ticket selected';
      apply.disabled = n === 0;
      const all = results.querySelector<HTMLInputElement>('input[name="select-all"]');
      const boxes = results.querySelectorAll<HTMLInputElement>('input[name="select"]');
      if (all) {
        all.checked = n > 0 && n === boxes.length;
        all.indeterminate = n > 0 && n < boxes.length;
      }
    }
    el.addEventListener('submit', async (e) => {
      e.preventDefault();
      const ids = selected();
      const change: BulkChange = {};
      if (assign.value) change.assigned_to = assign.value === '-' ? null : assign.value;
      if (newStatus.value) change.status = newStatus.value as BulkChange['status'];
      const add = splitTags(addTags.value);
      const remove = splitTags(removeTags.value);
      if (add.length) change.tags_add = add;
      if (remove.length) change.tags_remove = remove;
      if (!ids.length) return;
      if (!Object.keys(change).length) {
        out.replaceChildren(h('p', { className: 'notice error' }, 'Choose an assignee, a status or tags to change.'));
        return;
      }
      await busy(el, async () => {
        try {
          const { results: outcome } = await api.post<{ results: BulkResult[] }>('/v1/tickets/bulk', { ids: ids.slice(0, 100), change });
          const subjects = new Map(rowEls().map((r) => [r.dataset.ticketId!, r.dataset.subject ?? r.dataset.ticketId!]));
          out.replaceChildren(bulkOutcome(outcome, subjects));
          assign.value = '';
          newStatus.value = '';
          addTags.value = '';
          removeTags.value = '';
          const keep = out.firstChild;
          run();
          if (keep) out.replaceChildren(keep);
        } catch (err) {
          out.replaceChildren(errorBox(err));
        }
      });
      update();
    });
    return {
      el,
      update,
      reset() {
        out.replaceChildren();
        update();
      },
    };
  }

  // ---- Views in the sidebar, with counts refreshed while the tab is visible.
  function viewsSidebar() {
    const list = h('ul', { className: 'plain views-list' });
    const el = h('nav', { className: 'views', 'aria-label': 'Views', hidden: true }, h('h2', { className: 'views-title' }, 'Views'), list);
    let known: SavedView[] = [];
    let timer = 0;

    function button(id: string, name: string): HTMLLIElement {
      const count = h('span', { className: 'count', 'data-view-id': id });
      const b = h(
        'button',
        { type: 'button', className: 'view-link', 'data-view-id': id, 'aria-pressed': 'false' },
        h('span', { className: 'view-name' }, name),
        count,
      );
      b.addEventListener('click', () => {
        view = id;
        query.value = '';
        run();
      });
      return h('li', {}, b);
    }

    async function counts(): Promise<void> {
      if (document.hidden || !el.isConnected) return;
      try {
        const { data } = await api.get<{ data: ViewCount[] }>('/v1/views/counts');
        for (const c of data) {
          const span = list.querySelector<HTMLElement>(`.count[data-view-id="${CSS.escape(c.view_id)}"]`);
          if (span) {
            span.textContent = c.exact ? String(c.count) : `${c.count}+`;
            // No aria-label: the name and the count are the button's text, so what is read is what is seen.
            span.title = `${c.count} tickets`;
          }
        }
        el.dataset.countsAt = new Date().toISOString();
      } catch {
        // A failed poll keeps the last counts; the next one tries again.
      }
    }

    function stop(): void {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    }
    function onVisibility(): void {
      if (!el.isConnected) stop();
      else if (!document.hidden) void counts();
    }

    void (async () => {
      try {
        known = (await api.get<{ data: SavedView[] }>('/v1/views')).data;
      } catch (err) {
        // A server without views (404) simply shows no sidebar; other failures say why.
        if (err instanceof ApiError && err.status === 404) return;
        el.hidden = false;
        list.replaceChildren(h('li', {}, errorBox(err)));
        return;
      }
      list.replaceChildren(button('', 'All tickets'), ...known.map((v) => button(v.id, v.name)));
      el.hidden = false;
      mark(view);
      if (view) heading.textContent = `View: ${name(view)}`;
      await counts();
      timer = window.setInterval(() => {
        if (!el.isConnected) stop();
        else void counts();
      }, COUNTS_EVERY_MS);
      document.addEventListener('visibilitychange', onVisibility);
    })();

    function name(id: string): string {
      return known.find((v) => v.id === id)?.name ?? id;
    }
    function mark(id: string): void {
      for (const b of list.querySelectorAll<HTMLButtonElement>('button[data-view-id]')) b.setAttribute('aria-pressed', String(b.dataset.viewId === id));
    }
    return { el, name, mark };
  }

  // Assignees show as names: the agents come first (one small request), then the list.
  void activeAgents()
    .then(
      (list) => {
        agents = list;
      },
      () => {},
    )
    .finally(run);
}

const splitTags = (text: string): string[] =>
  text
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function bulkOutcome(results: BulkResult[], subjects: Map<string, string>): HTMLElement {
  const ok = results.filter((r) => r.error === null).length;
  const failed = results.length - ok;
  return h(
    'div',
    { className: `notice ${failed ? 'error' : 'ok'}` },
    h('p', { className: 'bulk-summary' }, `${ok} changed${failed ? `, ${failed} failed` : ''}.`),
    h(
      'ul',
      { className: 'plain small', 'aria-label': 'Result per ticket' },
      results.map((r) =>
        h(
          'li',
          { 'data-ticket-id': r.id, 'data-status': r.status },
          h('strong', {}, r.ticket?.subject ?? subjects.get(r.id) ?? r.id),
          r.error ? `: failed (${r.status}) ${r.error.detail}` : ': changed',
        ),
      ),
    ),
  );
}

type Row = { ticket: Ticket; score?: number; highlights?: SearchHit['highlights']; match?: SearchHit['match'] };

function ticketList(filters: Filters, render: (rows: Row[]) => HTMLElement) {
  return pagedList<Ticket>({
    label: 'Tickets',
    emptyText: 'No ticket matches these filters.',
    load: (after) => api.get<Page<Ticket>>('/v1/tickets', { ...filters, limit: 25, after }),
    render: (tickets) => render(tickets.map((t) => ({ ticket: t }))),
  });
}

function viewList(viewId: string, render: (rows: Row[]) => HTMLElement) {
  return pagedList<Ticket>({
    label: 'Tickets',
    emptyText: 'No ticket in this view.',
    load: (after) => api.get<Page<Ticket>>(`/v1/views/${enc(viewId)}/tickets`, { limit: 25, after }),
    render: (tickets) => render(tickets.map((t) => ({ ticket: t }))),
  });
}

function searchList(q: string, filters: Filters, render: (rows: Row[]) => HTMLElement) {
  const searchFilters: Record<string, unknown> = {};
  if (filters.brand_id) searchFilters.brand_id = filters.brand_id;
  if (filters.status) searchFilters.status = filters.status;
  if (filters.priority) searchFilters.priority = filters.priority;
  if (filters.assigned_to) searchFilters.assigned_to = filters.assigned_to;
  if (filters.tag) searchFilters.tags = [filters.tag];
  return pagedList<SearchHit>({
    label: 'Search results',
    emptyText: 'Nothing found. Try other words or fewer filters.',
    load: (after) =>
      api
        .post<Page<SearchHit>>('/v1/tickets/search', {
          query: q,
          ...(Object.keys(searchFilters).length ? { filters: searchFilters } : {}),
          limit: 20,
          ...(after ? { after } : {}),
        })
        .catch((err: unknown) => {
          if (err instanceof ApiError && err.problem.code === 'route_not_found') {
            throw new ApiError({
              ...err.problem,
              detail: `Search is not available on this server: ${err.problem.detail ?? 'no search endpoint'}. Clear the search box to list tickets.`,
            });
          }
          throw err;
        }),
    render: (hits) => render(hits),
  });
}

/**
 * How long the customer has been waiting on us: an open ticket nobody answered yet since it was
 * created, an answered open ticket since its last activity. Pending, snoozed and resolved tickets
 * wait on someone else.
 */
function waiting(t: Ticket, now = Date.now()): HTMLElement | string {
  if (t.status !== 'open') return h('span', { className: 'muted' }, '—');
  const since = t.first_response_at ? t.updated_at : t.created_at;
  const ms = now - Date.parse(since);
  const label = t.first_response_at ? 'since the last activity' : 'no reply yet';
  return h('span', { className: ms > 86_400_000 ? 'waiting long' : 'waiting', title: `${label}, since ${new Date(since).toLocaleString()}` }, duration(ms));
}

function ticketTable(rows: Row[], agents: Agent[], onSelect: () => void): HTMLElement {
  const scored = rows.some((r) => r.score !== undefined);
  const selectable = can('tickets:write');
  const headers = ['Subject', 'Status', 'Priority', 'Assignee', 'Waiting', 'Last activity', 'Brand', ...(scored ? ['Score', 'Matched by'] : [])];
  const selectAll = selectable ? h('input', { type: 'checkbox', name: 'select-all', 'aria-label': 'Select every ticket shown' }) : null;
  selectAll?.addEventListener('change', () => {
    const container = selectAll.closest('.ticket-results') ?? document;
    for (const box of container.querySelectorAll<HTMLInputElement>('input[name="select"]')) box.checked = selectAll.checked;
    onSelect();
  });
  const cell = (label: string, content: Node | string, className?: string) => h('td', { 'data-label': label, className: className ?? null }, content);
  const tableEl = h(
    'table',
    { className: 'tickets' },
    h('caption', { className: 'visually-hidden' }, 'Tickets'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        selectable ? h('th', { scope: 'col', className: 'select' }, selectAll) : null,
        headers.map((x) => h('th', { scope: 'col' }, x)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map(({ ticket: t, score, highlights, match }) => {
        const box = selectable ? h('input', { type: 'checkbox', name: 'select', value: t.id, 'aria-label': `Select ${t.subject}` }) : null;
        box?.addEventListener('change', onSelect);
        return h(
          'tr',
          { 'data-ticket-id': t.id, 'data-subject': t.subject },
          box ? h('td', { className: 'select' }, box) : null,
          cell(
            'Subject',
            h(
              'div',
              {},
              h('a', { href: href(`/tickets/${enc(t.id)}`), className: 'subject' }, t.subject),
              // The last message's first line, cut to the column by CSS; whole on hover.
              t.last_message_preview ? h('div', { className: 'preview small', title: t.last_message_preview }, t.last_message_preview) : null,
              h(
                'div',
                { className: 'muted small' },
                t.customer.name ? `${t.customer.name} <${t.customer.email}>` : t.customer.email,
                ' · opened ',
                relTimeEl(t.created_at),
              ),
              // Tags ride under the subject rather than in a column of their own: the table fits 1280 px.
              t.tags.length
                ? h(
                    'div',
                    { className: 'tags small' },
                    // aria-label is not allowed on a plain div; a hidden word names the list instead.
                    h('span', { className: 'visually-hidden' }, 'Tags: '),
                    t.tags.map((tag) => badge(tag, 'tag')),
                  )
                : null,
              highlightsEl(highlights),
            ),
          ),
          cell('Status', badge(t.status, `s-${t.status}`), 'status-cell'),
          cell('Priority', badge(t.priority, `p-${t.priority}`)),
          cell(
            'Assignee',
            t.assigned_to ? h('span', { title: t.assigned_to }, agentName(t.assigned_to, agents)) : h('span', { className: 'muted' }, 'unassigned'),
          ),
          cell('Waiting', waiting(t)),
          cell('Last activity', relTimeEl(t.updated_at)),
          cell('Brand', brandName(t.brand_id)),
          ...(scored
            ? [cell('Score', h('span', { className: 'score' }, score === undefined ? '—' : score.toFixed(3))), cell('Matched by', matchEl(match))]
            : []),
        );
      }),
    ),
  );
  return tableWrap('Tickets table', tableEl);
}

function matchEl(match: SearchHit['match'] | undefined): HTMLElement | string {
  if (!match) return '—';
  const on = (v: unknown) => v !== undefined && v !== null && v !== false && v !== 0;
  const parts = [on(match.keyword) ? badge('keyword') : null, on(match.semantic) ? badge('semantic') : null].filter((x): x is HTMLElement => x !== null);
  return parts.length ? h('span', {}, ...parts) : '—';
}

/** Each highlight is a fragment with the [start, end) ranges of the matching words: those become <mark> elements, the rest stays text. */
function highlightsEl(highlights: SearchHit['highlights']): HTMLElement | null {
  if (!highlights?.length) return null;
  return h(
    'div',
    { className: 'highlights small' },
    highlights.slice(0, 2).map(({ text, ranges }) => {
      const parts: (HTMLElement | string)[] = [];
      let at = 0;
      for (const [start, end] of ranges) {
        if (start < at) continue;
        parts.push(text.slice(at, start), h('mark', {}, text.slice(start, end)));
        at = end;
      }
      parts.push(text.slice(at));
      return h('p', {}, parts);
    }),
  );
}
