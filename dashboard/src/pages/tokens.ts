import { api, enc } from '../api.js';
import { checkboxes, checkedValues, field, h, timeEl } from '../dom.js';
import { brandName, session } from '../session.js';
import { type CreatedToken, SCOPES, type Token } from '../types.js';
import { badge, busy, confirmDialog, notice, pagedList, secretReveal, table, tableWrap } from '../ui.js';

export function tokensPage(main: HTMLElement): void {
  const out = notice();
  const reveal = h('div');
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, autocomplete: 'off' });
  const expires = h('input', { type: 'datetime-local', name: 'expires_at' });
  const brands = session()?.brands ?? [];
  const form = h(
    'form',
    { className: 'card', 'aria-labelledby': 'new-token' },
    h('h2', { id: 'new-token' }, 'Create a token'),
    field('Name', name, 'Who or what uses it, e.g. "support bot".'),
    checkboxes(
      'Scopes',
      'scopes',
      SCOPES.map((s) => ({ value: s, label: s })),
    ),
    brands.length
      ? checkboxes(
          'Brands (none ticked: every brand)',
          'brand_ids',
          brands.map((b) => ({ value: b.id, label: `${b.name} (${b.id})` })),
        )
      : h('p', { className: 'muted' }, 'No brands yet: the token will see every brand.'),
    field('Expires (optional, your local time)', expires),
    out.el,
    h('button', { type: 'submit' }, 'Create token'),
  );

  const list = pagedList<Token>({
    label: 'Tokens',
    emptyText: 'No tokens.',
    load: async () => ({ ...(await api.get<{ data: Token[] }>('/v1/tokens')), next_cursor: null }),
    render: (tokens) =>
      tableWrap(
        'Tokens table',
        table(
          ['Name', 'Scopes', 'Brands', 'Secret ends', 'Expires', 'Last used', 'Created', 'State', 'Actions'],
          tokens.map((t) => [
            h('span', {}, h('strong', {}, t.name), h('br'), h('code', { className: 'muted' }, t.id)),
            t.scopes.join(', '),
            t.brand_ids ? t.brand_ids.map(brandName).join(', ') : 'all',
            h('code', {}, t.hint),
            timeEl(t.expires_at),
            timeEl(t.last_used_at),
            timeEl(t.created_at),
            t.revoked_at ? badge('revoked', 'bad') : t.expires_at && Date.parse(t.expires_at) < Date.now() ? badge('expired', 'bad') : badge('active', 'good'),
            t.revoked_at ? '' : revokeButton(t),
          ]),
          'API tokens',
        ),
      ),
  });

  function revokeButton(t: Token): HTMLButtonElement {
    const self = t.id === session()?.me.id;
    const button = h('button', { type: 'button', className: 'danger small', 'aria-label': `Revoke ${t.name}` }, 'Revoke');
    button.addEventListener('click', async () => {
      const warning = self ? ' This is the token you are signed in with: you will be signed out.' : '';
      if (!(await confirmDialog(`Revoke "${t.name}"? Requests with it fail from now on.${warning}`, 'Revoke token'))) return;
      try {
        await api.del(`/v1/tokens/${enc(t.id)}`);
        out.ok(`Token "${t.name}" revoked.`);
        await list.reload();
      } catch (err) {
        out.error(err);
      }
    });
    return button;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.clear();
    reveal.replaceChildren();
    const scopes = checkedValues(form, 'scopes');
    const brandIds = checkedValues(form, 'brand_ids');
    const body: Record<string, unknown> = { name: name.value, scopes };
    if (brandIds.length) body.brand_ids = brandIds;
    if (expires.value) body.expires_at = new Date(expires.value).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await busy(form, async () => {
      try {
        const created = await api.post<CreatedToken>('/v1/tokens', body);
        form.reset();
        reveal.replaceChildren(secretReveal(`Secret of "${created.name}"`, created.token, 'Copy it now: it is shown this once and cannot be shown again.'));
        await list.reload();
      } catch (err) {
        out.error(err);
      }
    });
  });

  main.append(h('h1', {}, 'Tokens'), form, reveal, h('h2', {}, 'All tokens'), list.el);
  void list.reload();
}
