/** Client-side routes under /dashboard; the server answers index.html for every one of them. */
export const BASE = '/dashboard';

export type View = (main: HTMLElement, params: Record<string, string>) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  keys: string[];
  view: View;
  title: string;
}

const routes: Route[] = [];

export function route(path: string, title: string, view: View): void {
  const keys: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/:([a-z_]+)/g, (_m, k: string) => {
      keys.push(k);
      return '([^/]+)';
    })}/?$`,
  );
  routes.push({ pattern, keys, view, title });
}

export function match(pathname: string): { route: Route; params: Record<string, string> } | null {
  const local = pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : pathname;
  for (const r of routes) {
    const m = r.pattern.exec(local);
    if (m) return { route: r, params: Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1]!)])) };
  }
  return null;
}

export const href = (path: string): string => `${BASE}${path}`;

let render: () => void = () => {};
export const onNavigate = (fn: () => void): void => {
  render = fn;
};

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const url = path.startsWith(BASE) ? path : href(path);
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  shown = location.pathname + location.search;
  hash = location.hash;
  render();
}

// A link to an anchor on the page (#msg_…) changes only the hash: that scrolls, it does not re-render.
let shown = location.pathname + location.search;
let hash = location.hash;
window.addEventListener('popstate', () => {
  const now = location.pathname + location.search;
  const onlyHash = now === shown && (location.hash !== '' || hash !== '');
  hash = location.hash;
  if (onlyHash) return;
  shown = now;
  render();
});
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.getAttribute('href')?.startsWith('#')) return;
  if (a.target || a.hasAttribute('download') || a.origin !== location.origin || !a.pathname.startsWith(BASE)) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});
