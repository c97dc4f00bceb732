import { ApiError, api, describeError, enc, request } from '../api.js';
import { announce, field, h, nextId, relTimeEl, select, timeEl } from '../dom.js';
import { activeAgents, agentLabel } from '../people.js';
import { href, navigate } from '../router.js';
import { brandName, can } from '../session.js';
import { setShortcuts } from '../shortcuts.js';
import {
  type Agent,
  type Attachment,
  type AuditEntry,
  type Customer,
  type Message,
  type Page,
  PRIORITIES,
  type Queue,
  STATUSES,
  type SimilarTicket,
  type Ticket,
  type TicketDetail,
} from '../types.js';
import { badge, busy, confirmDialog, empty, errorBox, loading, notice, table, tableWrap } from '../ui.js';

/** Set by the inbox's r and n shortcuts: the ticket page opens with the composer ready in that mode. */
let composeIntent: 'reply' | 'note' | null = null;
export const setComposeIntent = (mode: 'reply' | 'note'): void => {
  composeIntent = mode;
};
/** A message for the next ticket page shown (after a merge, on the target). */
let arrivalFlash: string | null = null;

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
  let flash: string | null = arrivalFlash;
  arrivalFlash = null;
  let ticket: TicketDetail | null = null;
  let composer: ReturnType<typeof replyForm> | null = null;

  async function load(focusAfter?: string): Promise<void> {
    try {
      const res = await request<TicketDetail>('GET', `/v1/tickets/${enc(id)}`);
      etag = res.headers.get('ETag');
      ticket = res.data;
      const [agents, queues] = await Promise.all([
        activeAgents(res.data.brand_id).catch(() => [] as Agent[]),
        api
          .get<{ data: Queue[] }>('/v1/queues', { brand_id: res.data.brand_id })
          .then((q) => q.data)
          .catch(() => [] as Queue[]),
      ]);
      render(res.data, agents, queues);
      if (focusAfter) document.getElementById(focusAfter)?.focus();
    } catch (err) {
      body.replaceChildren(h('h1', {}, 'Ticket'), errorBox(err));
    }
  }

  function render(t: TicketDetail, agents: Agent[], queues: Queue[]): void {
    document.title = `${t.subject} · NexusCore`;
    const writable = can('tickets:write');
    const banner = notice();
    if (flash) {
      banner.ok(flash);
      flash = null;
    }
    composer = writable ? replyForm(t) : null;
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
        relTimeEl(t.created_at),
        h('span', { className: 'muted' }, ' · last activity '),
        relTimeEl(t.updated_at),
        t.queue ? h('span', { className: 'muted' }, ` · queue ${t.queue.name}${t.queue.position ? `, position ${t.queue.position}` : ''}`) : '',
        t.snoozed_until ? h('span', { className: 'muted' }, ' · snoozed until ', timeEl(t.snoozed_until)) : '',
      ),
      t.merged_into
        ? h(
            'p',
            { className: 'notice ok', role: 'note' },
            'This ticket was merged into ',
            h('a', { href: href(`/tickets/${enc(t.merged_into)}`) }, t.merged_into),
            '.',
          )
        : '',
      banner.el,
      h(
        'div',
        { className: 'ticket-layout' },
        h(
          'div',
          { className: 'ticket-main' },
          h('h2', { id: 'conversation', tabindex: -1 }, 'Conversation'),
          conversation(t.messages),
          composer?.form ?? h('p', { className: 'muted' }, 'This token can read but not reply (it lacks tickets:write).'),
          h('h2', {}, 'Audit trail'),
          auditTable(t.audit_trail, { agents, queues, messages: t.messages }),
        ),
        h(
          'aside',
          { className: 'ticket-side', 'aria-label': 'Ticket details' },
          writable ? controls(t, agents) : details(t, agents),
          customerSection(t),
          h('h2', {}, 'Participants'),
          h(
            'ul',
            { className: 'plain' },
            t.participants.map((p) => h('li', {}, p.name ? `${p.name} ` : '', h('span', { className: p.name ? 'muted' : '' }, p.email), ' ', badge(p.role))),
          ),
          writable && !t.merged_into ? mergeForm(t) : '',
          similarSection(t.id),
        ),
      ),
    );
    if (composeIntent && composer) {
      composer.start(composeIntent);
      composeIntent = null;
    }
  }

  function details(t: TicketDetail, agents: Agent[]): HTMLElement {
    return h(
      'dl',
      { className: 'card' },
      h('dt', {}, 'Status'),
      h('dd', {}, t.status),
      h('dt', {}, 'Priority'),
      h('dd', {}, t.priority),
      h('dt', {}, 'Assignee'),
      h('dd', {}, t.assigned_to ? agentLabel(t.assigned_to, agents) : 'unassigned'),
      h('dt', {}, 'Tags'),
      h('dd', {}, t.tags.join(', ') || '—'),
    );
  }

  /**
   * The assignee is picked from the brand's active agents. A brand with no agents takes any address
   * (docs/api.md, "Assigning"), so there it stays a free e-mail field.
   */
  function assigneeControl(t: TicketDetail, agents: Agent[]): { control: HTMLInputElement | HTMLSelectElement; hint: string; value(): string | null } {
    if (!agents.length) {
      const input = h('input', { type: 'email', name: 'assigned_to', value: t.assigned_to ?? '', placeholder: 'unassigned', autocomplete: 'off' });
      return { control: input, hint: 'This brand has no agents yet: any e-mail address; empty to unassign.', value: () => input.value.trim() || null };
    }
    const options = [{ value: '', label: 'Unassigned' }, ...agents.map((a) => ({ value: a.email, label: `${a.name} <${a.email}>` }))];
    if (t.assigned_to && !agents.some((a) => a.email === t.assigned_to))
      options.push({ value: t.assigned_to, label: `${t.assigned_to} (not an active agent)` });
    const sel = select('assigned_to', options, t.assigned_to ?? '');
    return { control: sel, hint: `Active agents of ${brandName(t.brand_id)}.`, value: () => sel.value || null };
  }

  function controls(t: TicketDetail, agents: Agent[]): HTMLFormElement {
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
    const assignee = assigneeControl(t, agents);
    const tags = h('input', { type: 'text', name: 'tags', value: t.tags.join(', '), autocomplete: 'off' });
    const form = h(
      'form',
      { className: 'card', 'aria-labelledby': 'controls-title' },
      h('h2', { id: 'controls-title' }, 'Status and assignment'),
      field('Status', status),
      field('Priority', priority),
      field('Assignee', assignee.control, assignee.hint),
      field('Tags', tags, 'Comma-separated.'),
      out.el,
      h('button', { type: 'submit', id: 'save-ticket' }, 'Save changes'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const patch: Record<string, unknown> = {};
      if (status.value !== t.status) patch.status = status.value;
      if (priority.value !== t.priority) patch.priority = priority.value;
      const a = assignee.value();
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

  function replyForm(t: TicketDetail) {
    const out = notice();
    const text = h('textarea', { name: 'body', rows: 5, required: true, id: 'compose-body' });
    const cc = h('input', { type: 'text', name: 'cc', placeholder: 'finance@example.com, lead@example.com', autocomplete: 'off' });
    const modeReply = h('input', { type: 'radio', name: 'mode', value: 'reply', id: 'mode-reply', checked: true });
    const modeNote = h('input', { type: 'radio', name: 'mode', value: 'note', id: 'mode-note' });
    const submit = h('button', { type: 'submit' }, 'Send reply');
    const ccField = field('Cc', cc, 'Email addresses, comma-separated (optional).');
    const files = uploader(t.brand_id);
    const form = h(
      'form',
      { className: 'card composer', 'aria-labelledby': 'reply-title', 'data-mode': 'reply' },
      h('h3', { id: 'reply-title' }, 'Reply or internal note'),
      h(
        'fieldset',
        { className: 'checks toggle' },
        h('legend', {}, 'Write'),
        h('label', { className: 'check', for: 'mode-reply' }, modeReply, ' Reply to the customer'),
        h('label', { className: 'check', for: 'mode-note' }, modeNote, ' Internal note (agents only, never e-mailed)'),
      ),
      field('Message', text),
      ccField,
      files.el,
      out.el,
      submit,
    );
    const sync = () => {
      const note = modeNote.checked;
      form.dataset.mode = note ? 'note' : 'reply';
      submit.textContent = note ? 'Add internal note' : 'Send reply';
      ccField.hidden = note;
    };
    modeReply.addEventListener('change', sync);
    modeNote.addEventListener('change', sync);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      if (files.busy()) {
        out.error(new Error('Wait for the uploads to finish, or remove them.'));
        return;
      }
      const internal = modeNote.checked;
      const ccList = internal ? [] : splitList(cc.value);
      const attachments = files.ids();
      await busy(form, async () => {
        try {
          await api.post(`/v1/tickets/${enc(id)}/messages`, {
            author_type: 'agent',
            body: text.value,
            visibility: internal ? 'internal' : 'public',
            ...(ccList.length ? { cc: ccList } : {}),
            ...(attachments.length ? { attachments } : {}),
          });
          announce(internal ? 'Internal note added.' : 'Reply sent.');
          await load('conversation');
        } catch (err) {
          out.error(err);
        }
      });
    });
    return {
      form,
      start(mode: 'reply' | 'note') {
        (mode === 'note' ? modeNote : modeReply).checked = true;
        sync();
        text.focus();
      },
    };
  }

  function mergeForm(t: TicketDetail): HTMLFormElement {
    const out = notice();
    const into = h('input', {
      type: 'text',
      name: 'into',
      required: true,
      pattern: 'tick_[A-Za-z0-9_]+',
      placeholder: 'tick_…',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    const form = h(
      'form',
      { className: 'card', 'aria-labelledby': 'merge-title' },
      h('h2', { id: 'merge-title' }, 'Merge'),
      field('Merge into ticket', into, 'The id of a ticket of the same brand; this conversation moves there and this ticket is resolved.'),
      out.el,
      h('button', { type: 'submit', className: 'secondary' }, 'Merge…'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const target = into.value.trim();
      const sure = await confirmDialog(
        `Merge “${t.subject}” into ${target}? Its messages, participants and attachments move there; this cannot be undone.`,
        'Merge tickets',
      );
      if (!sure) return;
      await busy(form, async () => {
        try {
          await api.post(`/v1/tickets/${enc(id)}/merge`, { into: target });
          arrivalFlash = `Merged “${t.subject}” (${t.id}) into this ticket.`;
          navigate(`/tickets/${enc(target)}`);
        } catch (err) {
          out.error(err);
        }
      });
    });
    return form;
  }

  async function resolve(): Promise<void> {
    if (!ticket || !can('tickets:write') || ticket.status === 'resolved') return;
    try {
      await api.patch(`/v1/tickets/${enc(id)}`, { status: 'resolved' }, etag ? { 'If-Match': etag } : undefined);
      flash = 'Resolved.';
      await load();
    } catch (err) {
      announce(`Not resolved: ${describeError(err)}`);
      body.prepend(errorBox(err));
    }
  }

  setShortcuts([
    { key: 'r', label: 'reply', run: () => composer?.start('reply') },
    { key: 'n', label: 'note', run: () => composer?.start('note') },
    { key: 'e', label: 'resolve', run: () => void resolve() },
  ]);

  await load();
}

/**
 * Files for the next message: each is uploaded as soon as it is chosen (POST /v1/attachments for an
 * upload URL, then PUT with a progress bar), and its id goes with the message when it is sent.
 */
function uploader(brandId: string) {
  const input = h('input', { type: 'file', name: 'files', multiple: true, id: nextId('files') });
  const list = h('ul', { className: 'plain uploads', 'aria-label': 'Files to attach' });
  const ready = new Map<HTMLElement, string>();
  const running = new Set<HTMLElement>();
  const el = h('div', { className: 'field' }, h('label', { for: input.id }, 'Attach files'), input, list);

  input.addEventListener('change', () => {
    for (const file of input.files ? [...input.files] : []) void upload(file);
    input.value = '';
  });

  async function upload(file: File): Promise<void> {
    const progress = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
    const state = h('span', { className: 'muted small upload-state' }, 'starting…');
    const remove = h('button', { type: 'button', className: 'link small', 'aria-label': `Remove ${file.name}` }, 'Remove');
    const item = h(
      'li',
      { className: 'upload', 'data-file': file.name },
      h('span', { className: 'file-name' }, file.name),
      ' ',
      progress,
      ' ',
      state,
      ' ',
      remove,
    );
    let xhr: XMLHttpRequest | null = null;
    remove.addEventListener('click', () => {
      xhr?.abort();
      running.delete(item);
      ready.delete(item);
      item.remove();
    });
    list.appendChild(item);
    running.add(item);
    try {
      const att = await api.post<Attachment>('/v1/attachments', {
        file_name: file.name,
        content_type: file.type || 'application/octet-stream',
        size: file.size,
        brand_id: brandId,
      });
      // The dashboard is served by the API server: send to the upload path on this origin, which the
      // page's Content-Security-Policy (connect-src 'self') allows whatever NEXUS_PUBLIC_URL says.
      const target = new URL(att.upload_url, location.href);
      xhr = new XMLHttpRequest();
      const done = new Promise<void>((resolve, reject) => {
        const req = xhr!;
        req.upload.addEventListener('progress', (e) => {
          if (!e.lengthComputable) return;
          const pct = Math.round((e.loaded / e.total) * 100);
          progress.value = pct;
          state.textContent = `${pct} %`;
        });
        req.addEventListener('load', () => {
          if (req.status >= 200 && req.status < 300) resolve();
          else {
            let detail = `The upload answered ${req.status}`;
            try {
              detail = (JSON.parse(req.responseText) as { detail?: string }).detail ?? detail;
            } catch {
              // not a problem document
            }
            reject(new ApiError({ status: req.status, detail }));
          }
        });
        req.addEventListener('error', () => reject(new ApiError({ status: 0, detail: 'The upload was interrupted.' })));
        req.addEventListener('abort', () => reject(new ApiError({ status: 0, detail: 'Upload cancelled.' })));
      });
      xhr.open('PUT', target.pathname + target.search);
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      xhr.send(file);
      await done;
      progress.value = 100;
      state.textContent = 'uploaded';
      item.dataset.state = 'ready';
      ready.set(item, att.id);
      announce(`${file.name} uploaded.`);
    } catch (err) {
      if (!item.isConnected) return;
      item.dataset.state = 'failed';
      state.textContent = `failed: ${describeError(err)}`;
      state.setAttribute('role', 'alert');
    } finally {
      running.delete(item);
    }
  }

  return {
    el,
    busy: () => running.size > 0,
    ids: () => [...ready.values()],
  };
}

/** The customer beside the conversation: who they are, and their other tickets in this brand. */
function customerSection(t: TicketDetail): HTMLElement {
  const content = h('div', {}, loading('Loading the customer…'));
  const section = h(
    'section',
    { className: 'card customer-card', 'aria-labelledby': 'customer-title' },
    h('h2', { id: 'customer-title' }, 'Customer'),
    content,
  );
  void (async () => {
    try {
      const found = await api.get<Page<Customer>>('/v1/customers', { email: t.customer.email, brand_id: t.brand_id, limit: 1 });
      const c = found.data[0];
      if (!c) {
        content.replaceChildren(h('p', {}, t.customer.name ?? '', ' ', h('span', { className: 'muted' }, t.customer.email)));
        return;
      }
      const tickets = await api.get<Page<Ticket>>(`/v1/customers/${enc(c.id)}/tickets`, { limit: 10 });
      const others = tickets.data.filter((x) => x.id !== t.id);
      content.replaceChildren(
        h(
          'p',
          {},
          h('a', { href: href(`/customers/${enc(c.id)}`) }, c.name ?? c.email),
          c.name ? h('span', { className: 'muted small' }, h('br'), c.email) : '',
        ),
        h('p', { className: 'muted small' }, `${c.ticket_count} ticket${c.ticket_count === 1 ? '' : 's'}, ${c.open_ticket_count} not resolved`),
        h('h3', { id: 'other-tickets-title' }, 'Other tickets'),
        others.length
          ? h(
              'ul',
              { className: 'plain other-tickets', 'aria-labelledby': 'other-tickets-title' },
              others.map((x) =>
                h(
                  'li',
                  {},
                  h('a', { href: href(`/tickets/${enc(x.id)}`) }, x.subject),
                  ' ',
                  badge(x.status, `s-${x.status}`),
                  ' ',
                  h('span', { className: 'muted small' }, relTimeEl(x.updated_at)),
                ),
              ),
            )
          : empty('No other tickets.'),
      );
    } catch (err) {
      content.replaceChildren(errorBox(err));
    }
  })();
  return section;
}

function conversation(messages: Message[]): HTMLElement {
  if (!messages.length) return empty('No messages yet.');
  return h(
    'ol',
    { className: 'conversation', 'aria-label': 'Messages, oldest first' },
    messages.map((m) =>
      h(
        'li',
        { className: `message ${m.author_type}${m.visibility === 'internal' ? ' internal' : ''}`, id: m.id },
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
            relTimeEl(m.created_at),
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

const FIELD_NAMES: Record<string, string> = {
  assigned_to: 'assignee',
  queue_id: 'queue',
  merged_into: 'merged into',
  merged_from: 'merged from',
  message_id: 'message',
  snoozed_until: 'snoozed until',
  first_response_at: 'first response',
};

interface Names {
  agents: Agent[];
  queues: Queue[];
  messages: Message[];
}

/** A changed value in words: agents and queues by name, messages by author, tickets as links, the rest as text. */
function auditValue(key: string, v: unknown, names: Names): Node | string {
  if (v === null || v === undefined) return '∅';
  if (key === 'assigned_to' && typeof v === 'string') return h('span', { title: v }, agentLabel(v, names.agents));
  if (key === 'queue_id' && typeof v === 'string') {
    const q = names.queues.find((x) => x.id === v);
    return q ? h('span', { title: v }, q.name) : v;
  }
  if (key === 'message_id' && typeof v === 'string') {
    const m = names.messages.find((x) => x.id === v);
    if (!m) return v;
    const who = m.author?.name || m.author?.email || m.author_type;
    return h('a', { href: `#${v}`, title: v }, `${m.visibility === 'internal' ? 'note' : 'message'} by ${who}`);
  }
  if ((key === 'merged_into' || key === 'merged_from') && typeof v === 'string') return h('a', { href: href(`/tickets/${enc(v)}`) }, v);
  return describeValue(v);
}

function auditTable(entries: AuditEntry[], names: Names): HTMLElement {
  if (!entries.length) return empty('No audit entries.');
  const t = table(
    ['When', 'Action', 'By', 'Changes'],
    entries.map((e) => [
      relTimeEl(e.created_at),
      h('code', { className: 'action' }, e.action),
      h('span', { title: e.actor.id ?? e.actor.type }, e.actor.name),
      Object.keys(e.changes).length
        ? h(
            'ul',
            { className: 'plain small changes' },
            Object.entries(e.changes).map(([k, c]) =>
              h(
                'li',
                {},
                h('strong', {}, FIELD_NAMES[k] ?? k.replaceAll('_', ' ')),
                ': ',
                h('span', { className: 'value' }, auditValue(k, c.from, names)),
                ' → ',
                h('span', { className: 'value' }, auditValue(k, c.to, names)),
              ),
            ),
          )
        : '—',
    ]),
    'Audit trail',
  );
  t.classList.add('audit');
  return tableWrap('Audit trail table', t);
}
