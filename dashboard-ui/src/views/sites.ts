/**
 * The district → commune → site table, one page at a time from the server (10 000 sites never travel at once), with
 * filter and sort kept in the address so a view can be shared; and one site's page.
 */

import type {
  DevicesOut,
  DistrictsOut,
  SiteOneOut,
  SitePageOut,
  SiteRowOut,
  SiteState,
} from '../../../protocol/api-dashboard.js';
import { api } from '../api.js';
import { enumLabel, fmtDay, fmtTime, type LabelKey, t } from '../i18n.js';
import { badge, type Column, card, fill, h, hashParams, link, qs, table } from '../ui.js';

const PAGE = 50;
const STATES: SiteState[] = ['operational', 'equipped', 'planned', 'none'];

function stateBadge(state: SiteState): HTMLElement {
  return badge(state, t(state));
}

function problemsCell(r: SiteRowOut): (HTMLElement | string)[] | string {
  const parts: HTMLElement[] = [];
  if (r.offline > 0) parts.push(h('span', { class: 'bad' }, t('offlineN', { n: r.offline })));
  if (r.syncFailing > 0) parts.push(h('span', { class: 'warn' }, t('syncFailN', { n: r.syncFailing })));
  return parts.length ? parts.flatMap((p, i) => (i ? [' · ', p] : [p])) : '—';
}

function seqCell(r: SiteRowOut): string {
  if (r.contentSeqMin === null) return '—';
  return r.contentSeqMin === r.contentSeqMax ? String(r.contentSeqMin) : `${r.contentSeqMin}–${r.contentSeqMax}`;
}

interface SiteListState {
  q: string;
  district: string;
  kind: string;
  state: string;
  sort: string;
  dir: string;
  offset: number;
}

function siteColumns(sortState: SiteListState, onSort: (key: string) => void): Column<SiteRowOut>[] {
  const sortable = (key: string, label: string, num = false) => ({
    label: h(
      'button',
      { type: 'button', onclick: () => onSort(key), dataset: { sort: key } },
      label,
      sortState.sort === key ? (sortState.dir === 'asc' ? ' ▲' : ' ▼') : '',
    ),
    num,
  });
  return [
    { ...sortable('district', t('district')), cell: (r) => r.districtName ?? '—' },
    {
      ...sortable('commune', t('commune')),
      cell: (r) => (r.communeId ? link(`#/site/${encodeURIComponent(r.communeId)}`, r.communeName ?? r.communeId) : '—'),
    },
    { ...sortable('name', t('site')), cell: (r) => link(`#/site/${encodeURIComponent(r.id)}`, r.name) },
    { ...sortable('kind', t('kind')), cell: (r) => enumLabel('kind', r.kind) },
    { ...sortable('devices', t('devices'), true), cell: (r) => String(r.devices) },
    {
      label: `${t('equipped')} / ${t('operational')} / ${t('planned')}`,
      num: true,
      cell: (r) => `${r.counting} / ${r.operational} / ${r.planned}`,
    },
    { ...sortable('state', t('state')), cell: (r) => stateBadge(r.state) },
    { ...sortable('lastSeen', t('lastSeen')), cell: (r) => fmtTime(r.lastSeen) },
    { label: t('contentSeq'), num: true, cell: seqCell },
    { ...sortable('problems', t('problems')), cell: problemsCell },
  ];
}

function readState(): SiteListState {
  const params = hashParams();
  return {
    q: params.get('q') ?? '',
    district: params.get('district') ?? '',
    kind: params.get('kind') ?? '',
    state: params.get('state') ?? '',
    sort: params.get('sort') ?? 'district',
    dir: params.get('dir') ?? 'asc',
    offset: Number(params.get('offset') ?? 0) || 0,
  };
}

function go(state: SiteListState): void {
  location.hash = `#/sites${qs({ ...state, offset: state.offset || undefined })}`;
}

export async function renderSites(main: HTMLElement): Promise<void> {
  const state = readState();
  const { districts } = await api<DistrictsOut>('/api/v1/dashboard/districts');
  const option = (value: string, label: string, current: string) => h('option', { value, selected: value === current }, label);
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'site-filter',
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(event.target as HTMLFormElement);
        const get = (k: string) => String(data.get(k) ?? '');
        go({ ...state, q: get('q'), district: get('district'), kind: get('kind'), state: get('state'), offset: 0 });
      },
    },
    h('label', {}, t('search'), h('input', { name: 'q', value: state.q, type: 'search' })),
    h(
      'label',
      {},
      t('district'),
      h(
        'select',
        { name: 'district' },
        option('', t('all'), state.district),
        districts.map((d) => option(d.id, d.name, state.district)),
      ),
    ),
    h(
      'label',
      {},
      t('kind'),
      h(
        'select',
        { name: 'kind' },
        option('', t('all'), state.kind),
        ['commune', 'station', 'gate', 'office'].map((k) => option(k, enumLabel('kind', k), state.kind)),
      ),
    ),
    h(
      'label',
      {},
      t('state'),
      h(
        'select',
        { name: 'state' },
        option('', t('all'), state.state),
        [...STATES, 'problem' as const].map((k) => option(k, t(k as LabelKey), state.state)),
      ),
    ),
    h('button', { class: 'primary', type: 'submit' }, t('apply')),
  );
  const onSort = (key: string) =>
    go({ ...state, sort: key, dir: state.sort === key && state.dir === 'asc' ? 'desc' : 'asc', offset: 0 });
  fill(
    main,
    h('h1', {}, t('sitesTitle')),
    form,
    card(null, async () => {
      const page = await api<SitePageOut>(`/api/v1/dashboard/sites${qs({ ...state, limit: PAGE, offset: state.offset })}`);
      const from = page.total === 0 ? 0 : page.offset + 1;
      const to = page.offset + page.sites.length;
      return [
        h('div', { id: 'site-table' }, table(siteColumns(state, onSort), page.sites)),
        h(
          'div',
          { class: 'pager' },
          h(
            'button',
            {
              type: 'button',
              disabled: page.offset === 0,
              onclick: () => go({ ...state, offset: Math.max(0, page.offset - PAGE) }),
            },
            t('prev'),
          ),
          h('span', { id: 'page-info' }, t('pageOf', { from, to, total: page.total })),
          h(
            'button',
            { type: 'button', disabled: to >= page.total, onclick: () => go({ ...state, offset: page.offset + PAGE }) },
            t('next'),
          ),
        ),
      ];
    }),
  );
}

function deviceTable(devices: DevicesOut['devices']): HTMLElement {
  return table(
    [
      { label: 'ID', cell: (d) => link(`#/device/${encodeURIComponent(d.id)}`, d.id) },
      { label: t('kind'), cell: (d) => d.kind },
      { label: t('status'), cell: (d) => enumLabel('dstatus', d.status) },
      { label: t('online'), cell: (d) => (d.online ? badge('operational', t('online')) : badge('none', t('offline'))) },
      { label: t('lastSeen'), cell: (d) => fmtTime(d.lastSeen) },
      { label: t('equippedAt'), cell: (d) => fmtTime(d.equippedAt) },
      { label: t('contentSeq'), num: true, cell: (d) => d.contentSeq ?? '—' },
    ],
    devices,
  );
}

export async function renderSite(main: HTMLElement, id = ''): Promise<void> {
  const { site } = await api<SiteOneOut>(`/api/v1/sites/${encodeURIComponent(id)}`);
  fill(
    main,
    h('h1', {}, t('siteTitle', { name: site.name })),
    h(
      'section',
      { class: 'card' },
      h(
        'dl',
        { class: 'kv' },
        h('dt', {}, 'ID'),
        h('dd', { class: 'mono' }, site.id),
        h('dt', {}, t('kind')),
        h('dd', {}, enumLabel('kind', site.kind)),
        h('dt', {}, t('parent')),
        h('dd', {}, site.parentId ? link(`#/site/${encodeURIComponent(site.parentId)}`, site.parentId) : '—'),
        h('dt', {}, t('coordinates')),
        h('dd', {}, site.lat !== null ? `${site.lat}, ${site.lon}` : '—'),
        site.validTo ? [h('dt', {}, t('state')), h('dd', { class: 'warn' }, t('abolished', { d: fmtDay(site.validTo) }))] : null,
      ),
    ),
    site.kind === 'commune'
      ? card(t('site'), async () => {
          const page = await api<SitePageOut>(`/api/v1/dashboard/sites${qs({ commune: site.id, limit: 200, sort: 'name' })}`);
          return table<SiteRowOut>(
            [
              { label: t('site'), cell: (r) => link(`#/site/${encodeURIComponent(r.id)}`, r.name) },
              { label: t('kind'), cell: (r) => enumLabel('kind', r.kind) },
              { label: t('devices'), num: true, cell: (r) => String(r.devices) },
              { label: t('state'), cell: (r) => stateBadge(r.state) },
              { label: t('lastSeen'), cell: (r) => fmtTime(r.lastSeen) },
            ],
            page.sites,
          );
        })
      : null,
    card(t('devices'), async () =>
      deviceTable((await api<DevicesOut>(`/api/v1/devices${qs({ site: site.id, limit: 200 })}`)).devices),
    ),
  );
}
