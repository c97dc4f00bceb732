import { api, enc } from '../api.js';
import { announce, checkboxes, checkedValues, field, h, select, timeEl } from '../dom.js';
import { href, navigate } from '../router.js';
import { brandName, session } from '../session.js';
import { type Attempt, type Delivery, EVENT_TYPES, type Page, type Webhook, type WebhookWithSecret } from '../types.js';
import { badge, busy, confirmDialog, empty, errorBox, loading, notice, pagedList, secretReveal, table, tableWrap } from '../ui.js';

const DISABLED_REASONS: Record<string, string> = {
  manual: 'disabled by hand',
  gone: 'disabled: the endpoint answered 410 Gone',
  failing: 'disabled: every attempt failed for days',
};

const stateBadge = (w: Webhook): HTMLElement =>
  w.enabled
    ? badge('enabled', 'good')
    : badge(w.disabled_reason ? (DISABLED_REASONS[w.disabled_reason] ?? `disabled: ${w.disabled_reason}`) : 'disabled', 'bad');

const deliveryBadge = (status: string): HTMLElement => badge(status, status === 'succeeded' ? 'good' : status === 'failed' ? 'bad' : 'warn');

function attemptOutcome(a: Attempt): string {
  if (a.status_code !== null) return `HTTP ${a.status_code}`;
  return a.error ?? 'no response';
}

/**
 * An endpoint's health as its delivery log tells it: the newest delivery and how many deliveries in
 * a row, newest first, have not succeeded.
 */
async function health(w: Webhook): Promise<HTMLElement> {
  const page = await api.get<Page<Delivery>>(`/v1/webhooks/${enc(w.id)}/deliveries`, { limit: 20 });
  const last = page.data[0];
  if (!last) return h('span', { className: 'muted' }, 'no deliveries yet');
  let streak = 0;
  for (const d of page.data) {
    if (d.status === 'succeeded') break;
    if (d.attempts.length === 0) continue; // not attempted yet: says nothing about health
    streak++;
  }
  const lastAttempt = last.attempts[last.attempts.length - 1];
  return h(
    'span',
    {},
    'Last: ',
    deliveryBadge(last.status),
    ' ',
    timeEl(lastAttempt?.attempted_at ?? last.created_at),
    lastAttempt ? h('span', { className: 'muted' }, ` (${attemptOutcome(lastAttempt)})`) : '',
    h('br'),
    streak
      ? h('span', { className: 'streak' }, `Failure streak: ${streak}${page.next_cursor && streak === page.data.length ? '+' : ''}`)
      : h('span', { className: 'muted' }, 'No failures in a row'),
    w.failing_since ? h('span', { className: 'streak' }, ' · failing since ', timeEl(w.failing_since)) : '',
  );
}

function eventsText(events: string[]): string {
  return events.includes('*') ? 'all events' : events.join(', ');
}

export function webhooksPage(main: HTMLElement): void {
  const out = notice();
  const reveal = h('div');
  const url = h('input', { type: 'url', name: 'url', required: true, maxlength: 2048, placeholder: 'https://example.com/nexus-events', autocomplete: 'off' });
  const description = h('input', { type: 'text', name: 'description', maxlength: 500, autocomplete: 'off' });
  const brands = session()?.brands ?? [];
  const form = h(
    'form',
    { className: 'card', 'aria-labelledby': 'new-webhook' },
    h('h2', { id: 'new-webhook' }, 'Add an endpoint'),
    field('Endpoint URL', url, 'Receives a signed POST for each event.'),
    field('Description (optional)', description),
    checkboxes('Events', 'events', [{ value: '*', label: 'All events, including future ones' }, ...EVENT_TYPES.map((e) => ({ value: e, label: e }))]),
    brands.length
      ? checkboxes(
          'Brands (none ticked: every brand this token sees)',
          'brand_ids',
          brands.map((b) => ({ value: b.id, label: `${b.name} (${b.id})` })),
        )
      : '',
    out.el,
    h('button', { type: 'submit' }, 'Add endpoint'),
  );

  const list = pagedList<Webhook>({
    label: 'Webhook endpoints',
    emptyText: 'No webhook endpoints yet.',
    load: (after) => api.get<Page<Webhook>>('/v1/webhooks', { after, limit: 25 }),
    render: (hooks) => {
      const rows = hooks.map((w) => {
        const healthCell = h('span', {}, loading('Checking…'));
        health(w)
          .then((el) => healthCell.replaceChildren(el))
          .catch((err) => healthCell.replaceChildren(errorBox(err)));
        return [
          h(
            'span',
            {},
            h('a', { href: href(`/webhooks/${enc(w.id)}`), className: 'url' }, w.url),
            w.description ? h('div', { className: 'muted small' }, w.description) : '',
          ),
          eventsText(w.events),
          w.brand_ids ? w.brand_ids.map(brandName).join(', ') : 'all',
          stateBadge(w),
          healthCell,
        ];
      });
      return tableWrap('Webhook endpoints table', table(['Endpoint', 'Events', 'Brands', 'State', 'Health'], rows, 'Webhook endpoints'));
    },
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.clear();
    reveal.replaceChildren();
    if (!form.reportValidity()) return;
    const events = checkedValues(form, 'events');
    const brandIds = checkedValues(form, 'brand_ids');
    const body: Record<string, unknown> = { url: url.value.trim(), events: events.includes('*') ? ['*'] : events };
    if (description.value.trim()) body.description = description.value.trim();
    if (brandIds.length) body.brand_ids = brandIds;
    await busy(form, async () => {
      try {
        const created = await api.post<WebhookWithSecret>('/v1/webhooks', body);
        form.reset();
        reveal.replaceChildren(
          secretReveal(
            `Signing secret of ${created.url}`,
            created.secret ?? '',
            'Copy it now: it is shown this once. Verify each request’s webhook-signature header with it.',
          ),
          h('p', {}, h('a', { href: href(`/webhooks/${enc(created.id)}`) }, 'Open this endpoint and its delivery log')),
        );
        await list.reload();
      } catch (err) {
        out.error(err);
      }
    });
  });

  main.append(h('h1', {}, 'Webhooks'), form, reveal, h('h2', {}, 'Endpoints'), list.el);
  void list.reload();
}

export async function webhookPage(main: HTMLElement, params: Record<string, string>): Promise<void> {
  const id = params.id!;
  const base = `/v1/webhooks/${enc(id)}`;
  const out = notice();
  const reveal = h('div');
  const head = h('div', {}, loading());
  main.append(h('p', {}, h('a', { href: href('/webhooks') }, '← Webhooks')), head, out.el, reveal);

  let hook: Webhook;
  try {
    hook = await api.get<Webhook>(base);
  } catch (err) {
    head.replaceChildren(h('h1', {}, 'Webhook endpoint'), errorBox(err));
    return;
  }

  const renderHead = () => {
    document.title = `${hook.url} · Webhooks · NexusCore`;
    const toggle = h('button', { type: 'button', className: 'secondary' }, hook.enabled ? 'Disable' : 'Enable');
    toggle.addEventListener('click', () =>
      act(toggle, async () => {
        hook = await api.patch<Webhook>(base, { enabled: !hook.enabled });
        out.ok(hook.enabled ? 'Endpoint enabled; paused deliveries resume.' : 'Endpoint disabled; deliveries wait until it is enabled again.');
        renderHead();
      }),
    );
    const rotate = h('button', { type: 'button', className: 'secondary' }, 'Rotate secret');
    rotate.addEventListener('click', async () => {
      if (!(await confirmDialog('Rotate the signing secret? The old one keeps signing beside the new one for 24 hours.', 'Rotate secret'))) return;
      await act(rotate, async () => {
        const rotated = await api.post<WebhookWithSecret>(`${base}/rotate-secret`);
        hook = rotated;
        reveal.replaceChildren(secretReveal('New signing secret', rotated.secret ?? '', 'Copy it now: it is shown this once.'));
        renderHead();
      });
    });
    const test = h('button', { type: 'button', className: 'secondary' }, 'Send test event');
    test.addEventListener('click', () =>
      act(test, async () => {
        await api.post(`${base}/test`);
        out.ok('Test event queued; it appears in the delivery log below.');
        window.setTimeout(() => void deliveries.reload(), 800);
      }),
    );
    const del = h('button', { type: 'button', className: 'danger' }, 'Delete');
    del.addEventListener('click', async () => {
      if (!(await confirmDialog(`Delete the endpoint ${hook.url} and its delivery log? This cannot be undone.`, 'Delete endpoint'))) return;
      await act(del, async () => {
        await api.del(base);
        navigate('/webhooks');
        announce('Endpoint deleted.');
      });
    });
    head.replaceChildren(
      h('h1', { className: 'url' }, hook.url),
      h(
        'dl',
        { className: 'card facts' },
        h('dt', {}, 'State'),
        h('dd', {}, stateBadge(hook)),
        h('dt', {}, 'Events'),
        h('dd', {}, eventsText(hook.events)),
        h('dt', {}, 'Brands'),
        h('dd', {}, hook.brand_ids ? hook.brand_ids.map(brandName).join(', ') : 'every brand'),
        hook.description ? [h('dt', {}, 'Description'), h('dd', {}, hook.description)] : [],
        h('dt', {}, 'Id'),
        h('dd', {}, h('code', {}, hook.id)),
        hook.previous_secret_expires_at ? [h('dt', {}, 'Previous secret signs until'), h('dd', {}, timeEl(String(hook.previous_secret_expires_at)))] : [],
      ),
      h('div', { className: 'actions' }, toggle, rotate, test, del),
    );
  };

  async function act(button: HTMLButtonElement, fn: () => Promise<void>): Promise<void> {
    out.clear();
    await busy(button.parentElement ?? button, async () => {
      try {
        await fn();
      } catch (err) {
        out.error(err);
      }
    });
  }

  const statusFilter = select('status', [
    { value: '', label: 'Any status' },
    { value: 'pending', label: 'pending' },
    { value: 'succeeded', label: 'succeeded' },
    { value: 'failed', label: 'failed' },
  ]);
  const refresh = h('button', { type: 'button', className: 'secondary' }, 'Refresh');
  const deliveries = pagedList<Delivery>({
    label: 'Deliveries',
    emptyText: 'No deliveries yet. Events this endpoint subscribes to appear here; try “Send test event”.',
    load: (after) => api.get<Page<Delivery>>(`${base}/deliveries`, { status: statusFilter.value, after, limit: 20 }),
    render: (items) => h('ol', { className: 'deliveries' }, items.map(deliveryItem)),
  });
  statusFilter.addEventListener('change', () => void deliveries.reload());
  refresh.addEventListener('click', () => void deliveries.reload());

  function deliveryItem(d: Delivery): HTMLElement {
    const retry = h('button', { type: 'button', className: 'small', 'aria-label': `Retry now: ${d.event_type} delivery ${d.id}` }, 'Retry now');
    const itemOut = notice();
    retry.addEventListener('click', async () => {
      itemOut.clear();
      await busy(retry, async () => {
        try {
          await api.post(`${base}/deliveries/${enc(d.id)}/retry`);
          itemOut.ok('Retry sent.');
          // The attempt runs in the background; give it a moment, then show its outcome.
          window.setTimeout(() => void deliveries.reload(), 1000);
        } catch (err) {
          itemOut.error(err);
        }
      });
    });
    return h(
      'li',
      { className: 'card delivery', 'data-delivery-id': d.id, 'data-status': d.status },
      h(
        'div',
        { className: 'delivery-head' },
        h('strong', {}, h('code', {}, d.event_type)),
        ' ',
        deliveryBadge(d.status),
        h('span', { className: 'muted small' }, ` ${d.attempt_count} attempt${d.attempt_count === 1 ? '' : 's'} · event ${d.event_id} · created `),
        timeEl(d.created_at),
        d.next_attempt_at ? h('span', { className: 'muted small' }, ' · next retry ', timeEl(d.next_attempt_at)) : '',
        ' ',
        retry,
      ),
      itemOut.el,
      d.attempts.length
        ? tableWrap(
            `Attempts of ${d.id}`,
            table(
              ['#', 'When', 'Outcome', 'Duration', 'Response', 'Next retry'],
              [...d.attempts]
                .sort((a, b) => b.attempt - a.attempt)
                .map((a) => [
                  String(a.attempt),
                  timeEl(a.attempted_at),
                  badge(attemptOutcome(a), a.status_code !== null && a.status_code >= 200 && a.status_code < 300 ? 'good' : 'bad'),
                  `${a.duration_ms} ms`,
                  a.response_body ? h('code', { className: 'excerpt' }, a.response_body.slice(0, 300)) : h('span', { className: 'muted' }, '—'),
                  timeEl(a.next_attempt_at),
                ]),
              `Attempts of delivery ${d.id}`,
            ),
          )
        : empty('Not attempted yet.'),
    );
  }

  renderHead();
  main.append(h('h2', {}, 'Delivery log'), h('div', { className: 'toolbar' }, field('Show', statusFilter), refresh), deliveries.el);
  await deliveries.reload();
}
