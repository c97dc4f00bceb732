import { api, enc } from '../api.js';
import { checkboxes, checkedValues, field, h, select, timeEl } from '../dom.js';
import { href } from '../router.js';
import { brandName, can, loadSession, session, setSession } from '../session.js';
import { type Brand, ORIGINS, PRIORITIES, type Page, type Queue, type QueuedTicket } from '../types.js';
import { badge, busy, empty, errorBox, loading, notice, pagedList, table, tableWrap } from '../ui.js';

const splitList = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function describeMatch(q: Queue): string {
  if (q.is_default) return 'everything no routing queue takes';
  const m = q.match ?? {};
  const parts = [
    m.tags && `tags: ${m.tags.join(', ')}`,
    m.priority && `priority: ${m.priority.join(', ')}`,
    m.origin && `origin: ${m.origin.join(', ')}`,
  ].filter(Boolean);
  return parts.join('; ') || 'any ticket';
}

export function brandsPage(main: HTMLElement): void {
  const listEl = h('div', { className: 'stack' });
  main.append(h('h1', {}, 'Brands and queues'));
  if (can('admin')) main.append(h('div', { className: 'grid2' }, brandForm(), queueForm()));
  main.append(h('h2', {}, 'Brands'), listEl);

  async function refresh(): Promise<void> {
    listEl.replaceChildren(loading());
    try {
      const brands = (await api.get<{ data: Brand[] }>('/v1/brands')).data;
      if (!brands.length) {
        listEl.replaceChildren(empty(can('admin') ? 'No brands yet: create the first one above.' : 'This token sees no brands.'));
        return;
      }
      const queues = await Promise.all(brands.map((b) => api.get<{ data: Queue[] }>('/v1/queues', { brand_id: b.id }).then((r) => r.data)));
      listEl.replaceChildren(
        ...brands.map((b, i) =>
          h(
            'section',
            { className: 'card', 'aria-labelledby': `brand-${b.id}` },
            h('h3', { id: `brand-${b.id}` }, b.name, ' ', h('code', { className: 'muted' }, b.id)),
            addressesForm(b),
            queues[i]!.length
              ? tableWrap(
                  `Queues of ${b.name}`,
                  table(
                    ['Queue', 'Order', 'Takes', 'Tickets'],
                    queues[i]!.map((q) => [
                      h('span', {}, q.name, ' ', q.is_default ? badge('default') : ''),
                      String(q.order),
                      describeMatch(q),
                      h('a', { href: href(`/queues/${enc(q.id)}`), 'aria-label': `Waiting tickets: ${b.name}, ${q.name}` }, 'Waiting tickets'),
                    ]),
                    `Queues of ${b.name}`,
                  ),
                )
              : empty('No queues.'),
          ),
        ),
      );
    } catch (err) {
      listEl.replaceChildren(errorBox(err));
    }
  }

  function brandForm(): HTMLFormElement {
    const out = notice();
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200 });
    const id = h('input', { type: 'text', name: 'id', pattern: 'brand_[A-Za-z0-9_]+', placeholder: 'brand_123' });
    const form = h(
      'form',
      { className: 'card', 'aria-labelledby': 'new-brand' },
      h('h2', { id: 'new-brand' }, 'Create a brand'),
      field('Name', name),
      field('Id (optional)', id, 'brand_ followed by letters, digits or _; generated when empty.'),
      out.el,
      h('button', { type: 'submit' }, 'Create brand'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      out.clear();
      await busy(form, async () => {
        try {
          const brand = await api.post<Brand>('/v1/brands', { name: name.value, ...(id.value.trim() ? { id: id.value.trim() } : {}) });
          form.reset();
          out.ok(`Brand ${brand.name} (${brand.id}) created with its default queue.`);
          setSession(await loadSession());
          await refresh();
        } catch (err) {
          out.error(err);
        }
      });
    });
    return form;
  }

  /** The brand's e-mail addresses: shown to every reader, editable by an admin. */
  function addressesForm(b: Brand): HTMLElement {
    const shown = b.email_addresses.length ? b.email_addresses.join(', ') : 'none';
    if (!can('admin')) return h('p', { className: 'small' }, h('strong', {}, 'E-mail addresses: '), shown);
    const out = notice();
    const input = h('input', {
      type: 'text',
      name: 'email_addresses',
      value: b.email_addresses.join(', '),
      placeholder: 'support@example.com, help@example.com',
    });
    const form = h(
      'form',
      { className: 'inline-form', 'aria-label': `E-mail addresses of ${b.name}` },
      field('E-mail addresses', input, 'Mail to these becomes tickets of this brand; replies go out from the first. Comma-separated.'),
      out.el,
      h('button', { type: 'submit' }, 'Save addresses'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      out.clear();
      await busy(form, async () => {
        try {
          const saved = await api.patch<Brand>(`/v1/brands/${enc(b.id)}`, { email_addresses: splitList(input.value) });
          input.value = saved.email_addresses.join(', ');
          out.ok(saved.email_addresses.length ? `Addresses saved: ${saved.email_addresses.join(', ')}.` : 'This brand has no addresses now.');
        } catch (err) {
          out.error(err);
        }
      });
    });
    return form;
  }

  function queueForm(): HTMLFormElement {
    const out = notice();
    const brandSel = select(
      'brand_id',
      (session()?.brands ?? []).map((b) => ({ value: b.id, label: b.name })),
    );
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200 });
    const tags = h('input', { type: 'text', name: 'tags', placeholder: 'vip, billing' });
    const order = h('input', { type: 'number', name: 'order', min: 1, max: 1000000 });
    const form = h(
      'form',
      { className: 'card', 'aria-labelledby': 'new-queue' },
      h('h2', { id: 'new-queue' }, 'Add a routing queue'),
      field('Brand', brandSel),
      field('Name', name),
      field('Tags (any of, comma-separated)', tags),
      checkboxes(
        'Priority (any of)',
        'match_priority',
        PRIORITIES.map((p) => ({ value: p, label: p })),
      ),
      checkboxes(
        'Origin (any of)',
        'match_origin',
        ORIGINS.map((o) => ({ value: o, label: o })),
      ),
      field('Order (optional)', order, 'Routing queues are tried in ascending order.'),
      out.el,
      h('button', { type: 'submit' }, 'Add queue'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      out.clear();
      const match: Record<string, string[]> = {};
      if (splitList(tags.value).length) match.tags = splitList(tags.value);
      const pr = checkedValues(form, 'match_priority');
      if (pr.length) match.priority = pr;
      const or = checkedValues(form, 'match_origin');
      if (or.length) match.origin = or;
      await busy(form, async () => {
        try {
          const q = await api.post<Queue>('/v1/queues', {
            brand_id: brandSel.value,
            name: name.value,
            match,
            ...(order.value ? { order: Number(order.value) } : {}),
          });
          form.reset();
          out.ok(`Queue ${q.name} added to ${brandName(q.brand_id)}.`);
          await refresh();
        } catch (err) {
          out.error(err);
        }
      });
    });
    return form;
  }

  void refresh();
}

export async function queuePage(main: HTMLElement, params: Record<string, string>): Promise<void> {
  main.append(h('p', {}, h('a', { href: href('/brands') }, '← Brands and queues')));
  const head = h('div', {}, loading());
  main.append(head);
  try {
    const q = await api.get<Queue>(`/v1/queues/${enc(params.id!)}`);
    document.title = `${q.name} · NexusCore`;
    head.replaceChildren(h('h1', {}, `Queue: ${q.name}`), h('p', { className: 'muted' }, `${brandName(q.brand_id)} · takes ${describeMatch(q)}`));
  } catch (err) {
    head.replaceChildren(h('h1', {}, 'Queue'), errorBox(err));
    return;
  }
  const list = pagedList<QueuedTicket>({
    label: 'Waiting tickets',
    emptyText: 'No ticket is waiting in this queue.',
    load: (after) => api.get<Page<QueuedTicket>>(`/v1/queues/${enc(params.id!)}/tickets`, { after, limit: 25 }),
    render: (tickets) =>
      tableWrap(
        'Waiting tickets table',
        table(
          ['#', 'Subject', 'Priority', 'Customer', 'Waiting since'],
          tickets.map((t) => [
            String(t.position ?? ''),
            h('a', { href: href(`/tickets/${enc(t.id)}`) }, t.subject),
            badge(t.priority, `p-${t.priority}`),
            t.customer.email,
            timeEl(t.created_at),
          ]),
          'Tickets waiting, in order',
        ),
      ),
  });
  main.append(h('h2', {}, 'Waiting, in order'), list.el);
  await list.reload();
}
