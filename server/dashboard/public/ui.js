// Small DOM helpers. Text always goes through textContent, never innerHTML, so names from the
// database cannot inject markup.
import { ApiFailure } from './api.js';
import { t } from './i18n.js';

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children; null, false and nested arrays are handled as in h(). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function errorBox(error) {
  if (error instanceof ApiFailure && error.status === 404 && error.code === 'not_found') {
    return h('div', { class: 'error-box', role: 'alert' }, `${t('notFound')}: ${error.message}`);
  }
  if (error instanceof ApiFailure && error.status === 404) {
    return h('div', { class: 'error-box', role: 'alert' }, t('notAvailable'));
  }
  const code = error instanceof ApiFailure ? ` (${error.status} ${error.code})` : '';
  return h('div', { class: 'error-box', role: 'alert' }, `${t('errorPrefix')}${code}: ${error.message}`);
}

/** A card that shows "loading" until `load` resolves to its content, or an error box in its place. */
export function card(title, load) {
  const body = h('div', {}, h('p', { class: 'muted' }, t('loading')));
  const el = h('section', { class: 'card' }, title ? h('h2', {}, title) : null, body);
  Promise.resolve()
    .then(load)
    .then(
      (content) => body.replaceChildren(...[content].flat(Infinity).filter((x) => x !== null && x !== undefined && x !== false)),
      (error) => {
        if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) {
          document.dispatchEvent(new CustomEvent('dashboard:auth', { detail: error }));
        }
        body.replaceChildren(errorBox(error));
      },
    );
  return el;
}

export function table(columns, rows) {
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(row))),
        ),
      ),
    ),
  );
}

export function badge(cls, text) {
  return h('span', { class: `badge ${cls}` }, text);
}

export function link(href, text) {
  return h('a', { href }, text);
}

export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
