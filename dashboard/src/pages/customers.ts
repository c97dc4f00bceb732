import { ApiError, api, enc, withQuery } from '../api.js';
import { field, h, relTimeEl, select } from '../dom.js';
import { href, navigate } from '../router.js';
import { brandName, can, session } from '../session.js';
import type { Customer, EraseOutcome, Page, Ticket } from '../types.js';
import { badge, busy, errorBox, loading, notice, pagedList, table, tableWrap } from '../ui.js';

/** The search box and brand filter survive going to a customer and back within the tab. */
let remembered = { q: '', brand_id: '' };
/** Shown on the customers list after an erasure took the customer page away. */
let listFlash: string | null = null;

export function customersPage(main: HTMLElement): void {
  const brands = session()?.brands ?? [];
  const q = h('input', { type: 'search', name: 'q', value: remembered.q, placeholder: 'name, e-mail or external id', autocomplete: 'off' });
  const brand = select('brand_id', [{ value: '', label: 'All brands' }, ...brands.map((b) => ({ value: b.id, label: b.name }))], remembered.brand_id);
  const form = h(
    'form',
    { className: 'card filters', role: 'search', 'aria-label': 'Search customers' },
    h(
      'div',
      { className: 'searchrow' },
      field('Search customers', q, 'Any part of the name, e-mail address or external id.'),
      field('Brand', brand),
      h('button', { type: 'submit' }, 'Search'),
    ),
  );
  const flash = notice();
  if (listFlash) {
    flash.ok(listFlash);
    listFlash = null;
  }
  const results = h('div');
  main.append(h('h1', {}, 'Customers'), flash.el, form, results);

  function run(): void {
    remembered = { q: q.value.trim(), brand_id: brand.value };
    const list = pagedList<Customer>({
      label: 'Customers',
      emptyText: remembered.q ? 'No customer matches.' : 'No customers yet: they appear with their first ticket.',
      load: (after) => api.get<Page<Customer>>('/v1/customers', { q: remembered.q, brand_id: remembered.brand_id, limit: 25, after }),
      render: (customers) =>
        tableWrap(
          'Customers table',
          table(
            ['Customer', 'Brand', 'Tickets', 'Not resolved', 'Last activity'],
            customers.map((c) => [
              h(
                'div',
                {},
                h('a', { href: href(`/customers/${enc(c.id)}`), className: 'subject' }, c.name ?? c.email),
                c.name ? h('div', { className: 'muted small' }, c.email) : '',
              ),
              brandName(c.brand_id),
              String(c.ticket_count),
              String(c.open_ticket_count),
              relTimeEl(c.last_activity_at),
            ]),
            'Customers',
          ),
        ),
    });
    results.replaceChildren(list.el);
    void list.reload();
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  run();
}

export async function customerPage(main: HTMLElement, params: Record<string, string>): Promise<void> {
  const id = params.id!;
  const body = h('div', {}, loading('Loading the customer…'));
  main.append(h('p', {}, h('a', { href: href('/customers') }, '← Customers')), body);
  let c: Customer;
  try {
    c = await api.get<Customer>(`/v1/customers/${enc(id)}`);
  } catch (err) {
    body.replaceChildren(h('h1', {}, 'Customer'), errorBox(err));
    return;
  }
  document.title = `${c.name ?? c.email} · NexusCore`;
  const out = notice();
  const tickets = pagedList<Ticket>({
    label: 'Tickets of this customer',
    emptyText: 'No tickets.',
    load: (after) => api.get<Page<Ticket>>(`/v1/customers/${enc(id)}/tickets`, { limit: 25, after }),
    render: (list) =>
      tableWrap(
        'Tickets of this customer table',
        table(
          ['Subject', 'Status', 'Priority', 'Assignee', 'Last activity', 'Created'],
          list.map((t) => [
            h('a', { href: href(`/tickets/${enc(t.id)}`), className: 'subject' }, t.subject),
            badge(t.status, `s-${t.status}`),
            badge(t.priority, `p-${t.priority}`),
            t.assigned_to ?? h('span', { className: 'muted' }, 'unassigned'),
            relTimeEl(t.updated_at),
            relTimeEl(t.created_at),
          ]),
          'Tickets of this customer',
        ),
      ),
  });
  const erase = can('admin') ? h('button', { type: 'button', className: 'danger', id: 'erase-customer' }, 'Erase this customer…') : null;
  body.replaceChildren(
    h('h1', {}, c.name ?? c.email),
    h(
      'dl',
      { className: 'card facts' },
      h('dt', {}, 'E-mail'),
      h('dd', {}, c.email),
      h('dt', {}, 'Brand'),
      h('dd', {}, brandName(c.brand_id)),
      h('dt', {}, 'External id'),
      h('dd', { 'data-field': 'external_id' }, c.external_id ?? '—'),
      h('dt', {}, 'Notes'),
      h('dd', { className: 'notes', 'data-field': 'notes' }, c.notes ?? '—'),
      h('dt', {}, 'Tickets'),
      h('dd', {}, `${c.ticket_count} (${c.open_ticket_count} not resolved)`),
      h('dt', {}, 'Last activity'),
      h('dd', {}, relTimeEl(c.last_activity_at)),
      h('dt', {}, 'Customer since'),
      h('dd', {}, relTimeEl(c.created_at)),
    ),
    can('tickets:write') ? editForm(c) : '',
    h('h2', {}, 'Tickets'),
    tickets.el,
    erase
      ? h(
          'section',
          { className: 'card danger-zone', 'aria-labelledby': 'erase-title' },
          h('h2', { id: 'erase-title' }, 'Erase'),
          h(
            'p',
            {},
            'Removes this person everywhere: name and address redacted in tickets, messages and the audit trail, their attachments deleted. It cannot be undone. You see what would be erased first.',
          ),
          out.el,
          erase,
        )
      : '',
  );
  void tickets.reload();
  erase?.addEventListener('click', async () => {
    out.clear();
    await busy(erase.parentElement!, async () => {
      let preview: EraseOutcome;
      try {
        preview = await api.post<EraseOutcome>(withQuery(`/v1/customers/${enc(id)}/erase`, { dry_run: 'true' }), {});
      } catch (err) {
        out.error(
          err instanceof ApiError && err.problem.code === 'route_not_found'
            ? new ApiError({ ...err.problem, detail: 'Erasure is not available on this server (POST /v1/customers/{id}/erase answered 404).' })
            : err,
        );
        return;
      }
      if (!(await eraseDialog(c, preview))) return;
      try {
        const done = await api.post<EraseOutcome>(`/v1/customers/${enc(id)}/erase`, {});
        listFlash = `Customer erased: ${describeCounts(done.counts)}.`;
        navigate('/customers');
      } catch (err) {
        out.error(err);
      }
    });
  });
}

/** Name, external id and notes: what an agent may correct about a person (PATCH /v1/customers/{id}). */
function editForm(c: Customer): HTMLFormElement {
  const out = notice();
  const name = h('input', { type: 'text', name: 'name', value: c.name ?? '', autocomplete: 'off', maxlength: 200 });
  const external = h('input', { type: 'text', name: 'external_id', value: c.external_id ?? '', autocomplete: 'off', spellcheck: 'false' });
  const notes = h('textarea', { name: 'notes', rows: 3 }, c.notes ?? '');
  const form = h(
    'form',
    { className: 'card', 'aria-labelledby': 'edit-customer-title' },
    h('h2', { id: 'edit-customer-title' }, 'Edit details'),
    h('div', { className: 'grid2' }, field('Name', name), field('External id', external, 'Your id for this person (CRM, shop).')),
    field('Notes', notes, 'Seen by agents only.'),
    out.el,
    h('button', { type: 'submit', className: 'secondary' }, 'Save details'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(form, async () => {
      try {
        const saved = await api.patch<Customer>(`/v1/customers/${enc(c.id)}`, {
          name: name.value.trim() || null,
          external_id: external.value.trim() || null,
          notes: notes.value.trim() || null,
        });
        Object.assign(c, saved);
        for (const key of ['external_id', 'notes'] as const) {
          const dd = document.querySelector(`dd[data-field="${key}"]`);
          if (dd) dd.textContent = saved[key] ?? '—';
        }
        out.ok('Details saved.');
      } catch (err) {
        out.error(err);
      }
    });
  });
  return form;
}

function describeCounts(counts: Record<string, number> | undefined): string {
  const entries = Object.entries(counts ?? {});
  return entries.length ? entries.map(([k, n]) => `${n} ${k.replaceAll('_', ' ')}`).join(', ') : 'nothing else to remove';
}

/**
 * The confirmation of an erasure: what the dry run counted, and the customer's address typed again,
 * since nothing brings the data back.
 */
function eraseDialog(c: Customer, preview: EraseOutcome): Promise<boolean> {
  return new Promise((resolve) => {
    const typed = h('input', { type: 'text', name: 'confirm_email', autocomplete: 'off', spellcheck: 'false' });
    const ok = h('button', { type: 'submit', className: 'danger', disabled: true }, 'Erase for good');
    const cancel = h('button', { type: 'button', className: 'secondary' }, 'Cancel');
    const counts = Object.entries(preview.counts ?? {});
    const form = h(
      'form',
      { method: 'dialog' },
      h('h2', { id: 'erase-dialog-title' }, `Erase ${c.name ?? c.email}?`),
      h('p', {}, 'The dry run found:'),
      counts.length
        ? h(
            'dl',
            { className: 'facts erase-counts' },
            counts.flatMap(([k, n]) => [h('dt', {}, k.replaceAll('_', ' ')), h('dd', { 'data-count': k }, String(n))]),
          )
        : h('p', { className: 'muted' }, 'No counts were returned.'),
      h('p', {}, 'This cannot be undone.'),
      field(`Type ${c.email} to confirm`, typed),
      h('div', { className: 'actions' }, cancel, ok),
    );
    const dialog = h('dialog', { 'aria-labelledby': 'erase-dialog-title', className: 'erase-dialog' }, form);
    const opener = document.activeElement as HTMLElement | null;
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(answer);
    };
    typed.addEventListener('input', () => {
      ok.disabled = typed.value.trim().toLowerCase() !== c.email;
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!ok.disabled) done(true);
    });
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    typed.focus();
  });
}
