// Alerts, and the map: sites placed by latitude/longitude in an SVG (no tiles, works offline), or grouped
// by district when a site has no coordinates; coloured by state.
import { api } from './api.js';
import { fmtTime, t } from './i18n.js';
import { badge, card, fill, h, link, qs, s, table } from './ui.js';

const COLOURS = { operational: '#1b7f3b', equipped: '#b36b00', planned: '#5c6bc0', none: '#999' };
const ALERT_TYPES = ['offline', 'disk', 'not_synced', 'clock_skew', 'download_failures', 'manifest_expired'];

function alertValue(a) {
  if (a.type === 'disk') return `${Math.round(a.value)}%`;
  if (a.type === 'download_failures') return `×${a.value}${a.detail ? ` — ${a.detail}` : ''}`;
  if (a.type === 'clock_skew') return a.detail ?? `×${a.value}`;
  if (a.type === 'not_synced' || a.type === 'manifest_expired') return a.detail ?? '';
  return '';
}

export async function renderAlerts(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const type = params.get('type') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const data = await api(`/api/v1/alerts${qs({ type, offset, limit: 100 })}`);
  const filter = h(
    'p',
    {},
    link('#/alerts', `${t('all')} (${Object.values(data.counts).reduce((a, b) => a + b, 0)})`),
    ALERT_TYPES.map((k) => [' · ', link(`#/alerts?type=${k}`, `${t(`alert_${k}`)} (${data.counts[k] ?? 0})`)]),
  );
  const rows = data.alerts;
  fill(
    main,
    h('h1', {}, t('alertsTitle')),
    filter,
    rows.length === 0
      ? h('p', { class: 'ok', id: 'no-alerts' }, t('noAlerts'))
      : h(
          'div',
          { id: 'alert-table' },
          table(
            [
              { label: t('severity'), cell: (a) => badge(a.severity, a.severity) },
              { label: t('kind'), cell: (a) => t(`alert_${a.type}`) },
              { label: t('district'), cell: (a) => a.districtName ?? '—' },
              {
                label: t('site'),
                cell: (a) => (a.siteId ? link(`#/site/${encodeURIComponent(a.siteId)}`, a.siteName ?? a.siteId) : '—'),
              },
              { label: t('devices'), cell: (a) => link(`#/device/${encodeURIComponent(a.deviceId)}`, a.deviceId) },
              { label: t('since'), cell: (a) => fmtTime(a.since) },
              { label: t('detail'), cell: alertValue },
            ],
            rows,
          ),
        ),
    data.total > offset + rows.length ? link(`#/alerts${qs({ type, offset: offset + rows.length })}`, t('next')) : null,
  );
}

function legend() {
  return h(
    'p',
    { class: 'legend' },
    Object.entries(COLOURS).map(([state, colour]) => h('span', {}, h('i', { style: `background:${colour}` }), t(state))),
  );
}

/** Sites by latitude/longitude, one scale for both axes (a degree of longitude shrunk by cos(latitude)). */
function placedMap(sites) {
  const w = 800;
  const ht = 520;
  const pad = 40;
  const lats = sites.map((x) => x.lat);
  const lons = sites.map((x) => x.lon);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const shrink = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const scale = Math.min(
    (w - 2 * pad) / Math.max((maxLon - minLon) * shrink, 0.01),
    (ht - 2 * pad) / Math.max(maxLat - minLat, 0.01),
  );
  const X = (lon) => w / 2 + (lon - (minLon + maxLon) / 2) * shrink * scale;
  const Y = (lat) => ht / 2 - (lat - (minLat + maxLat) / 2) * scale;
  const labelled = sites.length <= 200;
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', id: 'site-map', style: 'background:#eef3f7' });
  for (const site of sites) {
    const [cx, cy] = [X(site.lon), Y(site.lat)];
    const a = s('a', { href: `#/site/${encodeURIComponent(site.id)}` });
    a.append(
      s(
        'circle',
        { cx: cx.toFixed(1), cy: cy.toFixed(1), r: sites.length > 2000 ? 2 : 5, fill: COLOURS[site.state] ?? '#999' },
        s('title', {}, `${site.name} (${site.communeName ?? ''}) — ${t(site.state)}`),
      ),
      labelled ? s('text', { x: (cx + 7).toFixed(1), y: (cy + 4).toFixed(1) }, site.name) : null,
    );
    svg.append(a);
  }
  return svg;
}

function groupedByDistrict(sites) {
  const groups = new Map();
  for (const site of sites) {
    const key = site.districtName ?? t('mapUnknownDistrict');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(site);
  }
  return h(
    'div',
    { class: 'charts', id: 'district-groups' },
    [...groups].map(([district, list]) => {
      const cols = 12;
      const size = 16;
      const rows = Math.ceil(list.length / cols);
      const svg = s('svg', { viewBox: `0 0 ${cols * size} ${Math.max(1, rows) * size}`, width: '100%' });
      list.forEach((site, i) => {
        const a = s('a', { href: `#/site/${encodeURIComponent(site.id)}` });
        a.append(
          s(
            'rect',
            {
              x: (i % cols) * size + 1,
              y: Math.floor(i / cols) * size + 1,
              width: size - 2,
              height: size - 2,
              rx: 3,
              fill: COLOURS[site.state] ?? '#999',
            },
            s('title', {}, `${site.name} — ${t(site.state)}`),
          ),
        );
        svg.append(a);
      });
      return h('figure', { style: 'margin:0' }, h('figcaption', {}, h('strong', {}, district), ` (${list.length})`), svg);
    }),
  );
}

export async function renderMap(main) {
  fill(
    main,
    h('h1', {}, t('mapTitle')),
    legend(),
    card(null, async () => {
      const data = await api('/api/v1/dashboard/map');
      const sites = data.sites.map((row) => Object.fromEntries(data.columns.map((c, i) => [c, row[i]])));
      const placed = sites.filter((x) => Number.isFinite(x.lat) && Number.isFinite(x.lon));
      const unplaced = sites.filter((x) => !(Number.isFinite(x.lat) && Number.isFinite(x.lon)));
      return [
        placed.length ? placedMap(placed) : null,
        unplaced.length ? [h('h2', {}, t('mapNoCoords')), groupedByDistrict(unplaced)] : null,
      ];
    }),
  );
}
