// The dashboard's shell: who is logged in, the navigation, the language switch and the hash router.
// A 401 anywhere brings the login form back; a 403 shows a clear "access denied" screen.
import { ApiFailure, api } from './api.js';
import { lang, setLang, t } from './i18n.js';
import { errorBox, h } from './ui.js';
import { renderAudit, renderPairing, renderTokens, renderUsers } from './view-admin.js';
import { renderContent } from './view-content.js';
import { renderCoverage } from './view-coverage.js';
import { renderDevice } from './view-device.js';
import { renderAlerts, renderMap } from './view-fleet.js';
import { renderSite, renderSites } from './view-sites.js';

const FLEET = ['admin', 'department', 'technician'];
const ROUTES = [
  { path: 'coverage', nav: 'navCoverage', roles: FLEET, render: renderCoverage },
  { path: 'sites', nav: 'navSites', roles: FLEET, render: renderSites },
  { path: 'alerts', nav: 'navAlerts', roles: FLEET, render: renderAlerts },
  { path: 'map', nav: 'navMap', roles: FLEET, render: renderMap },
  { path: 'content', nav: 'navContent', roles: ['admin', 'department', 'editor', 'approver'], render: renderContent },
  { path: 'tokens', nav: 'navTokens', roles: ['admin', 'department', 'technician'], render: renderTokens },
  { path: 'pairing', nav: 'navPairing', roles: ['admin', 'department', 'technician'], render: renderPairing },
  { path: 'users', nav: 'navUsers', roles: ['admin'], render: renderUsers },
  { path: 'audit', nav: 'navAudit', roles: ['admin'], render: renderAudit },
  { path: 'site', roles: FLEET, render: renderSite },
  { path: 'device', roles: FLEET, render: renderDevice },
];

let user = null;
const main = () => document.getElementById('main');

function allowed(route) {
  return user && (user.role === 'admin' || route.roles.includes(user.role));
}

function parseHash() {
  const [path, ...rest] = location.hash.replace(/^#\/?/, '').split('?')[0].split('/');
  return { path: path || '', arg: rest.length ? decodeURIComponent(rest.join('/')) : undefined };
}

function renderChrome() {
  document.documentElement.lang = lang();
  document.title = t('brand');
  document.getElementById('brand').textContent = t('brand');
  const langButton = document.getElementById('lang');
  langButton.textContent = t('switchLang');
  const logout = document.getElementById('logout');
  logout.textContent = t('logout');
  logout.hidden = !user;
  document.getElementById('who').textContent = user ? `${user.username} (${user.role})` : '';
  const { path } = parseHash();
  document
    .getElementById('nav')
    .replaceChildren(
      ...ROUTES.filter((r) => r.nav && allowed(r)).map((r) =>
        h('a', { href: `#/${r.path}`, class: r.path === path ? 'active' : null }, t(r.nav)),
      ),
    );
}

function forbiddenScreen(message) {
  main().replaceChildren(
    h(
      'div',
      { class: 'forbidden card', id: 'forbidden', role: 'alert' },
      h('h1', {}, '403 — ', t('forbiddenTitle')),
      h('p', {}, t('forbiddenText', { role: user?.role })),
      message ? h('p', { class: 'muted' }, message) : null,
    ),
  );
}

function loginScreen(notice) {
  user = null;
  renderChrome();
  const error = h('div', {});
  const form = h(
    'form',
    {
      class: 'stack',
      id: 'login-form',
      onsubmit: async (event) => {
        event.preventDefault();
        error.replaceChildren();
        try {
          const data = await api('/api/v1/auth/login', {
            method: 'POST',
            body: { username: form.elements.username.value, password: form.elements.password.value },
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
    h('label', {}, t('username'), h('input', { name: 'username', autocomplete: 'username', required: true })),
    h(
      'label',
      {},
      t('password'),
      h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
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

async function route() {
  if (!user) {
    try {
      user = (await api('/api/v1/auth/me')).user;
    } catch (failure) {
      if (failure instanceof ApiFailure && failure.status === 401) return loginScreen();
      main().replaceChildren(errorBox(failure));
      return;
    }
  }
  const { path, arg } = parseHash();
  const target = ROUTES.find((r) => r.path === path) ?? ROUTES.find((r) => r.nav && allowed(r));
  renderChrome();
  if (!target) return forbiddenScreen();
  if (!allowed(target)) return forbiddenScreen();
  // Each navigation renders into its own container: a slow view the user has already left (its fetches still
  // running) then writes into a detached element instead of replacing the page the user moved on to.
  const view = h('div', { class: 'view' }, h('p', { class: 'muted' }, t('loading')));
  main().replaceChildren(view);
  try {
    await target.render(view, arg);
  } catch (failure) {
    if (!view.isConnected) return;
    if (failure instanceof ApiFailure && failure.status === 401) return loginScreen(t('sessionEnded'));
    if (failure instanceof ApiFailure && failure.status === 403) return forbiddenScreen(failure.message);
    view.replaceChildren(errorBox(failure));
  }
}

document.addEventListener('dashboard:auth', (event) => {
  if (event.detail.status === 401) loginScreen(t('sessionEnded'));
});
document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'vi' ? 'en' : 'vi');
  void route();
});
document.getElementById('logout').addEventListener('click', async () => {
  await api('/api/v1/auth/logout', { method: 'POST', body: {} }).catch(() => null);
  loginScreen();
});
window.addEventListener('hashchange', () => void route());
void route();
