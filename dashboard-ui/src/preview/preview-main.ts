/**
 * The preview frame (`/dashboard/preview.html`): the kiosk's own item screen (kiosk-ui/src/views/item.ts, with the
 * kiosk's stylesheet and fonts) drawing a draft the dashboard posts to it. Same origin as the dashboard, so the
 * draft's files load with the editor's session; only messages from the dashboard's own origin are read.
 */

import { labelsFor, labelsLang } from '../../../kiosk-ui/src/i18n.js';
import { itemScreen } from '../../../kiosk-ui/src/views/item.js';
import type { ManifestItem } from '../../../protocol/manifest.js';

export interface PreviewMessage {
  type: 'preview';
  item: ManifestItem;
  lang: string;
}

let destroy = () => {};

function show(message: PreviewMessage): void {
  const app = document.getElementById('app') as HTMLElement;
  destroy();
  const noop = () => {};
  const screen = itemScreen(
    {
      manifest: {
        deviceId: null,
        siteId: null,
        online: true,
        pairing: null,
        seq: 0,
        appliedAt: new Date().toISOString(),
        items: [message.item],
      },
      lang: message.lang,
      labels: labelsFor(message.lang),
      labelsLang: labelsLang(message.lang),
      filter: { topic: null, kind: null },
      chooseLanguage: noop,
      showLanguages: noop,
      goHome: noop,
      setFilter: noop,
      openItem: noop,
    },
    message.item,
  );
  destroy = () => screen.destroy();
  document.documentElement.lang = labelsLang(message.lang);
  app.replaceChildren(...screen.elements);
  app.dataset.previewItem = message.item.id;
  app.dataset.previewLang = screen.lang;
}

window.addEventListener('message', (event: MessageEvent<PreviewMessage>) => {
  if (event.origin !== location.origin || event.data?.type !== 'preview') return;
  show(event.data);
});
// Tells the dashboard the frame is ready for a draft.
window.parent.postMessage({ type: 'preview-ready' }, location.origin);
