import { ApiError, createApi, ok } from './api';
import { failure, h, loading, replace } from './dom';
import { claimsOf, forgetToken, storedToken, storeToken } from './session';
import { initialFilters, type Context } from './state';
import { adminUsage } from './views/admin-usage';
import { myUsage } from './views/my-usage';
import { userDetail } from './views/user-detail';
import './styles.css';

const root = document.getElementById('app')!;
const filters = initialFilters();

function signIn(message?: string): void {
  const input = h('textarea', {
    id: 'token',
    name: 'token',
    rows: 4,
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'eyJhbGciOi…',
  });
  const form = h(
    'form',
    {
      class: 'sign-in panel',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const token = input.value.trim();
        if (!claimsOf(token)) {
          void signIn('That does not look like a token (three dot-separated parts).');
          return;
        }
        storeToken(token);
        void start();
      },
    },
    h('h1', {}, 'Sign in to Tokentally'),
    message ? h('p', { class: 'state state-error', role: 'alert' }, message) : null,
    h('label', { for: 'token' }, 'Paste a token'),
    input,
    h(
      'p',
      { class: 'muted' },
      'Get one on the server with ',
      h('code', {}, 'npm run token -- --sub alice --role admin'),
      ' (or from your identity provider). It stays in this browser tab only.',
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  replace(root, h('main', { class: 'center' }, form));
}

let leaving: Array<() => void> = [];

async function start(): Promise<void> {
  const token = storedToken();
  const claims = token ? claimsOf(token) : null;
  if (!token || !claims) return signIn();
  const signOut = (message?: string) => {
    forgetToken();
    leave();
    signIn(message);
  };
  const api = createApi(token, () => signOut('The service refused the token (expired or not valid). Paste a new one.'));
  replace(root, loading('Connecting…'));
  let config;
  try {
    config = await ok(api.GET('/v1/usage/config'));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    replace(
      root,
      h(
        'main',
        { class: 'center' },
        failure(error, () => void start()),
      ),
    );
    return;
  }
  const main = h('main', { id: 'main' });
  const nav = h('nav', { 'aria-label': 'Views' });
  const ctx: Context = {
    api,
    claims,
    config,
    filters,
    navigate: (path) => {
      history.pushState(null, '', path);
      route();
    },
    onLeave: (dispose) => leaving.push(dispose),
    refresh: () => route(),
  };
  const header = h(
    'header',
    { class: 'top' },
    h('span', { class: 'brand' }, 'Tokentally'),
    nav,
    h(
      'span',
      { class: 'who' },
      h('span', { 'data-role': claims.role }, `${claims.sub} · ${claims.role}`),
      config.deploymentMode === 'cloud' ? h('span', { class: 'badge' }, 'cloud') : null,
      h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'),
    ),
  );
  replace(root, header, main);

  function route(): void {
    leave();
    const path = location.pathname;
    const admin = claims!.role === 'admin';
    const user = /^\/users\/(.+)$/.exec(path);
    const links: Array<[string, string, boolean]> = admin
      ? [
          ['/', 'Usage', path === '/' || !!user],
          ['/me', 'My usage', path === '/me'],
        ]
      : [['/me', 'My usage', true]];
    replace(
      nav,
      links.map(([href, label, current]) =>
        h('a', { href, 'data-link': '', 'aria-current': current ? 'page' : undefined }, label),
      ),
    );
    if (path === '/me') return replace(main, myUsage(ctx));
    if (!admin) {
      // the service refuses a member every admin endpoint; the page does not offer them
      if (path !== '/') {
        return replace(
          main,
          h(
            'div',
            { class: 'view' },
            h('h1', {}, 'Admins only'),
            h(
              'p',
              {},
              'This view is for workspace admins. ',
              h('a', { href: '/me', 'data-link': '' }, 'See your own usage.'),
            ),
          ),
        );
      }
      history.replaceState(null, '', '/me');
      return replace(main, myUsage(ctx));
    }
    if (user) return replace(main, userDetail(ctx, decodeURIComponent(user[1]!)));
    return replace(main, adminUsage(ctx));
  }

  root.onclick = (e) => {
    const link = (e.target as Element).closest('a[data-link]');
    if (!link || e.defaultPrevented || (e as MouseEvent).metaKey || (e as MouseEvent).ctrlKey) return;
    e.preventDefault();
    ctx.navigate(link.getAttribute('href')!);
  };
  window.onpopstate = () => route();
  route();
}

function leave(): void {
  for (const dispose of leaving) dispose();
  leaving = [];
}

void start();
