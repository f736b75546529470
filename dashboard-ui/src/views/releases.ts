/**
 * Releases and rollouts (docs/releases.md): the release every kiosk runs, each rollout's phases with their counts,
 * the kiosks that failed or rolled back with their reason, and pause / resume / abort.
 */
import { api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { badge, card, fill, h, link, table } from '../ui.js';

interface PhaseOut {
  phase: number;
  name: string;
  devices: number;
  openedAt: string | null;
  counts: { pending: number; updating: number; committed: number; rolledBack: number; failed: number };
}
interface RolloutOut {
  id: string;
  version: string;
  state: 'active' | 'paused' | 'completed' | 'stopped' | 'aborted';
  phase: number;
  reason: string | null;
  createdBy: string;
  createdAt: string;
  phases: PhaseOut[];
  failures: Array<{ deviceId: string; phase: number; state: string; reason: string | null; at: string }>;
}
interface FleetVersion {
  id: string;
  siteId: string | null;
  online: number;
  version: string | null;
  lastSeen: number | null;
}

const STATE_CLASS: Record<RolloutOut['state'], string> = {
  active: 'ok',
  paused: 'warn',
  completed: 'ok',
  stopped: 'bad',
  aborted: 'bad',
};

function rolloutCard(r: RolloutOut, reload: () => void): HTMLElement {
  const act = (action: 'pause' | 'resume' | 'abort') =>
    h(
      'button',
      {
        type: 'button',
        'data-action': action,
        onclick: () => api(`/api/v1/rollouts/${r.id}/${action}`, { method: 'POST', body: {} }).then(reload),
      },
      t(`rollout_${action}`),
    );
  const buttons = r.state === 'active' ? [act('pause'), act('abort')] : r.state === 'paused' ? [act('resume'), act('abort')] : [];
  return h(
    'section',
    { class: 'card', 'data-rollout': r.id },
    h('h2', {}, `${r.version} `, badge(STATE_CLASS[r.state], t(`rolloutState_${r.state}`)), ' ', ...buttons),
    h('p', { class: 'muted' }, `${r.id} · ${r.createdBy} · ${fmtTime(r.createdAt)}`),
    r.reason ? h('p', { class: 'bad', 'data-reason': '' }, r.reason) : null,
    table(
      [
        {
          label: t('phase'),
          cell: (p: PhaseOut) => `${p.phase}. ${p.name}${p.phase === r.phase && r.state === 'active' ? ' ◀' : ''}`,
        },
        { label: t('releaseKiosks'), num: true, cell: (p) => p.devices },
        { label: t('releasePending'), num: true, cell: (p) => p.counts.pending },
        { label: t('releaseUpdating'), num: true, cell: (p) => p.counts.updating },
        { label: t('releaseCommitted'), num: true, cell: (p) => p.counts.committed },
        { label: t('releaseRolledBack'), num: true, cell: (p) => p.counts.rolledBack },
        { label: t('releaseFailed'), num: true, cell: (p) => p.counts.failed },
      ],
      r.phases,
    ),
    r.failures.length === 0
      ? null
      : table(
          [
            {
              label: t('releaseKiosk'),
              cell: (f: RolloutOut['failures'][number]) => link(`#/device/${encodeURIComponent(f.deviceId)}`, f.deviceId),
            },
            { label: t('phase'), num: true, cell: (f) => f.phase },
            { label: t('releaseOutcome'), cell: (f) => f.state },
            { label: t('releaseReason'), cell: (f) => f.reason ?? '' },
          ],
          r.failures,
        ),
  );
}

export async function renderReleases(main: HTMLElement): Promise<void> {
  const reload = () => void renderReleases(main);
  const { rollouts } = await api<{ rollouts: RolloutOut[] }>('/api/v1/rollouts');
  fill(
    main,
    h('h1', {}, t('navReleases')),
    rollouts.length === 0 ? h('p', { class: 'muted' }, t('noRollouts')) : rollouts.map((r) => rolloutCard(r, reload)),
    card(t('releaseVersions'), async () => {
      const { devices } = await api<{ devices: FleetVersion[] }>('/api/v1/releases/fleet');
      return table(
        [
          { label: t('releaseKiosk'), cell: (d: FleetVersion) => link(`#/device/${encodeURIComponent(d.id)}`, d.id) },
          { label: t('releaseVersion'), cell: (d) => d.version ?? '—' },
          { label: t('releaseOnline'), cell: (d) => (d.online ? '●' : '○') },
          { label: t('releaseLastSeen'), cell: (d) => fmtTime(d.lastSeen) },
        ],
        devices,
      );
    }),
  );
}
