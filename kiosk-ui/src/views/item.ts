/** One item in the chosen language (or the fallback, with a badge): text, image, PDF, media or web bundle. */
import type { ManifestItem } from '../../../protocol/manifest.js';
import { fileUrl, pickTranslation, viewerFor } from '../content.js';
import { h } from '../dom.js';
import { fallbackBadge } from './browse.js';
import { statusBar, topBar } from './chrome.js';
import type { ViewContext } from './context.js';
import { pdfViewer } from './pdf-viewer.js';

export interface ItemScreen {
  elements: HTMLElement[];
  /** The language actually shown (for view counting). */
  lang: string;
  destroy(): void;
}

export function itemScreen(ctx: ViewContext, item: ManifestItem): ItemScreen {
  const shown = pickTranslation(item, ctx.lang);
  const { translation } = shown;
  const file = translation.file;
  let destroy = () => {};
  let body: HTMLElement | null = null;

  switch (viewerFor(translation)) {
    case 'pdf': {
      const viewer = pdfViewer(fileUrl((file as NonNullable<typeof file>).sha256), ctx.labels, ctx.labelsLang);
      body = viewer.element;
      destroy = () => viewer.destroy();
      break;
    }
    case 'image':
      body = h('img', { class: 'poster', src: fileUrl((file as NonNullable<typeof file>).sha256), alt: translation.title });
      break;
    case 'video':
      body = h('video', {
        class: 'media',
        src: fileUrl((file as NonNullable<typeof file>).sha256),
        controls: true,
        preload: 'metadata',
        playsinline: true,
        controlslist: 'nodownload noremoteplayback',
        disablepictureinpicture: true,
        'data-testid': 'video',
      });
      break;
    case 'audio':
      body = h('audio', {
        class: 'media',
        src: fileUrl((file as NonNullable<typeof file>).sha256),
        controls: true,
        preload: 'metadata',
        controlslist: 'nodownload',
        'data-testid': 'audio',
      });
      break;
    case 'web':
      // No allow-top-navigation, no allow-popups, no allow-same-origin: the bundle cannot leave the kiosk
      // nor reach the local API, only run its own scripts and forms inside the frame.
      body = h('iframe', {
        class: 'web-bundle',
        src: fileUrl((file as NonNullable<typeof file>).sha256),
        sandbox: 'allow-scripts allow-forms',
        referrerpolicy: 'no-referrer',
        title: translation.title,
        'data-testid': 'web-bundle',
      });
      break;
    case 'text':
      body = file ? h('p', { class: 'lead', lang: ctx.labelsLang }, ctx.labels.cannotShow) : null;
      break;
  }

  const article = h(
    'article',
    { class: 'item', lang: shown.lang, 'data-item': item.id, 'data-shown-lang': shown.lang },
    shown.fallback ? fallbackBadge(ctx, shown.lang) : null,
    translation.summary ? h('p', { class: 'summary' }, translation.summary) : null,
    body,
    translation.body ? h('div', { class: 'bulletin-body' }, translation.body) : null,
  );
  const main = h('main', { class: 'screen screen-item', 'data-screen': 'item' }, article);
  const top = topBar(ctx, translation.title, () => ctx.goHome());
  // The title belongs to the item, in the item's language, not the interface's.
  top.querySelector('h1')?.setAttribute('lang', shown.lang);
  return { elements: [top, main, statusBar(ctx)], lang: shown.lang, destroy };
}
