/** The attract loop shown when nobody is using the kiosk: featured items in turn; a touch starts a visit. */
import type { ManifestItem } from '../../../protocol/manifest.js';
import { attractItems, fileUrl, pickTranslation } from '../content.js';
import { h } from '../dom.js';
import { DEFAULT_LANG, LANGUAGES, labelsFor } from '../i18n.js';
import { statusBar } from './chrome.js';
import type { ViewContext } from './context.js';

export interface AttractScreen {
  elements: HTMLElement[];
  destroy(): void;
}

const SLIDE_MS = 8000;

function slide(item: ManifestItem): HTMLElement {
  const shown = pickTranslation(item, DEFAULT_LANG);
  const file = shown.translation.file;
  return h(
    'div',
    { class: 'slide', 'data-item': item.id, lang: shown.lang },
    file?.mime.startsWith('image/') ? h('img', { class: 'slide-image', src: fileUrl(file.sha256), alt: '' }) : null,
    h('h2', { class: 'big' }, shown.translation.title),
    shown.translation.summary ? h('p', { class: 'lead' }, shown.translation.summary) : null,
  );
}

export function attractScreen(ctx: ViewContext): AttractScreen {
  const items = attractItems(ctx.manifest.items);
  const stage = h('div', { class: 'stage', 'aria-live': 'off' });
  let index = 0;
  const show = () => {
    const item = items[index % Math.max(1, items.length)];
    stage.replaceChildren(item ? slide(item) : h('h2', { class: 'big', lang: 'vi' }, labelsFor('vi').noContentTitle));
    index += 1;
  };
  show();
  const timer = items.length > 1 ? setInterval(show, SLIDE_MS) : null;

  const start = h(
    'button',
    { type: 'button', class: 'attract-start', 'data-testid': 'attract-start' },
    h('span', { lang: 'vi' }, labelsFor('vi').touchToStart),
    h('span', { lang: 'en' }, labelsFor('en').touchToStart),
    h('span', { class: 'attract-langs' }, ...LANGUAGES.map((l) => h('span', { lang: l.tag }, l.name))),
  );
  start.addEventListener('click', () => ctx.showLanguages());
  const main = h('main', { class: 'screen screen-attract', 'data-screen': 'attract' }, stage, start);
  // The whole screen is the start button for touch; the real <button> keeps it keyboard and reader friendly.
  main.addEventListener('click', (e) => {
    if (e.target !== start && !start.contains(e.target as Node)) ctx.showLanguages();
  });
  return {
    elements: [main, statusBar(ctx)],
    destroy() {
      if (timer) clearInterval(timer);
    },
  };
}
