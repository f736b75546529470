/**
 * Small DOM helpers. Text always goes through text nodes, never innerHTML, so names from the database cannot
 * inject markup. Event handlers are attached with addEventListener (the CSP allows no inline script).
 */
import { ApiFailure } from './api.js';
import { t } from './i18n.js';

export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => unknown;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler | Record<string, string>>;

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value as EventListener);
    else if (key === 'dataset' && typeof value === 'object') Object.assign((el as HTMLElement).dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el: Element, children: Child[]): void {
  for (const child of children.flat(10 as 1) as Child[]) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces an element's children; null, false and nested arrays are handled as in h(). */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function errorBox(error: unknown): HTMLElement {
  if (error instanceof ApiFailure && error.status === 404 && error.code === 'not_found') {
    return h('div', { class: 'error-box', role: 'alert' }, `${t('notFound')}: ${error.message}`);
  }
  if (error instanceof ApiFailure && error.status === 404) {
    return h('div', { class: 'error-box', role: 'alert' }, t('notAvailable'));
  }
  const code = error instanceof ApiFailure ? ` (${error.status} ${error.code})` : '';
  const message = error instanceof Error ? error.message : String(error);
  return h('div', { class: 'error-box', role: 'alert' }, `${t('errorPrefix')}${code}: ${message}`);
}

/** A card that shows "loading" until `load` resolves to its content, or an error box in its place. */
export function card(title: string | null, load: () => Child | Promise<Child>): HTMLElement {
  const body = h('div', {}, h('p', { class: 'muted' }, t('loading')));
  const el = h('section', { class: 'card' }, title ? h('h2', {}, title) : null, body);
  Promise.resolve()
    .then(load)
    .then(
      (content) => fill(body, content),
      (error: unknown) => {
        if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) {
          document.dispatchEvent(new CustomEvent('dashboard:auth', { detail: error }));
        }
        body.replaceChildren(errorBox(error));
      },
    );
  return el;
}

export interface Column<R> {
  label: Child;
  num?: boolean;
  cell: (row: R) => Child;
}

export function table<R>(columns: Column<R>[], rows: readonly R[]): HTMLTableElement {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)))),
    h(
      'tbody',
      {},
      ...rows.map((row) => h('tr', {}, ...columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(row))))),
    ),
  );
}

export function badge(cls: string, text: string): HTMLElement {
  return h('span', { class: `badge ${cls}` }, text);
}

export function link(href: string, text: Child): HTMLAnchorElement {
  return h('a', { href }, text);
}

export function qs(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The query part of the address after `#/route?`. */
export function hashParams(): URLSearchParams {
  return new URLSearchParams(location.hash.split('?')[1] ?? '');
}
