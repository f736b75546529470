/** First screen: every language named in its own script. */
import { h } from '../dom.js';
import { LANGUAGES } from '../i18n.js';
import { statusBar } from './chrome.js';
import type { ViewContext } from './context.js';

export function languageScreen(ctx: ViewContext): HTMLElement[] {
  const list = h('ul', { class: 'language-list', role: 'list' });
  for (const language of LANGUAGES) {
    const b = h('button', { type: 'button', class: 'language', lang: language.tag, 'data-lang': language.tag }, language.name);
    b.addEventListener('click', () => ctx.chooseLanguage(language.tag));
    list.append(h('li', {}, b));
  }
  const main = h(
    'main',
    { class: 'screen screen-languages', 'data-screen': 'languages' },
    // Both prompts, since the visitor has not chosen yet.
    h(
      'h1',
      { class: 'big' },
      h('span', { lang: 'vi' }, 'Chọn ngôn ngữ'),
      ' · ',
      h('span', { lang: 'en' }, 'Choose your language'),
    ),
    list,
  );
  return [main, statusBar(ctx)];
}
