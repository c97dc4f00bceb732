import { ApiError, api, enc } from '../api.js';
import { field, h, select, timeEl } from '../dom.js';
import { href } from '../router.js';
import { brandName, session } from '../session.js';
import { PRIORITIES, STATUSES, type Page, type SearchHit, type Ticket } from '../types.js';
import { badge, pagedList, table, tableWrap } from '../ui.js';

interface Filters {
  brand_id: string;
  status: string;
  priority: string;
  assigned_to: string;
  tag: string;
}

/** Inbox state survives going to a ticket and back within the tab (never the token: only filters). */
let remembered: { filters: Filters; query: string } = { filters: { brand_id: '', status: '', priority: '', assigned_to: '', tag: '' }, query: '' };

export function inboxPage(main: HTMLElement): void {
  const brands = session()?.brands ?? [];
  const f = remembered.filters;
  const brand = select('brand_id', [{ value: '', label: 'All brands' }, ...brands.map((b) => ({ value: b.id, label: b.name }))], f.brand_id);
  const status = select('status', [{ value: '', label: 'Any status' }, ...STATUSES.map((s) => ({ value: s, label: s }))], f.status);
  const priority = select('priority', [{ value: '', label: 'Any priority' }, ...PRIORITIES.map((p) => ({ value: p, label: p }))], f.priority);
  const assignee = h('input', { type: 'email', name: 'assigned_to', value: f.assigned_to, placeholder: 'agent@example.com', autocomplete: 'off' });
  const tag = h('input', { type: 'text', name: 'tag', value: f.tag, autocomplete: 'off' });
  const query = h('input', { type: 'search', name: 'query', value: remembered.query, placeholder: 'refund for order 10021', autocomplete: 'off' });

  const form = h(
    'form',
    { className: 'card filters', role: 'search', 'aria-label': 'Search and filter tickets' },
    h(
      'div',
      { className: 'searchrow' },
      field('Search tickets', query, 'Hybrid search: words and meaning. Leave empty to list the newest.'),
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
    ),
    h(
      'div',
      { className: 'actions' },
      h('button', { type: 'submit', className: 'secondary' }, 'Apply filters'),
      h('button', { type: 'button', className: 'link', onclick: reset }, 'Clear'),
    ),
  );

  const heading = h('h2', { id: 'results-title' }, 'Newest tickets');
  const results = h('div');
  main.append(h('h1', {}, 'Tickets'), form, heading, results);

  function current(): Filters {
    return { brand_id: brand.value, status: status.value, priority: priority.value, assigned_to: assignee.value.trim(), tag: tag.value.trim().toLowerCase() };
  }

  function run(): void {
    const filters = current();
    const q = query.value.trim();
    remembered = { filters, query: q };
    const list = q ? searchList(q, filters) : ticketList(filters);
    heading.textContent = q ? `Search results for “${q}”` : 'Newest tickets';
    results.replaceChildren(list.el);
    void list.reload();
  }

  function reset(): void {
    form.reset();
    for (const s of [brand, status, priority]) s.value = '';
    assignee.value = '';
    tag.value = '';
    query.value = '';
    run();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    run();
  });
  run();
}

function ticketList(filters: Filters) {
  return pagedList<Ticket>({
    label: 'Tickets',
    emptyText: 'No ticket matches these filters.',
    load: (after) => api.get<Page<Ticket>>('/v1/tickets', { ...filters, limit: 25, after }),
    render: (tickets) => ticketTable(tickets.map((t) => ({ ticket: t }))),
  });
}

function searchList(q: string, filters: Filters) {
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
    render: (hits) => ticketTable(hits),
  });
}

function ticketTable(rows: { ticket: Ticket; score?: number; highlights?: SearchHit['highlights']; match?: SearchHit['match'] }[]): HTMLElement {
  const scored = rows.some((r) => r.score !== undefined);
  const headers = ['Subject', 'Brand', 'Status', 'Priority', 'Assignee', 'Tags', 'Created', ...(scored ? ['Score', 'Matched by'] : [])];
  return tableWrap(
    'Tickets table',
    table(
      headers,
      rows.map(({ ticket: t, score, highlights, match }) => [
        h(
          'div',
          {},
          h('a', { href: href(`/tickets/${enc(t.id)}`), className: 'subject' }, t.subject),
          h('div', { className: 'muted small' }, t.customer.name ? `${t.customer.name} <${t.customer.email}>` : t.customer.email),
          highlightsEl(highlights),
        ),
        brandName(t.brand_id),
        badge(t.status, `s-${t.status}`),
        badge(t.priority, `p-${t.priority}`),
        t.assigned_to ?? h('span', { className: 'muted' }, 'unassigned'),
        t.tags.length ? t.tags.join(', ') : '—',
        timeEl(t.created_at),
        ...(scored ? [h('span', { className: 'score' }, score === undefined ? '—' : score.toFixed(3)), matchEl(match)] : []),
      ]),
      'Tickets',
    ),
  );
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
