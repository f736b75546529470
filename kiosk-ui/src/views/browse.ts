/** Home: browse by topic and by kind; each item is one large button. */
import type { ManifestItem } from '../../../protocol/manifest.js';
import { fileUrl, filterItems, kindsOf, pickTranslation, topicLabel, topicsOf } from '../content.js';
import { h } from '../dom.js';
import { languageName } from '../i18n.js';
import { statusBar, topBar } from './chrome.js';
import type { ViewContext } from './context.js';

function chip(label: string, pressed: boolean, onClick: () => void, attrs: Record<string, string> = {}): HTMLElement {
  const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(pressed), ...attrs }, label);
  b.addEventListener('click', onClick);
  return h('li', {}, b);
}

export function fallbackBadge(ctx: ViewContext, shownIn: string): HTMLElement {
  return h('p', { class: 'badge', lang: ctx.labelsLang, 'data-testid': 'fallback' }, ctx.labels.fallback(languageName(shownIn)));
}

function itemCard(ctx: ViewContext, item: ManifestItem): HTMLElement {
  const shown = pickTranslation(item, ctx.lang);
  const file = shown.translation.file;
  const thumb = file?.mime.startsWith('image/') ? h('img', { class: 'thumb', src: fileUrl(file.sha256), alt: '' }) : null;
  const card = h(
    'button',
    { type: 'button', class: 'card', 'data-item': item.id, 'data-kind': item.kind },
    thumb,
    h('span', { class: 'card-kind', lang: ctx.labelsLang }, ctx.labels.kind[item.kind]),
    h('span', { class: 'card-title', lang: shown.lang }, shown.translation.title),
    shown.fallback ? h('span', { class: 'badge small', lang: ctx.labelsLang }, languageName(shown.lang)) : null,
  );
  card.addEventListener('click', () => ctx.openItem(item));
  return h('li', {}, card);
}

export function browseScreen(ctx: ViewContext): HTMLElement[] {
  const { labels, filter } = ctx;
  const items = ctx.manifest.items;
  const topics = h(
    'ul',
    { class: 'chips', role: 'list' },
    chip(labels.allTopics, filter.topic === null, () => ctx.setFilter({ ...filter, topic: null })),
  );
  for (const topic of topicsOf(items)) {
    topics.append(
      chip(topicLabel(topic), filter.topic === topic, () => ctx.setFilter({ ...filter, topic }), { 'data-topic': topic }),
    );
  }
  const kinds = h(
    'ul',
    { class: 'chips', role: 'list' },
    chip(labels.allKinds, filter.kind === null, () => ctx.setFilter({ ...filter, kind: null })),
  );
  for (const kind of kindsOf(items)) {
    kinds.append(
      chip(labels.kind[kind], filter.kind === kind, () => ctx.setFilter({ ...filter, kind }), { 'data-kind-filter': kind }),
    );
  }
  const shown = filterItems(items, filter);
  const list =
    shown.length > 0
      ? h('ul', { class: 'cards', role: 'list' }, ...shown.map((item) => itemCard(ctx, item)))
      : h('p', { class: 'lead', lang: ctx.labelsLang }, labels.noItemsHere);
  const main = h(
    'main',
    { class: 'screen screen-browse', 'data-screen': 'browse' },
    h('section', { 'aria-labelledby': 'topics-h', lang: ctx.labelsLang }, h('h2', { id: 'topics-h' }, labels.topics), topics),
    h('section', { 'aria-labelledby': 'kinds-h', lang: ctx.labelsLang }, h('h2', { id: 'kinds-h' }, labels.kinds), kinds),
    h('section', { 'aria-label': labels.home }, list),
  );
  return [topBar(ctx, labels.home), main, statusBar(ctx)];
}
