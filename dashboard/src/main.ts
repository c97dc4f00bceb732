import './styles.css';
import { clearToken, describeError, getToken, handleUnauthorized } from './api.js';
import { clear, field, h } from './dom.js';
import { BASE, href, match, navigate, onNavigate, route } from './router.js';
import { can, loadSession, session, setSession } from './session.js';
import { errorBox, loading, notice } from './ui.js';
import { brandsPage, queuePage } from './pages/brands.js';
import { customerPage, customersPage } from './pages/customers.js';
import { inboxPage } from './pages/inbox.js';
import { ticketPage } from './pages/ticket.js';
import { tokensPage } from './pages/tokens.js';
import { webhookPage, webhooksPage } from './pages/webhooks.js';
import { forgetAgents } from './people.js';
import { setShortcuts } from './shortcuts.js';
import type { Scope } from './types.js';

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const whoami = document.getElementById('whoami')!;

const sections: { path: string; label: string; scope: Scope }[] = [
  { path: '/tickets', label: 'Tickets', scope: 'tickets:read' },
  { path: '/customers', label: 'Customers', scope: 'tickets:read' },
  { path: '/brands', label: 'Brands and queues', scope: 'tickets:read' },
  { path: '/webhooks', label: 'Webhooks', scope: 'webhooks:manage' },
  { path: '/tokens', label: 'Tokens', scope: 'admin' },
];

let signInMessage = '';

route('/sign-in', 'Sign in', signInPage);
route('/tickets', 'Tickets', guard('tickets:read', inboxPage));
route('/tickets/:id', 'Ticket', guard('tickets:read', ticketPage));
route('/customers', 'Customers', guard('tickets:read', customersPage));
route('/customers/:id', 'Customer', guard('tickets:read', customerPage));
route('/brands', 'Brands and queues', guard('tickets:read', brandsPage));
route('/queues/:id', 'Queue', guard('tickets:read', queuePage));
route('/webhooks', 'Webhooks', guard('webhooks:manage', webhooksPage));
route('/webhooks/:id', 'Webhook', guard('webhooks:manage', webhookPage));
route('/tokens', 'Tokens', guard('admin', tokensPage));
route('/', 'Home', () => navigate(firstSection(), { replace: true }));

function guard(scope: Scope, view: (main: HTMLElement, params: Record<string, string>) => Promise<void> | void) {
  return (el: HTMLElement, params: Record<string, string>) => {
    if (!can(scope)) {
      el.replaceChildren(
        h('h1', {}, 'Not available'),
        h('p', { className: 'notice error', role: 'alert' }, `This token lacks the ${scope} scope this page needs.`),
      );
      return;
    }
    return view(el, params);
  };
}

const firstSection = (): string => sections.find((s) => can(s.scope))?.path ?? '/sign-in';

function renderChrome(): void {
  const s = session();
  clear(nav);
  clear(whoami);
  if (!s) return;
  const current = location.pathname;
  nav.appendChild(
    h(
      'ul',
      {},
      sections
        .filter((x) => can(x.scope))
        .map((x) => {
          const active = current === href(x.path) || current.startsWith(`${href(x.path)}/`) || (x.path === '/tickets' && current.startsWith(href('/tickets')));
          return h('li', {}, h('a', { href: href(x.path), 'aria-current': active ? 'page' : null }, x.label));
        }),
    ),
  );
  const brands = s.me.brand_ids ? `brands: ${s.me.brand_ids.join(', ')}` : 'all brands';
  whoami.append(
    h('span', { className: 'who' }, h('strong', {}, s.me.name), h('span', { className: 'muted' }, ` ${s.me.scopes.join(', ')} · ${brands}`)),
    h('button', { type: 'button', className: 'secondary small', onclick: signOut }, 'Sign out'),
  );
}

function signOut(): void {
  clearToken();
  setSession(null);
  signInMessage = 'Signed out.';
  navigate('/sign-in');
}

handleUnauthorized((problem) => {
  clearToken();
  setSession(null);
  signInMessage = `Signed out: ${problem.detail ?? 'the token is no longer valid'}.`;
  navigate('/sign-in', { replace: true });
});

let renderCount = 0;
async function render(): Promise<void> {
  const mine = ++renderCount;
  const found = match(location.pathname);
  if (!location.pathname.startsWith(BASE)) return;
  if (!session() && getToken()) {
    main.replaceChildren(loading('Checking your token…'));
    try {
      setSession(await loadSession());
    } catch (err) {
      clearToken();
      signInMessage = describeError(err);
    }
    if (mine !== renderCount) return;
  }
  if (!session() && found?.route.title !== 'Sign in') {
    history.replaceState(null, '', href('/sign-in'));
    return render();
  }
  if (session() && found?.route.title === 'Sign in') {
    history.replaceState(null, '', href(firstSection()));
    return render();
  }
  renderChrome();
  main.replaceChildren();
  // Each page registers its own shortcuts, and sees agents added or deactivated since the last one.
  setShortcuts([]);
  forgetAgents();
  if (!found) {
    document.title = 'Not found · NexusCore';
    main.append(h('h1', {}, 'Page not found'), h('p', {}, 'Nothing lives at this address. '), h('a', { href: href(firstSection()) }, 'Go to the dashboard'));
    return;
  }
  document.title = `${found.route.title} · NexusCore`;
  try {
    await found.route.view(main, found.params);
  } catch (err) {
    main.append(errorBox(err));
  }
  // Move focus to the new page's heading region so keyboard and screen-reader users land on it.
  if (mine === renderCount && document.activeElement === document.body) main.focus({ preventScroll: true });
}

function signInPage(el: HTMLElement): void {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const out = notice();
  if (signInMessage) {
    out.el.replaceChildren(
      h(
        'p',
        { className: signInMessage === 'Signed out.' ? 'notice ok' : 'notice error', role: signInMessage === 'Signed out.' ? 'status' : 'alert' },
        signInMessage,
      ),
    );
    signInMessage = '';
  }
  // method=post: should scripts fail, the browser must never put the token in a URL.
  const form = h(
    'form',
    { method: 'post', className: 'card narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', {}, 'Paste an API token (nxc_…). It is kept in this tab only, until you sign out or close it.'),
    field('API token', input, 'The first admin token is in <data dir>/admin-token on the server.'),
    out.el,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    out.clear();
    form.setAttribute('aria-busy', 'true');
    try {
      const s = await loadSession(token);
      setSession(s);
      input.value = '';
      navigate(firstSection(), { replace: true });
    } catch (err) {
      clearToken();
      out.error(err);
      input.focus();
    } finally {
      form.removeAttribute('aria-busy');
    }
  });
  el.append(form);
  input.focus();
}

onNavigate(() => void render());
void render();
