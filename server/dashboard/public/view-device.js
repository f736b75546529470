// One device: its facts, health charts over 24 h / 7 d / 30 d, events, commands with a form to send one,
// and its content sync state.
import { ApiFailure, api, listOf, objectOf } from './api.js';
import { lineChart } from './charts.js';
import { fmtTime, t } from './i18n.js';
import { badge, card, errorBox, fill, h, link, qs, table } from './ui.js';

const RANGES = {
  '24h': { ms: 86_400_000, resolution: 'raw' },
  '7d': { ms: 7 * 86_400_000, resolution: 'hour' },
  '30d': { ms: 30 * 86_400_000, resolution: 'hour' },
};
const COMMAND_TYPES = ['sync_now', 'reboot', 'restart_agent', 'set_config', 'screenshot'];

const num = (...values) => {
  for (const v of values) if (v !== null && v !== undefined && Number.isFinite(Number(v))) return Number(v);
  return Number.NaN;
};
const tsOf = (p) =>
  num(p.receivedTs, p.received_ts, p.ts, p.hour, p.deviceTs, typeof p.time === 'string' ? Date.parse(p.time) : p.time);

async function healthCharts(id, rangeKey) {
  const range = RANGES[rangeKey];
  const to = Date.now();
  const from = to - range.ms;
  const data = await api(`/api/v1/devices/${encodeURIComponent(id)}/health${qs({ from, to, resolution: range.resolution })}`);
  const samples = listOf(data, 'samples', 'points', 'health')
    .map((p) => ({ ...p, _ts: tsOf(p) }))
    .sort((a, b) => a._ts - b._ts);
  const series = (pick) => samples.map((p) => ({ ts: p._ts, value: pick(p) }));
  return h(
    'div',
    { class: 'charts', id: 'health-charts' },
    lineChart(
      t('cpu'),
      series((p) => num(p.cpuLoad, p.cpuAvg, p.cpu_avg, p.cpu)),
      { from, to, yMax: 100 },
    ),
    lineChart(
      t('mem'),
      series((p) => num(p.memUsed, p.memAvg, p.mem_avg, p.mem)),
      { from, to, yMax: 100 },
    ),
    lineChart(
      t('disk'),
      series((p) => num(p.diskUsed, p.diskUsedMax, p.disk_used_max, p.disk)),
      { from, to, yMax: 100, limit: 90 },
    ),
    lineChart(
      t('temp'),
      series((p) => num(p.tempC, p.tempMax, p.temp_max)),
      { from, to },
    ),
  );
}

function healthSection(id) {
  const body = h('div', {});
  const buttons = Object.keys(RANGES).map((key) =>
    h('button', { type: 'button', dataset: { range: key }, onclick: () => show(key) }, t(`range${key}`)),
  );
  function show(key) {
    for (const b of buttons) b.classList.toggle('on', b.dataset.range === key);
    body.replaceChildren(h('p', { class: 'muted' }, t('loading')));
    healthCharts(id, key).then(
      (el) => body.replaceChildren(el),
      (error) => body.replaceChildren(errorBox(error)),
    );
  }
  show('24h');
  return h('section', { class: 'card' }, h('h2', {}, t('health')), h('div', { class: 'tabs' }, buttons), body);
}

async function events(id, device) {
  const rows =
    device.events ??
    listOf(await api(`/api/v1/dashboard/devices/${encodeURIComponent(id)}/events${qs({ limit: 50 })}`), 'events');
  if (rows.length === 0) return h('p', { class: 'muted' }, t('noData'));
  return table(
    [
      { label: t('time'), cell: (e) => fmtTime(e.receivedTs ?? e.ts) },
      { label: t('kind'), cell: (e) => e.type },
      {
        label: t('severity'),
        cell: (e) => badge(e.severity === 'error' || e.severity === 'critical' ? 'critical' : 'warning', e.severity),
      },
      { label: t('message'), cell: (e) => e.message },
    ],
    rows,
  );
}

function commandForm(id, reload) {
  const result = h('div', {});
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'command-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        result.replaceChildren();
        try {
          const text = String(data.get('params') ?? '').trim();
          const params = text ? JSON.parse(text) : {};
          await api(`/api/v1/devices/${encodeURIComponent(id)}/commands`, {
            method: 'POST',
            body: { type: data.get('type'), params },
          });
          result.replaceChildren(h('p', { class: 'ok' }, t('sent')));
          reload();
        } catch (error) {
          result.replaceChildren(errorBox(error));
        }
      },
    },
    h(
      'label',
      {},
      t('commandType'),
      h(
        'select',
        { name: 'type' },
        COMMAND_TYPES.map((c) => h('option', { value: c }, c)),
      ),
    ),
    h('label', {}, t('params'), h('input', { name: 'params', placeholder: '{"healthIntervalS": 60}', size: 30 })),
    h('button', { class: 'primary', type: 'submit' }, t('send')),
  );
  return [form, result];
}

function commandsSection(id) {
  const list = h('div', {});
  const reload = () => {
    api(`/api/v1/devices/${encodeURIComponent(id)}/commands`).then(
      (data) =>
        list.replaceChildren(
          table(
            [
              { label: 'ID', cell: (c) => h('span', { class: 'mono' }, c.id) },
              { label: t('commandType'), cell: (c) => c.type },
              {
                label: t('status'),
                cell: (c) =>
                  badge(
                    c.status === 'succeeded' ? 'met' : c.status === 'failed' || c.status === 'expired' ? 'notmet' : 'planned',
                    c.status ?? c.state,
                  ),
              },
              { label: t('created'), cell: (c) => fmtTime(c.createdAt) },
              { label: t('by'), cell: (c) => c.createdBy ?? '—' },
              { label: t('detail'), cell: (c) => c.detail ?? '' },
            ],
            listOf(data, 'commands'),
          ),
        ),
      (error) => list.replaceChildren(errorBox(error)),
    );
  };
  reload();
  return h('section', { class: 'card' }, h('h2', {}, t('commands')), commandForm(id, reload), list);
}

function kv(record) {
  return Object.entries(record).map(([key, value]) => [
    h('dt', {}, key),
    h(
      'dd',
      {},
      /At$|_at$/.test(key)
        ? fmtTime(value)
        : value !== null && typeof value === 'object'
          ? JSON.stringify(value)
          : String(value ?? '—'),
    ),
  ]);
}

/** What the device last reported (registry), and what the content side expects of it. */
async function syncBlock(id, device) {
  let expected = null;
  try {
    expected = await api(`/api/v1/devices/${encodeURIComponent(id)}/sync`);
  } catch (error) {
    // Not every role may read the content side, and it may not be mounted: show what the device reported.
    if (!(error instanceof ApiFailure && (error.status === 404 || error.status === 403))) throw error;
  }
  const reported = device.sync ?? null;
  if (!reported && !expected) return h('p', { class: 'muted' }, t('noData'));
  return h(
    'dl',
    { class: 'kv', id: 'sync-state' },
    reported ? kv(reported) : null,
    expected && typeof expected === 'object' ? kv(expected) : null,
  );
}

export async function renderDevice(main, id) {
  const data = await api(`/api/v1/devices/${encodeURIComponent(id)}`);
  const device = objectOf(data, 'device');
  if (data?.sync && !device.sync) device.sync = data.sync;
  if (data?.events && !device.events) device.events = data.events;
  const revoke = h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        if (!confirm(t('confirmRevoke'))) return;
        await api(`/api/v1/devices/${encodeURIComponent(id)}/revoke`, { method: 'POST', body: {} }).catch((error) =>
          main.prepend(errorBox(error)),
        );
        location.reload();
      },
    },
    t('revoke'),
  );
  const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? '—')];
  fill(
    main,
    h('h1', {}, t('deviceTitle', { id: device.id })),
    h(
      'section',
      { class: 'card' },
      h(
        'dl',
        { class: 'kv', id: 'device-facts' },
        fact(
          t('site'),
          device.siteId ? link(`#/site/${encodeURIComponent(device.siteId)}`, device.siteName ?? device.siteId) : '—',
        ),
        fact(t('kind'), device.kind),
        fact(t('status'), device.status),
        fact(t('online'), device.online ? badge('operational', t('online')) : badge('none', t('offline'))),
        fact(t('model'), device.model),
        fact(t('serial'), device.serial),
        fact(t('agentVersion'), device.agentVersion),
        fact(t('firstSeen'), fmtTime(device.firstSeen)),
        fact(t('lastSeen'), fmtTime(device.lastSeen)),
        fact(t('equippedAt'), fmtTime(device.equippedAt)),
        fact(t('contentSeq'), device.contentSeq),
      ),
      device.status !== 'decommissioned' ? revoke : null,
    ),
    healthSection(id),
    card(t('syncState'), () => syncBlock(id, device)),
    commandsSection(id),
    card(t('events'), () => events(id, device)),
  );
}
