/** One device: its facts, health charts over 24 h / 7 d / 30 d, events, commands with a form to send one, and its sync state. */

import type {
  DeviceDetailOut,
  DeviceEventOut,
  DeviceEventsOut,
  HealthHourOut,
  HealthOut,
  HealthPointOut,
} from '../../../protocol/api-dashboard.js';
import { ApiFailure, api } from '../api.js';
import { lineChart, type SeriesPoint } from '../charts.js';
import { enumLabel, fmtBytes, fmtTime, t } from '../i18n.js';
import type { CommandOut } from '../shapes.js';
import { badge, card, errorBox, fill, h, link, qs, table } from '../ui.js';

const RANGES = {
  '24h': { ms: 86_400_000, resolution: 'raw', label: 'range24h' },
  '7d': { ms: 7 * 86_400_000, resolution: 'hour', label: 'range7d' },
  '30d': { ms: 30 * 86_400_000, resolution: 'hour', label: 'range30d' },
} as const;
type RangeKey = keyof typeof RANGES;
const COMMAND_TYPES = ['sync_now', 'reboot', 'restart_agent', 'set_config', 'screenshot'];

interface Metrics {
  ts: number;
  cpu: number | null;
  mem: number | null;
  disk: number | null;
  temp: number | null;
}

function metricsOf(data: HealthOut): Metrics[] {
  if (data.resolution === 'raw')
    return data.samples.map((p: HealthPointOut) => ({
      ts: p.receivedTs,
      cpu: p.cpuLoad,
      mem: p.memUsed,
      disk: p.diskUsed,
      temp: p.tempC,
    }));
  return data.hours.map((p: HealthHourOut) => ({
    ts: p.hour,
    cpu: p.cpuAvg,
    mem: p.memAvg,
    disk: p.diskUsedMax,
    temp: p.tempMax,
  }));
}

async function healthCharts(id: string, rangeKey: RangeKey): Promise<HTMLElement> {
  const range = RANGES[rangeKey];
  const to = Date.now();
  const from = to - range.ms;
  const data = await api<HealthOut>(
    `/api/v1/devices/${encodeURIComponent(id)}/health${qs({ from, to, resolution: range.resolution })}`,
  );
  const rows = metricsOf(data).sort((a, b) => a.ts - b.ts);
  const series = (pick: (m: Metrics) => number | null): SeriesPoint[] =>
    rows.flatMap((m) => {
      const value = pick(m);
      return value === null ? [] : [{ ts: m.ts, value }];
    });
  return h(
    'div',
    { class: 'charts', id: 'health-charts' },
    lineChart(
      t('cpu'),
      series((m) => m.cpu),
      { from, to, yMax: 100 },
    ),
    lineChart(
      t('mem'),
      series((m) => m.mem),
      { from, to, yMax: 100 },
    ),
    lineChart(
      t('disk'),
      series((m) => m.disk),
      { from, to, yMax: 100, limit: 90 },
    ),
    lineChart(
      t('temp'),
      series((m) => m.temp),
      { from, to },
    ),
  );
}

function healthSection(id: string): HTMLElement {
  const body = h('div', {});
  const buttons = (Object.keys(RANGES) as RangeKey[]).map((key) =>
    h('button', { type: 'button', dataset: { range: key }, onclick: () => show(key) }, t(RANGES[key].label)),
  );
  function show(key: RangeKey): void {
    for (const b of buttons) b.classList.toggle('on', b.dataset.range === key);
    body.replaceChildren(h('p', { class: 'muted' }, t('loading')));
    healthCharts(id, key).then(
      (el) => body.replaceChildren(el),
      (error: unknown) => body.replaceChildren(errorBox(error)),
    );
  }
  show('24h');
  return h('section', { class: 'card' }, h('h2', {}, t('health')), h('div', { class: 'tabs' }, buttons), body);
}

async function events(id: string): Promise<HTMLElement> {
  const { events: rows } = await api<DeviceEventsOut>(
    `/api/v1/dashboard/devices/${encodeURIComponent(id)}/events${qs({ limit: 50 })}`,
  );
  if (rows.length === 0) return h('p', { class: 'muted' }, t('noData'));
  return table<DeviceEventOut>(
    [
      { label: t('time'), cell: (e) => fmtTime(e.receivedTs) },
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

function commandForm(id: string, reload: () => void): HTMLElement[] {
  const result = h('div', {});
  const form: HTMLFormElement = h(
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
          const params: unknown = text ? JSON.parse(text) : {};
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

function commandsSection(id: string): HTMLElement {
  const list = h('div', {});
  const reload = () => {
    api<{ commands: CommandOut[] }>(`/api/v1/devices/${encodeURIComponent(id)}/commands`).then(
      (data) =>
        list.replaceChildren(
          table<CommandOut>(
            [
              { label: 'ID', cell: (c) => h('span', { class: 'mono' }, c.id) },
              { label: t('commandType'), cell: (c) => c.type },
              {
                label: t('status'),
                cell: (c) =>
                  badge(
                    c.status === 'succeeded' ? 'met' : c.status === 'failed' || c.status === 'expired' ? 'notmet' : 'planned',
                    enumLabel('cstatus', c.status),
                  ),
              },
              { label: t('created'), cell: (c) => fmtTime(c.createdAt) },
              { label: t('by'), cell: (c) => c.createdBy },
              { label: t('detail'), cell: (c) => c.detail ?? '' },
            ],
            data.commands,
          ),
        ),
      (error: unknown) => list.replaceChildren(errorBox(error)),
    );
  };
  reload();
  return h('section', { class: 'card' }, h('h2', {}, t('commands')), commandForm(id, reload), list);
}

interface DeviceSyncView {
  issuedSeq: number | null;
  appliedSeq: number | null;
}

/** What the device last reported, and which manifest the content side issued it. */
async function syncBlock(id: string, detail: DeviceDetailOut): Promise<HTMLElement> {
  let expected: DeviceSyncView | null = null;
  try {
    expected = await api<DeviceSyncView>(`/api/v1/devices/${encodeURIComponent(id)}/sync`);
  } catch (error) {
    // Not every role may read the content side: show what the device reported.
    if (!(error instanceof ApiFailure && (error.status === 404 || error.status === 403))) throw error;
  }
  const r = detail.sync;
  if (!r && !expected) return h('p', { class: 'muted' }, t('noData'));
  const fact = (label: string, value: string | number | null) => [h('dt', {}, label), h('dd', {}, value ?? '—')];
  return h(
    'dl',
    { class: 'kv', id: 'sync-state' },
    r
      ? [
          fact(t('state'), enumLabel('sync', r.state)),
          fact(t('contentSeq'), r.manifestSeq),
          fact(t('file'), fmtBytes(r.bytes)),
          fact(t('syncMissing'), r.missing),
          fact(t('syncFailures'), r.failures),
          r.error ? fact(t('errorPrefix'), r.error) : null,
          fact(t('time'), fmtTime(r.updatedAt)),
        ]
      : null,
    expected ? [fact(t('issuedSeq'), expected.issuedSeq), fact(t('appliedSeq'), expected.appliedSeq)] : null,
  );
}

export async function renderDevice(main: HTMLElement, id = ''): Promise<void> {
  const detail = await api<DeviceDetailOut>(`/api/v1/devices/${encodeURIComponent(id)}`);
  const { device } = detail;
  const revoke = h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        if (!confirm(t('confirmRevoke'))) return;
        await api(`/api/v1/devices/${encodeURIComponent(id)}/revoke`, { method: 'POST', body: {} }).catch((error: unknown) =>
          main.prepend(errorBox(error)),
        );
        location.reload();
      },
    },
    t('revoke'),
  );
  const fact = (label: string, value: Node | string | number | null) => [h('dt', {}, label), h('dd', {}, value ?? '—')];
  fill(
    main,
    h('h1', {}, t('deviceTitle', { id: device.id })),
    h(
      'section',
      { class: 'card' },
      h(
        'dl',
        { class: 'kv', id: 'device-facts' },
        fact(t('site'), device.siteId ? link(`#/site/${encodeURIComponent(device.siteId)}`, device.siteId) : '—'),
        fact(t('kind'), device.kind),
        fact(t('status'), enumLabel('dstatus', device.status)),
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
    card(t('syncState'), () => syncBlock(id, detail)),
    commandsSection(id),
    card(t('events'), () => events(id)),
  );
}
