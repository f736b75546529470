/**
 * The dashboard's shell: who is logged in, the navigation, the language switch and the hash router. A 401 anywhere
 * brings the login form back; a 403 shows a clear "access denied" screen.
 */
import type { Role } from '../../protocol/domain.js';
import { ApiFailure, api } from './api.js';
import { enumLabel, type LabelKey, lang, setLang, t } from './i18n.js';
import type { Me } from './shapes.js';
import { errorBox, h } from './ui.js';
import { renderAudit, renderPairing, renderTokens, renderUser, renderUsers } from './views/admin.js';
import { renderContent, renderItem, renderNewItem, type Viewer } from './views/content.js';
import { renderCoverage } from './views/coverage.js';
import { renderDevice } from './views/device.js';
import { renderAlerts, renderMap } from './views/fleet.js';
import { renderLabels } from './views/labels.js';
import { renderReleases } from './views/releases.js';
import { renderSite, renderSites } from './views/sites.js';

type Render = (view: HTMLElement, arg: string | undefined, viewer: Viewer) => void | Promise<void>;
interface Route {
  path: string;
  nav?: LabelKey;
  roles: Role[];
  render: Render;
}

const FLEET: Role[] = ['admin', 'department', 'technician'];
const CONTENT: Role[] = ['admin', 'department', 'editor', 'approver'];
const ROUTES: Route[] = [
  { path: 'coverage', nav: 'navCoverage', roles: FLEET, render: renderCoverage },
  { path: 'sites', nav: 'navSites', roles: FLEET, render: renderSites },
  { path: 'alerts', nav: 'navAlerts', roles: FLEET, render: renderAlerts },
  { path: 'map', nav: 'navMap', roles: FLEET, render: renderMap },
  { path: 'content', nav: 'navContent', roles: CONTENT, render: renderContent },
  { path: 'labels', nav: 'navLabels', roles: ['department', 'editor', 'approver'], render: renderLabels },
  { path: 'releases', nav: 'navReleases', roles: FLEET, render: renderReleases },
  { path: 'tokens', nav: 'navTokens', roles: FLEET, render: renderTokens },
  { path: 'pairing', nav: 'navPairing', roles: FLEET, render: renderPairing },
  { path: 'users', nav: 'navUsers', roles: ['admin'], render: renderUsers },
  { path: 'audit', nav: 'navAudit', roles: ['admin'], render: renderAudit },
  { path: 'content-new', roles: ['editor'], render: renderNewItem },
  { path: 'item', roles: CONTENT, render: renderItem },
  { path: 'user', roles: ['admin'], render: renderUser },
  { path: 'site', roles: FLEET, render: renderSite },
  { path: 'device', roles: FLEET, render: renderDevice },
];

let user: Viewer | null = null;
const byId = (id: string) => document.getElementById(id) as HTMLElement;
const main = () => byId('main');

function allowed(route: Route): boolean {
  return user !== null && (user.role === 'admin' || route.roles.includes(user.role));
}

function parseHash(): { path: string; arg: string | undefined } {
  const [path, ...rest] = (location.hash.replace(/^#\/?/, '').split('?')[0] ?? '').split('/');
  return { path: path || '', arg: rest.length ? decodeURIComponent(rest.join('/')) : undefined };
}

function renderChrome(): void {
  document.documentElement.lang = lang();
  document.title = t('brand');
  byId('brand').textContent = t('brand');
  byId('lang').textContent = t('switchLang');
  const logout = byId('logout');
  logout.textContent = t('logout');
  logout.hidden = !user;
  byId('who').textContent = user ? `${user.username} (${enumLabel('role', user.role)})` : '';
  byId('who').dataset.role = user?.role ?? '';
  const { path } = parseHash();
  byId('nav').replaceChildren(
    ...ROUTES.filter((r) => r.nav && allowed(r)).map((r) =>
      h('a', { href: `#/${r.path}`, class: r.path === path ? 'active' : null }, t(r.nav as LabelKey)),
    ),
  );
}

function forbiddenScreen(message?: string): void {
  main().replaceChildren(
    h(
      'div',
      { class: 'forbidden card', id: 'forbidden', role: 'alert' },
      h('h1', {}, '403 — ', t('forbiddenTitle')),
      h('p', {}, t('forbiddenText', { role: user ? enumLabel('role', user.role) : null })),
      message ? h('p', { class: 'muted' }, message) : null,
    ),
  );
}

function loginScreen(notice?: string): void {
  user = null;
  renderChrome();
  const error = h('div', {});
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    {
      class: 'stack',
      id: 'login-form',
      onsubmit: async (event) => {
        event.preventDefault();
        error.replaceChildren();
        try {
          const data = await api<Me>('/api/v1/auth/login', {
            method: 'POST',
            body: { username: username.value, password: password.value },
          });
          user = data.user;
          void route();
        } catch (failure) {
          error.replaceChildren(
            failure instanceof ApiFailure && failure.status === 401
              ? h('div', { class: 'error-box', role: 'alert' }, t('loginFailed'))
              : errorBox(failure),
          );
        }
      },
    },
    h('label', {}, t('username'), username),
    h('label', {}, t('password'), password),
    h('button', { class: 'primary', type: 'submit' }, t('loginButton')),
  );
  main().replaceChildren(
    h(
      'section',
      { class: 'card login' },
      h('h1', {}, t('loginTitle')),
      notice ? h('p', { class: 'warn' }, notice) : null,
      form,
      error,
    ),
  );
}

async function route(): Promise<void> {
  if (!user) {
    try {
      user = (await api<Me>('/api/v1/auth/me')).user;
    } catch (failure) {
      if (failure instanceof ApiFailure && failure.status === 401) return loginScreen();
      main().replaceChildren(errorBox(failure));
      return;
    }
  }
  const viewer = user;
  const { path, arg } = parseHash();
  const target = ROUTES.find((r) => r.path === path) ?? ROUTES.find((r) => r.nav && allowed(r));
  renderChrome();
  if (!target || !allowed(target)) return forbiddenScreen();
  // Each navigation renders into its own container: a slow view the user has already left then writes into a
  // detached element instead of replacing the page the user moved on to.
  const view = h('div', { class: 'view', dataset: { screen: target.path } }, h('p', { class: 'muted' }, t('loading')));
  main().replaceChildren(view);
  try {
    await target.render(view, arg, viewer);
  } catch (failure) {
    if (!view.isConnected) return;
    if (failure instanceof ApiFailure && failure.status === 401) return loginScreen(t('sessionEnded'));
    if (failure instanceof ApiFailure && failure.status === 403) return forbiddenScreen(failure.message);
    view.replaceChildren(errorBox(failure));
  }
}

document.addEventListener('dashboard:auth', (event) => {
  if ((event as CustomEvent<ApiFailure>).detail.status === 401) loginScreen(t('sessionEnded'));
});
byId('lang').addEventListener('click', () => {
  setLang(lang() === 'vi' ? 'en' : 'vi');
  void route();
});
byId('logout').addEventListener('click', async () => {
  await api('/api/v1/auth/logout', { method: 'POST', body: {} }).catch(() => null);
  loginScreen();
});
window.addEventListener('hashchange', () => void route());
void route();
