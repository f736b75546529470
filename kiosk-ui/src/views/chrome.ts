/** The bar on every screen: home, language, connection state and content date. */
import { h } from '../dom.js';
import { formatDate, languageName } from '../i18n.js';
import type { ViewContext } from './context.js';

export function statusBar(ctx: ViewContext): HTMLElement {
  const { manifest, labels } = ctx;
  const online = manifest.online
    ? h(
        'span',
        { class: 'status status-online', 'data-testid': 'online' },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        labels.online,
      )
    : h('span', { class: 'status status-offline', role: 'status', 'data-testid': 'offline' }, labels.offline);
  const updated = manifest.appliedAt ? labels.updatedOn(formatDate(manifest.appliedAt, ctx.lang)) : labels.neverUpdated;
  return h(
    'footer',
    { class: 'status-bar', lang: ctx.labelsLang },
    online,
    h('span', { class: 'status', 'data-testid': 'updated' }, updated),
  );
}

export function topBar(ctx: ViewContext, title: string, back?: () => void): HTMLElement {
  const home = h('button', { type: 'button', class: 'nav', 'data-testid': 'home' }, ctx.labels.home);
  home.addEventListener('click', () => ctx.goHome());
  const language = h(
    'button',
    { type: 'button', class: 'nav', 'data-testid': 'change-language' },
    `${ctx.labels.changeLanguage}: `,
    h('span', { lang: ctx.lang }, languageName(ctx.lang)),
  );
  language.addEventListener('click', () => ctx.showLanguages());
  const backButton = back ? h('button', { type: 'button', class: 'nav', 'data-testid': 'back' }, ctx.labels.back) : null;
  backButton?.addEventListener('click', back as () => void);
  return h(
    'header',
    { class: 'top-bar', lang: ctx.labelsLang },
    h('nav', { 'aria-label': ctx.labels.home }, backButton, home, language),
    h('h1', { class: 'top-title' }, title),
  );
}
