/**
 * The kiosk interface's labels for the languages nobody on the team writes (Jrai, Bahnar, Xơ Đăng, Giẻ Triêng,
 * Brâu): every label key of kiosk-ui with its Vietnamese text beside an input per language, what is missing shown
 * (an empty input shows, greyed, the Vietnamese the kiosk falls back to), and one save that sends each changed
 * language to `PUT /api/v1/ui-labels/:lang` (checked against the kiosk's keys and placeholders, audited, and carried
 * to every kiosk in its signed manifest). Approvers read, the department and editors write.
 */

import { type Labels, labelsFor, languageName } from '../../../kiosk-ui/src/i18n.js';
import type { UiLabelsOut } from '../../../protocol/api.js';
import { DEPARTMENT_LABEL_LANGS } from '../../../protocol/constants.js';
import type { ContentKind, Role } from '../../../protocol/domain.js';
import { ApiFailure, api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { badge, errorBox, fill, h } from '../ui.js';

interface Viewer {
  username: string;
  role: Role;
}

type Key = UiLabelsOut['keys'][number];
const labelsPath = (tag: string) => `/api/v1/ui-labels/${encodeURIComponent(tag)}`;

/** The kiosk's own Vietnamese for a key, with a template's placeholders written `{name}` as the department types them. */
function vietnamese(vi: Labels, key: Key): string {
  if (key.key.startsWith('kind.')) return vi.kind[key.key.slice('kind.'.length) as ContentKind] ?? '';
  const value = vi[key.key as Exclude<keyof Labels, 'kind'>];
  if (typeof value === 'function')
    return (value as (...args: string[]) => string)(...key.placeholders.map((name) => `{${name}}`));
  return typeof value === 'string' ? value : '';
}

function missingBadge(set: UiLabelsOut): HTMLElement {
  const n = set.missing.length;
  return n === 0 ? badge('met', t('labelsComplete')) : badge('notmet', t('labelsMissing', { n, total: set.keys.length }));
}

export async function renderLabels(main: HTMLElement, _arg: string | undefined, viewer: Viewer): Promise<void> {
  const sets = await Promise.all(DEPARTMENT_LABEL_LANGS.map((tag) => api<UiLabelsOut>(labelsPath(tag))));
  const writable = viewer.role === 'admin' || viewer.role === 'department' || viewer.role === 'editor';
  const keys = sets[0]?.keys ?? [];
  const vi = labelsFor('vi');
  const inputs = new Map<string, HTMLInputElement>();
  const status = h('div', { id: 'labels-status', role: 'status' });

  const input = (set: UiLabelsOut, key: Key): HTMLInputElement => {
    const el = h('input', {
      type: 'text',
      lang: set.lang,
      name: `${set.lang}.${key.key}`,
      value: set.labels[key.key] ?? '',
      placeholder: `↳ ${vietnamese(vi, key)}`,
      'aria-label': `${languageName(set.lang)} — ${key.key}`,
      disabled: !writable,
      dataset: { lang: set.lang, key: key.key, ...(key.key in set.labels ? {} : { missing: '' }) },
    });
    inputs.set(`${set.lang}.${key.key}`, el);
    return el;
  };

  /** What the inputs of one language hold now: empty ones left out (they show in Vietnamese on the kiosk). */
  const entered = (tag: string): Record<string, string> => {
    const labels: Record<string, string> = {};
    for (const key of keys) {
      const value = inputs.get(`${tag}.${key.key}`)?.value.trim() ?? '';
      if (value) labels[key.key] = value;
    }
    return labels;
  };

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    status.replaceChildren();
    const saved: string[] = [];
    for (const set of sets) {
      const labels = entered(set.lang);
      if (JSON.stringify(labels) === JSON.stringify(set.labels)) continue;
      try {
        const out = await api<UiLabelsOut & { notified: number }>(labelsPath(set.lang), { method: 'PUT', body: { labels } });
        saved.push(t('labelsSavedOne', { lang: languageName(set.lang), n: out.notified }));
      } catch (failure) {
        // The languages before this one are saved; this one is not (the server says why), the rest not tried.
        status.append(
          saved.length ? h('p', { class: 'ok' }, `${t('saved')} ${saved.join(' · ')}`) : '',
          h('p', { class: 'warn', dataset: { refusal: set.lang } }, t('labelsRefused', { lang: languageName(set.lang) })),
          errorBox(failure),
        );
        if (failure instanceof ApiFailure && (failure.status === 401 || failure.status === 403))
          document.dispatchEvent(new CustomEvent('dashboard:auth', { detail: failure }));
        return;
      }
    }
    if (saved.length === 0) {
      status.replaceChildren(h('p', { class: 'muted' }, t('labelsUnchanged')));
      return;
    }
    await renderLabels(main, undefined, viewer);
    const again = main.querySelector('#labels-status');
    again?.replaceChildren(h('p', { class: 'ok', dataset: { saved: '' } }, `${t('saved')} ${saved.join(' · ')}`));
  };

  const head = h(
    'tr',
    {},
    h('th', {}, t('labelKey')),
    h('th', { lang: 'vi' }, t('labelVietnamese')),
    ...sets.map((set) =>
      h(
        'th',
        { dataset: { lang: set.lang } },
        h('span', { lang: set.lang }, languageName(set.lang)),
        h('br', {}),
        missingBadge(set),
        set.updatedBy ? h('div', { class: 'muted' }, `${set.updatedBy}, ${fmtTime(set.updatedAt)}`) : null,
      ),
    ),
  );
  const rows = keys.map((key) =>
    h(
      'tr',
      { dataset: { key: key.key } },
      h(
        'td',
        {},
        h('span', { class: 'mono' }, key.key),
        key.placeholders.length
          ? h(
              'div',
              { class: 'muted' },
              `${t('labelsKeep')} `,
              h('span', { class: 'mono' }, key.placeholders.map((p) => `{${p}}`).join(' ')),
            )
          : null,
      ),
      h('td', { lang: 'vi' }, vietnamese(vi, key)),
      ...sets.map((set) => h('td', {}, input(set, key))),
    ),
  );

  fill(
    main,
    h('h1', {}, t('navLabels')),
    h('p', { class: 'muted' }, t('labelsIntro')),
    h(
      'form',
      { id: 'labels-form', onsubmit: (event) => save(event) },
      h('section', { class: 'card' }, h('table', { id: 'labels-table' }, h('thead', {}, head), h('tbody', {}, ...rows))),
      writable
        ? h('button', { class: 'primary', type: 'submit', id: 'labels-save' }, t('saveLabels'))
        : h('p', { class: 'muted' }, t('labelsReadOnly')),
    ),
    status,
  );
}
