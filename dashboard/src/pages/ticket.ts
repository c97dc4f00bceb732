import { api, enc, request } from '../api.js';
import { announce, field, h, select, timeEl } from '../dom.js';
import { href } from '../router.js';
import { brandName, can } from '../session.js';
import { type AuditEntry, type Message, PRIORITIES, STATUSES, type SimilarTicket, type TicketDetail } from '../types.js';
import { badge, busy, empty, errorBox, loading, notice, table, tableWrap } from '../ui.js';

const splitList = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const formatSize = (n: number | null): string => {
  if (n === null) return 'size unknown';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
};

export async function ticketPage(main: HTMLElement, params: Record<string, string>): Promise<void> {
  const id = params.id!;
  const body = h('div', {}, loading('Loading the ticket…'));
  main.append(h('p', {}, h('a', { href: href('/tickets') }, '← Tickets')), body);
  let etag: string | null = null;
  let flash: string | null = null;

  async function load(focusAfter?: string): Promise<void> {
    try {
      const res = await request<TicketDetail>('GET', `/v1/tickets/${enc(id)}`);
      etag = res.headers.get('ETag');
      render(res.data);
      if (focusAfter) document.getElementById(focusAfter)?.focus();
    } catch (err) {
      body.replaceChildren(h('h1', {}, 'Ticket'), errorBox(err));
    }
  }

  function render(t: TicketDetail): void {
    document.title = `${t.subject} · NexusCore`;
    const writable = can('tickets:write');
    body.replaceChildren(
      h('h1', {}, t.subject),
      h(
        'p',
        { className: 'meta' },
        badge(t.status, `s-${t.status}`),
        ' ',
        badge(t.priority, `p-${t.priority}`),
        ' ',
        h('span', { className: 'muted' }, `${t.id} · ${brandName(t.brand_id)} · ${t.origin} · opened `),
        timeEl(t.created_at),
        t.queue ? h('span', { className: 'muted' }, ` · queue ${t.queue.name}${t.queue.position ? `, position ${t.queue.position}` : ''}`) : '',
        t.snoozed_until ? h('span', { className: 'muted' }, ' · snoozed until ', timeEl(t.snoozed_until)) : '',
      ),
      h(
        'div',
        { className: 'ticket-layout' },
        h(
          'div',
          { className: 'ticket-main' },
          h('h2', { id: 'conversation' }, 'Conversation'),
          conversation(t.messages),
          writable ? replyForm() : h('p', { className: 'muted' }, 'This token can read but not reply (it lacks tickets:write).'),
          h('h2', {}, 'Audit trail'),
          auditTable(t.audit_trail),
        ),
        h(
          'aside',
          { className: 'ticket-side', 'aria-label': 'Ticket details' },
          writable ? controls(t) : details(t),
          h('h2', {}, 'Participants'),
          h(
            'ul',
            { className: 'plain' },
            t.participants.map((p) => h('li', {}, p.name ? `${p.name} ` : '', h('span', { className: p.name ? 'muted' : '' }, p.email), ' ', badge(p.role))),
          ),
          similarSection(t.id),
        ),
      ),
    );
  }

  function details(t: TicketDetail): HTMLElement {
    return h(
      'dl',
      { className: 'card' },
      h('dt', {}, 'Status'),
      h('dd', {}, t.status),
      h('dt', {}, 'Priority'),
      h('dd', {}, t.priority),
      h('dt', {}, 'Assignee'),
      h('dd', {}, t.assigned_to ?? 'unassigned'),
      h('dt', {}, 'Tags'),
      h('dd', {}, t.tags.join(', ') || '—'),
    );
  }

  function controls(t: TicketDetail): HTMLFormElement {
    const out = notice();
    const status = select(
      'status',
      STATUSES.map((s) => ({ value: s, label: s })),
      t.status,
    );
    const priority = select(
      'priority',
      PRIORITIES.map((p) => ({ value: p, label: p })),
      t.priority,
    );
    const assignee = h('input', { type: 'email', name: 'assigned_to', value: t.assigned_to ?? '', placeholder: 'unassigned', autocomplete: 'off' });
    const tags = h('input', { type: 'text', name: 'tags', value: t.tags.join(', '), autocomplete: 'off' });
    const form = h(
      'form',
      { className: 'card', 'aria-labelledby': 'controls-title' },
      h('h2', { id: 'controls-title' }, 'Status and assignment'),
      field('Status', status),
      field('Priority', priority),
      field('Assignee', assignee, 'An agent email; empty to unassign.'),
      field('Tags', tags, 'Comma-separated.'),
      out.el,
      h('button', { type: 'submit', id: 'save-ticket' }, 'Save changes'),
    );
    if (flash) {
      out.ok(flash);
      flash = null;
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const patch: Record<string, unknown> = {};
      if (status.value !== t.status) patch.status = status.value;
      if (priority.value !== t.priority) patch.priority = priority.value;
      const a = assignee.value.trim() || null;
      if (a !== t.assigned_to) patch.assigned_to = a;
      const newTags = splitList(tags.value.toLowerCase());
      if (newTags.join(',') !== t.tags.join(',')) patch.tags = newTags;
      if (!Object.keys(patch).length) {
        out.ok('Nothing to change.');
        return;
      }
      await busy(form, async () => {
        try {
          await api.patch(`/v1/tickets/${enc(id)}`, patch, etag ? { 'If-Match': etag } : undefined);
          flash = 'Saved.';
          await load('save-ticket');
        } catch (err) {
          out.error(err);
        }
      });
    });
    return form;
  }

  function replyForm(): HTMLFormElement {
    const out = notice();
    const text = h('textarea', { name: 'body', rows: 5, required: true });
    const cc = h('input', { type: 'text', name: 'cc', placeholder: 'finance@example.com, lead@example.com', autocomplete: 'off' });
    const internal = h('input', { type: 'checkbox', name: 'internal', id: 'reply-internal' });
    const submit = h('button', { type: 'submit' }, 'Send reply');
    internal.addEventListener('change', () => {
      submit.textContent = internal.checked ? 'Add internal note' : 'Send reply';
    });
    const form = h(
      'form',
      { className: 'card', 'aria-labelledby': 'reply-title' },
      h('h3', { id: 'reply-title' }, 'Reply as an agent'),
      field('Message', text),
      field('Cc', cc, 'Email addresses, comma-separated (optional).'),
      h('div', { className: 'field' }, h('label', { for: 'reply-internal' }, internal, ' Internal note: for agents only, never e-mailed to the customer')),
      out.el,
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      const ccList = splitList(cc.value);
      await busy(form, async () => {
        try {
          const visibility = internal.checked ? 'internal' : 'public';
          await api.post(`/v1/tickets/${enc(id)}/messages`, { author_type: 'agent', body: text.value, visibility, ...(ccList.length ? { cc: ccList } : {}) });
          announce(visibility === 'internal' ? 'Internal note added.' : 'Reply sent.');
          await load('conversation');
        } catch (err) {
          out.error(err);
        }
      });
    });
    return form;
  }

  await load();
}

function conversation(messages: Message[]): HTMLElement {
  if (!messages.length) return empty('No messages yet.');
  return h(
    'ol',
    { className: 'conversation', 'aria-label': 'Messages, oldest first' },
    messages.map((m) =>
      h(
        'li',
        { className: `message ${m.author_type}${m.visibility === 'internal' ? ' internal' : ''}` },
        h(
          'article',
          { 'aria-label': m.visibility === 'internal' ? 'Internal note' : `${m.author_type === 'agent' ? 'Agent' : 'Customer'} message` },
          h(
            'header',
            {},
            h('strong', {}, m.author?.name || m.author?.email || m.author_type),
            m.author?.name && m.author.email ? h('span', { className: 'muted' }, ` <${m.author.email}>`) : '',
            ' ',
            badge(m.author_type),
            m.visibility === 'internal' ? [' ', badge('internal note', 'warn')] : '',
            m.delivery ? [' ', deliveryBadge(m.delivery)] : '',
            ' ',
            timeEl(m.created_at),
          ),
          m.delivery?.last_error
            ? h('p', { className: 'muted small' }, `Mail ${m.delivery.status === 'failed' ? 'failed' : 'not sent yet'}: ${m.delivery.last_error}`)
            : '',
          m.cc.length ? h('p', { className: 'cc muted small' }, `Cc: ${m.cc.join(', ')}`) : '',
          h('div', { className: 'body' }, m.body),
          m.attachments.length
            ? h(
                'ul',
                { className: 'attachments', 'aria-label': 'Attachments' },
                m.attachments.map((a) =>
                  h(
                    'li',
                    {},
                    a.download_url
                      ? h('a', { href: a.download_url, download: a.file_name, rel: 'noopener' }, `Download ${a.file_name}`)
                      : h('span', {}, `${a.file_name} (not available)`),
                    h('span', { className: 'muted small' }, ` ${a.content_type}, ${formatSize(a.size)}`),
                  ),
                ),
              )
            : '',
        ),
      ),
    ),
  );
}

/**
 * "How was this answered before?": the tickets of the same brand most like this one
 * (GET /v1/tickets/{id}/similar), loaded after the ticket so they never delay it.
 */
function similarSection(ticketId: string): HTMLElement {
  const list = h('div', { id: 'similar-tickets' }, loading('Looking for similar tickets…'));
  const section = h('section', { 'aria-labelledby': 'similar-title' }, h('h2', { id: 'similar-title' }, 'How was this answered before?'), list);
  void (async () => {
    try {
      const { data } = await api.get<{ data: SimilarTicket[] }>(`/v1/tickets/${enc(ticketId)}/similar`, { limit: 5 });
      if (!data.length) {
        list.replaceChildren(empty('No similar tickets in this brand.'));
        return;
      }
      list.replaceChildren(
        h(
          'ol',
          { className: 'plain similar', 'aria-label': 'Similar tickets, most similar first' },
          data.map((s) =>
            h(
              'li',
              {},
              h('a', { href: href(`/tickets/${s.ticket.id}`) }, s.ticket.subject),
              ' ',
              badge(s.status, `s-${s.status}`),
              ' ',
              h('span', { className: 'muted small score', title: 'Similarity score in [0, 1]' }, `score ${s.score.toFixed(2)}`),
            ),
          ),
        ),
      );
    } catch (err) {
      list.replaceChildren(errorBox(err));
    }
  })();
  return section;
}

/** How the e-mail of an agent's reply to the customer fares. */
function deliveryBadge(d: NonNullable<Message['delivery']>): HTMLElement {
  const kind = d.status === 'sent' ? 'good' : d.status === 'failed' ? 'bad' : 'warn';
  const attempts = d.attempts === 1 ? '1 attempt' : `${d.attempts} attempts`;
  return badge(`e-mail ${d.status}${d.attempts ? ` (${attempts})` : ''}`, kind);
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '[]';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function auditTable(entries: AuditEntry[]): HTMLElement {
  if (!entries.length) return empty('No audit entries.');
  return tableWrap(
    'Audit trail table',
    table(
      ['When', 'Action', 'By', 'Changes'],
      entries.map((e) => [
        timeEl(e.created_at),
        h('code', {}, e.action),
        e.actor.name,
        Object.keys(e.changes).length
          ? h(
              'ul',
              { className: 'plain small' },
              Object.entries(e.changes).map(([k, c]) => h('li', {}, h('strong', {}, k), `: ${describeValue(c.from)} → ${describeValue(c.to)}`)),
            )
          : '—',
      ]),
      'Audit trail',
    ),
  );
}
