// The content library and its approval workflow (draft → in review → published → retired; the approver
// is never the author — the server enforces that, the page shows its refusal).
import { api, listOf } from './api.js';
import { fmtTime, lang, t } from './i18n.js';
import { badge, card, errorBox, fill, h, qs, table } from './ui.js';

const STATE_CLASS = { draft: 'none', in_review: 'equipped', published: 'met', retired: 'planned' };

function titleOf(item) {
  const translations = item.current?.translations ?? {};
  const preferred = translations[lang()] ?? translations.vi ?? Object.values(translations)[0];
  return preferred?.title ?? item.id;
}

function actionButtons(item, reload, status) {
  const state = item.current?.state;
  const actions = { draft: ['submit'], in_review: ['approve', 'reject'], published: ['retire'], retired: [] }[state] ?? [];
  if (state === 'in_review' || (state === 'draft' && item.current?.approvedBy)) actions.push('publish');
  return actions.map((action) =>
    h(
      'button',
      {
        type: 'button',
        dataset: { action, item: item.id },
        onclick: async () => {
          try {
            await api(`/api/v1/content/${encodeURIComponent(item.id)}/${action}`, { method: 'POST', body: {} });
            status.replaceChildren(h('p', { class: 'ok' }, t('done')));
            reload();
          } catch (error) {
            status.replaceChildren(errorBox(error));
          }
        },
      },
      t(action),
    ),
  );
}

function itemsTable(items, reload, status) {
  return table(
    [
      { label: t('title'), cell: titleOf },
      { label: t('kind'), cell: (i) => i.kind },
      { label: t('state'), cell: (i) => badge(STATE_CLASS[i.current?.state] ?? 'none', i.current?.state ?? '—') },
      { label: t('languages'), cell: (i) => Object.keys(i.current?.translations ?? {}).join(', ') },
      { label: t('author'), cell: (i) => i.current?.author ?? i.createdBy },
      { label: t('created'), cell: (i) => fmtTime(i.createdAt) },
      { label: t('actions'), cell: (i) => actionButtons(i, reload, status) },
    ],
    items,
  );
}

export async function renderContent(main) {
  const status = h('div', {});
  const review = h('div', {});
  const library = h('div', {});
  const offset = Number(new URLSearchParams(location.hash.split('?')[1] ?? '').get('offset') ?? 0) || 0;
  const reload = () => {
    api(`/api/v1/content${qs({ state: 'in_review', limit: 100 })}`).then(
      (data) =>
        review.replaceChildren(
          listOf(data, 'items').length
            ? itemsTable(listOf(data, 'items'), reload, status)
            : h('p', { class: 'muted' }, t('noData')),
        ),
      (error) => review.replaceChildren(errorBox(error)),
    );
    api(`/api/v1/content${qs({ limit: 100, offset })}`).then(
      (data) =>
        library.replaceChildren(
          itemsTable(listOf(data, 'items'), reload, status),
          h('p', { class: 'muted' }, `${data.total ?? ''}`),
        ),
      (error) => library.replaceChildren(errorBox(error)),
    );
  };
  reload();
  fill(
    main,
    h('h1', {}, t('contentTitle')),
    status,
    h('section', { class: 'card' }, h('h2', {}, t('reviewTitle')), review),
    card(t('contentTitle'), () => library),
  );
}
