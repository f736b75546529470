/**
 * Alerts, and the map: sites placed by latitude/longitude in an SVG (no tiles, works offline) over the packaged base
 * map when the server has one (`GET /api/v1/map/base`), or grouped by district when a site has no coordinates.
 */
import type { MapBase } from '../../../protocol/api.js';
import type { AlertOut, AlertsOut, MapOut, SiteState } from '../../../protocol/api-dashboard.js';
import { ALERT_TYPES } from '../../../protocol/constants.js';
import { ApiFailure, api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { badge, card, fill, h, hashParams, link, qs, s, table } from '../ui.js';

const COLOURS: Record<SiteState, string> = { operational: '#1b7f3b', equipped: '#b36b00', planned: '#5c6bc0', none: '#999' };

function alertValue(a: AlertOut): string {
  if (a.type === 'disk') return `${Math.round(a.value ?? 0)}%`;
  if (a.type === 'download_failures') return `×${a.value}${a.detail ? ` — ${a.detail}` : ''}`;
  if (a.type === 'clock_skew') return a.detail ?? `×${a.value}`;
  if (a.type === 'not_synced' || a.type === 'manifest_expired') return a.detail ?? '';
  return '';
}

export async function renderAlerts(main: HTMLElement): Promise<void> {
  const params = hashParams();
  const type = params.get('type') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const data = await api<AlertsOut>(`/api/v1/alerts${qs({ type, offset, limit: 100 })}`);
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
          table<AlertOut>(
            [
              { label: t('severity'), cell: (a) => badge(a.severity, t(`severity_${a.severity}`)) },
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

interface MapSite {
  id: string;
  name: string;
  districtName: string | null;
  communeName: string | null;
  lat: number | null;
  lon: number | null;
  state: SiteState;
}

function legend(): HTMLElement {
  return h(
    'p',
    { class: 'legend' },
    (Object.entries(COLOURS) as [SiteState, string][]).map(([state, colour]) =>
      h('span', {}, h('i', { style: `background:${colour}` }), t(state)),
    ),
  );
}

function siteDot(site: MapSite, cx: number, cy: number, r: number, label: boolean): SVGAElement {
  const a = s('a', { href: `#/site/${encodeURIComponent(site.id)}` });
  a.append(
    s(
      'circle',
      { cx: cx.toFixed(1), cy: cy.toFixed(1), r, fill: COLOURS[site.state] },
      s('title', {}, `${site.name} (${site.communeName ?? ''}) — ${t(site.state)}`),
    ),
    label ? s('text', { x: (cx + 7).toFixed(1), y: (cy + 4).toFixed(1) }, site.name) : '',
  );
  return a;
}

/** Sites over the server's pre-projected base map (countries, national borders, province). */
function baseMap(base: MapBase, sites: MapSite[]): SVGSVGElement {
  const svg = s('svg', {
    viewBox: `0 0 ${base.width} ${base.height}`,
    width: '100%',
    id: 'site-map',
    style: 'background:#eef3f7',
  });
  for (const c of base.countries)
    svg.append(s('path', { d: c.path, fill: c.id === 'VNM' ? '#fdfcf7' : '#e8e8e8', stroke: '#bbb' }));
  for (const b of base.borders)
    svg.append(s('path', { d: b.path, fill: 'none', stroke: '#b3261e', 'stroke-width': 1.5, class: 'border' }));
  if (base.province) svg.append(s('path', { d: base.province.path, fill: 'none', stroke: '#0b4f8a', 'stroke-dasharray': '4 2' }));
  const where = new Map(base.sites.map((p) => [p.id, p]));
  for (const site of sites) {
    const p = where.get(site.id);
    if (p) svg.append(siteDot(site, p.x, p.y, sites.length > 2000 ? 2 : 5, sites.length <= 200));
  }
  svg.append(s('text', { x: 6, y: base.height - 6, class: 'muted' }, base.source));
  return svg;
}

/** Sites by latitude/longitude alone, one scale for both axes (a degree of longitude shrunk by cos(latitude)). */
function placedMap(sites: Array<MapSite & { lat: number; lon: number }>): SVGSVGElement {
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
  const X = (lon: number) => w / 2 + (lon - (minLon + maxLon) / 2) * shrink * scale;
  const Y = (lat: number) => ht / 2 - (lat - (minLat + maxLat) / 2) * scale;
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', id: 'site-map', style: 'background:#eef3f7' });
  for (const site of sites) svg.append(siteDot(site, X(site.lon), Y(site.lat), sites.length > 2000 ? 2 : 5, sites.length <= 200));
  return svg;
}

function groupedByDistrict(sites: MapSite[]): HTMLElement {
  const groups = new Map<string, MapSite[]>();
  for (const site of sites) {
    const key = site.districtName ?? t('mapUnknownDistrict');
    const list = groups.get(key) ?? [];
    list.push(site);
    groups.set(key, list);
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
              fill: COLOURS[site.state],
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

async function loadBase(): Promise<MapBase | null> {
  try {
    return await api<MapBase>('/api/v1/map/base');
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return null;
    throw error;
  }
}

export async function renderMap(main: HTMLElement): Promise<void> {
  fill(
    main,
    h('h1', {}, t('mapTitle')),
    legend(),
    card(null, async () => {
      const [data, base] = await Promise.all([api<MapOut>('/api/v1/dashboard/map'), loadBase()]);
      const sites: MapSite[] = data.sites.map(([id, name, , districtName, communeName, lat, lon, state]) => ({
        id,
        name,
        districtName,
        communeName,
        lat,
        lon,
        state,
      }));
      const placed = sites.filter((x): x is MapSite & { lat: number; lon: number } => x.lat !== null && x.lon !== null);
      const unplaced = sites.filter((x) => x.lat === null || x.lon === null);
      return [
        base ? baseMap(base, placed) : placed.length ? placedMap(placed) : null,
        unplaced.length ? [h('h2', {}, t('mapNoCoords')), groupedByDistrict(unplaced)] : null,
      ];
    }),
  );
}
