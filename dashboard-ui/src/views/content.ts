/**
 * The content library and its work: the list, a new item, and one item's page — its fields and targets, a translation
 * per language of the province (text in its own script, drawn with the kiosk's fonts), a file per translation with an
 * upload progress bar, the kiosk's own item view previewing the draft, what changed since the published version,
 * submit / approve / reject with a reason / publish / retire, the kiosks holding it and its plays per language.
 */

import { LANGUAGES, languageName } from '../../../kiosk-ui/src/i18n.js';
import type { ContentHolders, SiteOut } from '../../../protocol/api.js';
import type {
  ContentItemOut,
  ContentListOut,
  ContentStatsOut,
  ContentTargetOut,
  ContentTranslationOut,
  ContentUploadOut,
  ContentVersionOut,
} from '../../../protocol/api-dashboard.js';
import { CONTENT_KINDS } from '../../../protocol/constants.js';
import type { ContentKind, Role } from '../../../protocol/domain.js';
import type { ManifestItem } from '../../../protocol/manifest.js';
import { ApiFailure, api, type Upload, uploadFile } from '../api.js';
import { dailyBars } from '../charts.js';
import { enumLabel, fmtBytes, fmtTime, lang, t } from '../i18n.js';
import { badge, type Child, card, errorBox, fill, h, hashParams, link, qs, table } from '../ui.js';

export interface Viewer {
  username: string;
  role: Role;
}

const STATE_CLASS = { draft: 'none', in_review: 'equipped', published: 'met', retired: 'planned' } as const;
const SITE_KINDS = ['district', 'commune', 'station', 'gate', 'office'] as const;
const itemPath = (id: string) => `/api/v1/content/${encodeURIComponent(id)}`;
const can = (viewer: Viewer, ...roles: Role[]) => viewer.role === 'admin' || roles.includes(viewer.role);

function titleOf(item: ContentItemOut): string {
  const tr = item.current.translations;
  return (tr[lang()] ?? tr.vi ?? Object.values(tr)[0])?.title ?? item.id;
}

function stateBadge(item: ContentItemOut): HTMLElement {
  return badge(STATE_CLASS[item.current.state], enumLabel('state', item.current.state));
}

/** The workflow's next steps for this version, as buttons; the server decides, the page shows its refusal. */
function actionButtons(item: ContentItemOut, after: (changed: ContentItemOut) => void, status: HTMLElement): HTMLElement[] {
  const state = item.current.state;
  const actions: Array<'submit' | 'approve' | 'publish' | 'retire'> =
    state === 'draft'
      ? ['submit']
      : state === 'in_review'
        ? item.current.approvedBy
          ? ['publish']
          : ['approve']
        : state === 'published'
          ? ['retire']
          : [];
  return actions.map((action) =>
    h(
      'button',
      {
        type: 'button',
        class: action === 'publish' || action === 'approve' ? 'primary' : null,
        dataset: { action, item: item.id },
        onclick: async () => {
          try {
            const answer = await api<ContentItemOut | { item: ContentItemOut }>(`${itemPath(item.id)}/${action}`, {
              method: 'POST',
              body: {},
            });
            status.replaceChildren(h('p', { class: 'ok' }, t('done')));
            after('item' in answer ? answer.item : answer);
          } catch (error) {
            status.replaceChildren(errorBox(error));
          }
        },
      },
      t(action),
    ),
  );
}

function itemsTable(items: ContentItemOut[], reload: () => void, status: HTMLElement): HTMLElement {
  return table<ContentItemOut>(
    [
      { label: t('title'), cell: (i) => link(`#/item/${encodeURIComponent(i.id)}`, titleOf(i)) },
      { label: t('kind'), cell: (i) => enumLabel('ckind', i.kind) },
      { label: t('state'), cell: stateBadge },
      { label: t('languages'), cell: (i) => Object.keys(i.current.translations).map(languageName).join(', ') },
      { label: t('author'), cell: (i) => i.current.author },
      { label: t('created'), cell: (i) => fmtTime(i.createdAt) },
      { label: t('actions'), cell: (i) => actionButtons(i, reload, status) },
    ],
    items,
  );
}

export async function renderContent(main: HTMLElement, _arg: string | undefined, viewer: Viewer): Promise<void> {
  const status = h('div', {});
  const review = h('div', {});
  const library = h('div', {});
  const offset = Number(hashParams().get('offset') ?? 0) || 0;
  const reload = () => {
    api<ContentListOut>(`/api/v1/content${qs({ state: 'in_review', limit: 100 })}`).then(
      (data) =>
        fill(review, data.items.length ? itemsTable(data.items, reload, status) : h('p', { class: 'muted' }, t('noData'))),
      (error: unknown) => review.replaceChildren(errorBox(error)),
    );
    api<ContentListOut>(`/api/v1/content${qs({ limit: 100, offset })}`).then(
      (data) => fill(library, itemsTable(data.items, reload, status), h('p', { class: 'muted' }, String(data.total))),
      (error: unknown) => library.replaceChildren(errorBox(error)),
    );
  };
  reload();
  fill(
    main,
    h('h1', {}, t('contentTitle')),
    can(viewer, 'editor')
      ? h('p', {}, h('a', { href: '#/content-new', class: 'button primary', id: 'new-item' }, t('newItem')))
      : null,
    status,
    h('section', { class: 'card', id: 'review' }, h('h2', {}, t('reviewTitle')), review),
    card(t('contentTitle'), () => library),
  );
}

export function renderNewItem(main: HTMLElement): void {
  const status = h('div', {});
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'inline',
      id: 'new-item-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const kind = String(new FormData(form).get('kind')) as ContentKind;
        try {
          const item = await api<ContentItemOut>('/api/v1/content', { method: 'POST', body: { kind } });
          location.hash = `#/item/${encodeURIComponent(item.id)}`;
        } catch (error) {
          status.replaceChildren(errorBox(error));
        }
      },
    },
    h(
      'label',
      {},
      t('kind'),
      h(
        'select',
        { name: 'kind' },
        CONTENT_KINDS.map((k) => h('option', { value: k }, enumLabel('ckind', k))),
      ),
    ),
    h('button', { class: 'primary', type: 'submit' }, t('create')),
  );
  fill(main, h('h1', {}, t('newItem')), h('section', { class: 'card' }, form, status));
}

// ---- one item ---------------------------------------------------------------------------------------------

const isoToLocal = (iso: string | null) => (iso ? iso.slice(0, 16) : '');
const localToIso = (value: string) => (value ? new Date(value).toISOString() : null);

/**
 * Sites chosen from a searchable list. Editors may read the registry (`GET /api/v1/sites`), not the fleet table, so
 * the list is the registry's, searched here by name or id.
 */
export function sitePicker(chosen: Set<string>): HTMLElement {
  const results = h('div', { class: 'site-picker', id: 'site-results' });
  const chosenList = h('p', { class: 'muted', id: 'sites-chosen' });
  const showChosen = () => fill(chosenList, [...chosen].join(', ') || '—');
  const search = h('input', { type: 'search', name: 'site-q', placeholder: t('findSite') });
  let all: SiteOut[] = [];
  const fold = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  const show = () => {
    const q = fold(search.value.trim());
    const hits = all
      .filter((site) => site.kind !== 'district' && (!q || fold(site.name).includes(q) || site.id.includes(q)))
      .slice(0, 50);
    fill(
      results,
      hits.map((site) => {
        const box = h('input', { type: 'checkbox', value: site.id, checked: chosen.has(site.id), dataset: { site: site.id } });
        box.addEventListener('change', () => {
          if (box.checked) chosen.add(site.id);
          else chosen.delete(site.id);
          showChosen();
        });
        return h('label', {}, box, ` ${site.name} `, h('span', { class: 'muted' }, `(${enumLabel('kind', site.kind)})`));
      }),
    );
  };
  search.addEventListener('input', show);
  showChosen();
  api<{ sites: SiteOut[] }>('/api/v1/sites').then(
    (data) => {
      all = data.sites;
      show();
    },
    (error: unknown) => results.replaceChildren(errorBox(error)),
  );
  return h('div', {}, search, results, chosenList);
}

function fieldsForm(item: ContentItemOut, editable: boolean, onSaved: (item: ContentItemOut) => void): HTMLElement {
  const v = item.current;
  const status = h('div', {});
  const scope = v.targets.some((x) => x.scope === 'site')
    ? 'site'
    : v.targets.some((x) => x.scope === 'site_kind')
      ? 'site_kind'
      : 'all';
  const kinds = new Set(v.targets.flatMap((x) => (x.scope === 'site_kind' ? [x.kind] : [])));
  const sites = new Set(v.targets.flatMap((x) => (x.scope === 'site' ? [x.siteId] : [])));
  const radio = (value: string, label: string) =>
    h('label', {}, h('input', { type: 'radio', name: 'scope', value, checked: scope === value }), ` ${label}`);
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'stack',
      id: 'item-fields',
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const chosenScope = String(data.get('scope'));
        const targets: ContentTargetOut[] =
          chosenScope === 'site_kind'
            ? data.getAll('site-kind').map((k) => ({ scope: 'site_kind', kind: String(k) as (typeof SITE_KINDS)[number] }))
            : chosenScope === 'site'
              ? [...sites].map((siteId) => ({ scope: 'site', siteId }))
              : [{ scope: 'all' }];
        const topics = String(data.get('topics') ?? '')
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        try {
          const changed = await api<ContentItemOut>(itemPath(item.id), {
            method: 'PATCH',
            body: {
              topics,
              featured: data.get('featured') === 'on',
              validFrom: localToIso(String(data.get('validFrom') ?? '')),
              validTo: localToIso(String(data.get('validTo') ?? '')),
              targets,
            },
          });
          status.replaceChildren(h('p', { class: 'ok' }, t('saved')));
          onSaved(changed);
        } catch (error) {
          status.replaceChildren(errorBox(error));
        }
      },
    },
    h('label', {}, t('topicsLabel'), h('input', { name: 'topics', value: v.topics.join(', ') })),
    h('label', {}, h('input', { type: 'checkbox', name: 'featured', checked: v.featured }), ` ${t('featured')}`),
    h('label', {}, t('validFrom'), h('input', { type: 'datetime-local', name: 'validFrom', value: isoToLocal(v.validFrom) })),
    h('label', {}, t('validTo'), h('input', { type: 'datetime-local', name: 'validTo', value: isoToLocal(v.validTo) })),
    h(
      'fieldset',
      {},
      h('legend', {}, t('targets')),
      radio('all', t('targetAll')),
      radio('site_kind', t('targetKinds')),
      h(
        'div',
        { class: 'inline' },
        SITE_KINDS.map((k) =>
          h(
            'label',
            {},
            h('input', { type: 'checkbox', name: 'site-kind', value: k, checked: kinds.has(k) }),
            ` ${enumLabel('kind', k)}`,
          ),
        ),
      ),
      radio('site', t('targetSites')),
      sitePicker(sites),
    ),
    editable ? h('button', { type: 'submit', class: 'primary' }, t('saveItem')) : null,
  );
  if (!editable) for (const el of form.querySelectorAll('input, select, textarea')) el.setAttribute('disabled', '');
  return h('div', {}, form, status);
}

function uploadRefusal(error: unknown, file: File): string | null {
  if (!(error instanceof ApiFailure)) return null;
  if (error.code === 'type_mismatch' || error.code === 'unsupported_type' || error.status === 415)
    return t('wrongType', { type: file.type || file.name });
  if (error.code === 'too_large' || error.status === 413)
    return t('tooBig', { size: fmtBytes(file.size), max: error.message.match(/\d[\d ,.]*\s*[KMG]?i?B/)?.[0] ?? '—' });
  if (error.code === 'cancelled') return t('uploadCancelled');
  return null;
}

/** The upload that just finished, shown once more on the page drawn after it. */
let lastUpload: { itemId: string; tag: string; sent: number; text: string } | null = null;

function translationBlock(
  item: ContentItemOut,
  tag: string,
  translation: ContentTranslationOut | undefined,
  editable: boolean,
  onChanged: (item: ContentItemOut) => void,
): HTMLElement {
  const status = h('div', { class: 'tr-status' });
  const title = h('input', { type: 'text', name: 'title', lang: tag, value: translation?.title ?? '' });
  const summary = h('textarea', { name: 'summary', lang: tag, rows: 2 }, translation?.summary ?? '');
  const body = h('textarea', { name: 'body', lang: tag, rows: 5 }, translation?.body ?? '');
  const save = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      dataset: { save: tag },
      onclick: async () => {
        try {
          const changed = await api<ContentItemOut>(`${itemPath(item.id)}/translations/${encodeURIComponent(tag)}`, {
            method: 'PUT',
            body: { title: title.value, summary: summary.value, body: body.value || null },
          });
          status.replaceChildren(h('p', { class: 'ok' }, t('saved')));
          onChanged(changed);
        } catch (error) {
          status.replaceChildren(errorBox(error));
        }
      },
    },
    t('saveTranslation'),
  );
  const fileInput = h('input', { type: 'file', name: 'file', dataset: { file: tag } });
  const progress = h('progress', { max: 100, value: 0, hidden: true, dataset: { progress: tag } });
  const progressText = h('span', { class: 'muted' });
  const cancel = h('button', { type: 'button', hidden: true, dataset: { cancel: tag } }, t('cancel'));
  let running: Upload<ContentUploadOut> | null = null;
  cancel.addEventListener('click', () => running?.cancel());
  const uploadButton = h(
    'button',
    {
      type: 'button',
      dataset: { upload: tag },
      onclick: async () => {
        const file = fileInput.files?.[0];
        if (!file) return;
        progress.hidden = false;
        cancel.hidden = false;
        progress.value = 0;
        running = uploadFile<ContentUploadOut>(
          `${itemPath(item.id)}/translations/${encodeURIComponent(tag)}/file`,
          file,
          (sent, total) => {
            progress.max = total || 1;
            progress.value = sent;
            progress.dataset.sent = String(sent);
            progressText.textContent = ` ${fmtBytes(sent)} / ${fmtBytes(total)}`;
          },
        );
        try {
          const answer = await running.done;
          // The page is drawn again with the new file; the finished bar and the message stay on it.
          lastUpload = {
            itemId: item.id,
            tag,
            sent: file.size,
            text: t('uploadDone', { name: file.name, size: fmtBytes(answer.file.size) }),
          };
          onChanged(answer.item);
        } catch (error) {
          const refusal = uploadRefusal(error, file);
          status.replaceChildren(
            refusal ? h('div', { class: 'error-box', role: 'alert', dataset: { refusal: tag } }, refusal) : errorBox(error),
          );
        } finally {
          running = null;
          cancel.hidden = true;
        }
      },
    },
    t('upload'),
  );
  if (lastUpload && lastUpload.itemId === item.id && lastUpload.tag === tag) {
    progress.hidden = false;
    progress.max = lastUpload.sent || 1;
    progress.value = lastUpload.sent;
    progress.dataset.sent = String(lastUpload.sent);
    status.replaceChildren(h('p', { class: 'ok', dataset: { uploaded: tag } }, lastUpload.text));
    lastUpload = null;
  }
  const file = translation?.file;
  return h(
    'section',
    { class: 'translation', dataset: { lang: tag } },
    h('h3', { lang: tag }, languageName(tag)),
    h('label', {}, t('title'), title),
    h('label', {}, t('summary'), summary),
    h('label', {}, t('body'), body),
    editable ? save : null,
    h(
      'div',
      { class: 'upload' },
      h('strong', {}, `${t('file')}: `),
      file
        ? h(
            'a',
            { href: `/api/v1/content/files/${file.sha256}`, dataset: { hasFile: tag } },
            `${file.mime} · ${fmtBytes(file.size)}`,
          )
        : t('noFile'),
      editable && translation ? [' ', fileInput, uploadButton, progress, progressText, cancel] : null,
    ),
    status,
  );
}

/** The draft as a manifest item, for the kiosk's item view. */
function asManifestItem(item: ContentItemOut): ManifestItem | null {
  const v = item.current;
  const translations = Object.fromEntries(
    Object.entries(v.translations).map(([tag, tr]) => [
      tag,
      {
        title: tr.title,
        summary: tr.summary,
        ...(tr.body ? { body: tr.body } : {}),
        ...(tr.file ? { file: { ...tr.file } } : {}),
      },
    ]),
  );
  if (Object.keys(translations).length === 0) return null;
  return {
    id: item.id,
    version: v.version,
    kind: item.kind,
    topics: v.topics,
    featured: v.featured,
    validFrom: v.validFrom,
    validTo: v.validTo,
    translations,
  } as ManifestItem;
}

function previewSection(item: ContentItemOut): HTMLElement {
  const manifestItem = asManifestItem(item);
  if (!manifestItem) return h('p', { class: 'muted' }, t('noData'));
  const tags = Object.keys(manifestItem.translations);
  const choose = h(
    'select',
    { name: 'preview-lang', 'aria-label': t('previewLang') },
    tags.map((tag) => h('option', { value: tag }, languageName(tag))),
  );
  const frame = h('iframe', { class: 'kiosk-preview', id: 'kiosk-preview', src: '/dashboard/preview.html', title: t('preview') });
  let ready = false;
  const send = () => {
    if (ready) frame.contentWindow?.postMessage({ type: 'preview', item: manifestItem, lang: choose.value }, location.origin);
  };
  const onMessage = (event: MessageEvent) => {
    if (!frame.isConnected) return window.removeEventListener('message', onMessage);
    if (event.origin === location.origin && event.source === frame.contentWindow && event.data?.type === 'preview-ready') {
      ready = true;
      send();
    }
  };
  window.addEventListener('message', onMessage);
  choose.addEventListener('change', send);
  return h('div', {}, h('label', {}, `${t('previewLang')} `, choose), frame);
}

type Change = { field: string; before: string; after: string };

function describe(v: ContentVersionOut): Record<string, string> {
  const out: Record<string, string> = {
    [t('topicsLabel')]: v.topics.join(', '),
    [t('featured')]: v.featured ? '✓' : '✗',
    [t('validFrom')]: fmtTime(v.validFrom),
    [t('validTo')]: fmtTime(v.validTo),
    [t('targets')]: v.targets
      .map((x) => (x.scope === 'all' ? t('targetAll') : x.scope === 'site_kind' ? enumLabel('kind', x.kind) : x.siteId))
      .join(', '),
  };
  for (const [tag, tr] of Object.entries(v.translations)) {
    const name = languageName(tag);
    out[`${name} · ${t('title')}`] = tr.title;
    out[`${name} · ${t('summary')}`] = tr.summary;
    out[`${name} · ${t('body')}`] = tr.body ?? '';
    out[`${name} · ${t('file')}`] = tr.file ? `${tr.file.mime} · ${fmtBytes(tr.file.size)} · ${tr.file.sha256.slice(0, 12)}` : '';
  }
  return out;
}

/** What the version being worked on changes against the published one (the approver reads this before approving). */
function changesSection(item: ContentItemOut): HTMLElement {
  const published = item.published ?? (item.publishedVersion === item.current.version ? item.current : null);
  if (item.publishedVersion === item.current.version) return h('p', { class: 'muted', id: 'changes' }, t('noChanges'));
  const after = describe(item.current);
  const before = published ? describe(published) : {};
  const changes: Change[] = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .map((field) => ({ field, before: before[field] ?? '', after: after[field] ?? '' }))
    .filter((c) => c.before !== c.after);
  return h(
    'div',
    { id: 'changes' },
    published ? null : h('p', { class: 'muted' }, t('noPublished')),
    changes.length === 0
      ? h('p', { class: 'muted' }, t('noChanges'))
      : table<Change>(
          [
            { label: t('field'), cell: (c) => c.field },
            { label: t('before'), cell: (c) => (c.before ? h('span', { class: 'diff-old' }, c.before) : '—') },
            { label: t('after'), cell: (c) => (c.after ? h('span', { class: 'diff-new' }, c.after) : '—') },
          ],
          changes,
        ),
  );
}

function rejectForm(item: ContentItemOut, after: (item: ContentItemOut) => void): HTMLElement {
  const status = h('div', {});
  const reason = h('textarea', { name: 'reason', rows: 2, required: true, placeholder: t('rejectReason') });
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'stack',
      id: 'reject-form',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          after(await api<ContentItemOut>(`${itemPath(item.id)}/reject`, { method: 'POST', body: { reason: reason.value } }));
        } catch (error) {
          status.replaceChildren(errorBox(error));
        }
      },
    },
    h('label', {}, t('rejectReason'), reason),
    h('button', { type: 'submit', dataset: { action: 'reject' } }, t('reject')),
  );
  return h('div', {}, form, status);
}

async function holdersSection(item: ContentItemOut): Promise<Child> {
  const data = await api<ContentHolders>(`${itemPath(item.id)}/holders`);
  if (data.devices.length === 0) return h('p', { class: 'muted', id: 'holders' }, t('noneYet'));
  return h(
    'div',
    { id: 'holders' },
    table(
      [
        { label: t('devices'), cell: (d) => link(`#/device/${encodeURIComponent(d.deviceId)}`, d.deviceId) },
        { label: t('site'), cell: (d) => d.siteName ?? d.siteId ?? '—' },
        {
          label: t('holdsIt'),
          cell: (d) =>
            d.holds ? badge('met', t('holdsYes')) : d.issued ? badge('equipped', t('holdsIssued')) : badge('none', t('holdsNo')),
        },
        {
          label: t('syncState'),
          cell: (d) => (d.syncProblem ? badge('notmet', enumLabel('sync', d.syncState)) : enumLabel('sync', d.syncState)),
        },
        { label: t('lastSeen'), cell: (d) => fmtTime(d.lastSeen) },
      ],
      data.devices,
    ),
  );
}

async function playsSection(item: ContentItemOut): Promise<Child> {
  const data = await api<ContentStatsOut>(`${itemPath(item.id)}/stats`);
  return dailyBars(data.days, languageName);
}

export async function renderItem(main: HTMLElement, id: string | undefined, viewer: Viewer): Promise<void> {
  const item = await api<ContentItemOut>(itemPath(id ?? ''));
  const rerender = () => void renderItem(main, item.id, viewer).catch((error: unknown) => main.replaceChildren(errorBox(error)));
  const status = h('div', { id: 'item-status' });
  const v = item.current;
  const editable = can(viewer, 'editor') && v.state === 'draft';
  const reviewing = can(viewer, 'approver') && v.state === 'in_review' && !v.approvedBy;
  const translationTags = [...new Set([...LANGUAGES.map((l) => l.tag), ...Object.keys(v.translations)])];
  fill(
    main,
    h('h1', {}, titleOf(item)),
    h(
      'p',
      { id: 'item-head' },
      `${enumLabel('ckind', item.kind)} · `,
      stateBadge(item),
      ` · ${t('version')} ${v.version}`,
      item.publishedVersion ? ` · ${enumLabel('state', 'published')}: ${item.publishedVersion}` : '',
      v.approvedBy ? ` · ${t('approvedBy', { by: v.approvedBy })}` : '',
    ),
    item.rejection && v.state === 'draft'
      ? h(
          'p',
          { class: 'reject-reason', id: 'rejection', role: 'status' },
          t('rejectedBecause', { by: item.rejection.by, reason: item.rejection.reason }),
        )
      : null,
    h('div', { class: 'inline', id: 'item-actions' }, actionButtons(item, rerender, status)),
    reviewing ? rejectForm(item, rerender) : null,
    status,
    h('section', { class: 'card' }, h('h2', {}, t('changes')), changesSection(item)),
    h(
      'div',
      { class: 'editor-grid' },
      h(
        'div',
        {},
        h('section', { class: 'card' }, h('h2', {}, t('targets')), fieldsForm(item, editable, rerender)),
        h(
          'section',
          { class: 'card', id: 'translations' },
          h('h2', {}, t('translations')),
          translationTags.map((tag) => translationBlock(item, tag, v.translations[tag], editable, rerender)),
        ),
      ),
      h('section', { class: 'card' }, h('h2', {}, t('preview')), previewSection(item)),
    ),
    card(t('holders'), () => holdersSection(item)),
    card(t('plays'), () => playsSection(item)),
  );
}
