/** Screens for a kiosk with nothing to browse: waiting to be paired, or no content yet. Never a blank page. */
import { h } from '../dom.js';
import { formatDate } from '../i18n.js';
import { statusBar } from './chrome.js';
import type { ViewContext } from './context.js';

/** Shown to the technician who enrols the kiosk, in Vietnamese: the code is claimed on the central dashboard. */
export function pairingScreen(ctx: ViewContext, pairing: { code: string; expiresAt: string }): HTMLElement[] {
  const main = h(
    'main',
    { class: 'screen screen-center screen-pairing', 'data-screen': 'pairing', lang: 'vi' },
    h('h1', { class: 'big' }, 'Ghép nối thiết bị'),
    h('p', { class: 'lead' }, 'Máy này chưa được đăng ký. Cán bộ kỹ thuật nhập mã sau vào trang quản trị hệ thống:'),
    h(
      'p',
      { class: 'pairing-code', 'data-testid': 'pairing-code', 'aria-label': `Mã ghép nối ${pairing.code.split('').join(' ')}` },
      pairing.code,
    ),
    h(
      'p',
      { class: 'lead' },
      `Mã có hiệu lực đến ${formatDate(pairing.expiresAt, 'vi')}. Màn hình sẽ tự chuyển khi ghép nối xong.`,
    ),
  );
  return [main, statusBar(ctx)];
}

export function noContentScreen(ctx: ViewContext): HTMLElement[] {
  const main = h(
    'main',
    { class: 'screen screen-center', 'data-screen': 'no-content', lang: ctx.labelsLang },
    h('h1', { class: 'big' }, ctx.labels.noContentTitle),
    h('p', { class: 'lead' }, ctx.labels.noContentBody),
  );
  return [main, statusBar(ctx)];
}
