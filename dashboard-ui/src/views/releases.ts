/**
 * Releases and rollouts (docs/releases.md): upload a release (its folder: release.json and the files it lists, only
 * those the server lacks, with a progress bar and cancel; a refused one with the server's sentence), the releases
 * on the server, a new rollout (target, phases with share and soak time, abort threshold), the release every kiosk
 * runs, each rollout's phases with their counts, the kiosks that failed or rolled back with their reason, and
 * pause / resume / abort.
 */
import { SITE_KINDS } from '../../../protocol/constants.js';
import { ApiFailure, api, type Upload, uploadFile } from '../api.js';
import { enumLabel, fmtBytes, fmtTime, t } from '../i18n.js';
import { badge, card, errorBox, fill, h, link, table } from '../ui.js';
import { sitePicker, type Viewer } from './content.js';

interface PhaseOut {
  phase: number;
  name: string;
  devices: number;
  soakS: number;
  abortShare: number;
  openedAt: string | null;
  counts: { pending: number; updating: number; committed: number; rolledBack: number; failed: number };
}
type TargetOut =
  | { scope: 'all' }
  | { scope: 'site_kind'; kind: string }
  | { scope: 'site'; siteId: string }
  | { scope: 'sites'; siteIds: string[] }
  | { scope: 'devices'; deviceIds: string[] };
interface RolloutOut {
  id: string;
  version: string;
  target: TargetOut;
  state: 'active' | 'paused' | 'completed' | 'stopped' | 'aborted';
  phase: number;
  reason: string | null;
  createdBy: string;
  createdAt: string;
  phases: PhaseOut[];
  failures: Array<{ deviceId: string; phase: number; state: string; reason: string | null; at: string }>;
}
interface ReleaseOut {
  version: string;
  arch: string;
  runtime: string;
  files: number;
  bytes: number;
  complete: boolean;
  missing: string[];
  uploadedBy: string;
  uploadedAt: string;
}
interface FleetVersion {
  id: string;
  siteId: string | null;
  online: number;
  version: string | null;
  lastSeen: number | null;
}
interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
}

const STATE_CLASS: Record<RolloutOut['state'], string> = {
  active: 'ok',
  paused: 'warn',
  completed: 'ok',
  stopped: 'bad',
  aborted: 'bad',
};

const mayManage = (viewer: Viewer) => viewer.role === 'admin' || viewer.role === 'department';

function targetText(target: TargetOut): string {
  if (target.scope === 'all') return t('rolloutTargetAll');
  if (target.scope === 'site_kind') return `${t('rolloutTargetKind')}: ${enumLabel('kind', target.kind)}`;
  if (target.scope === 'site') return `${t('rolloutTargetSites')}: ${target.siteId}`;
  if (target.scope === 'sites') return `${t('rolloutTargetSites')}: ${target.siteIds.join(', ')}`;
  return `${t('rolloutTargetDevices')}: ${target.deviceIds.length}`;
}

function rolloutCard(r: RolloutOut, manage: boolean, reload: () => void): HTMLElement {
  const status = h('div', {});
  const act = (action: 'pause' | 'resume' | 'abort') =>
    h(
      'button',
      {
        type: 'button',
        'data-action': action,
        onclick: () => {
          // Aborting cannot be undone: the person confirms it and may say why (kept as the rollout's reason, audited).
          const reason = action === 'abort' ? prompt(t('rolloutAbortConfirm', { version: r.version })) : '';
          if (reason === null) return;
          const body = reason.trim() ? { reason: reason.trim() } : {};
          api(`/api/v1/rollouts/${r.id}/${action}`, { method: 'POST', body }).then(reload, (error: unknown) =>
            status.replaceChildren(errorBox(error)),
          );
        },
      },
      t(`rollout_${action}`),
    );
  const buttons = !manage
    ? []
    : r.state === 'active'
      ? [act('pause'), act('abort')]
      : r.state === 'paused'
        ? [act('resume'), act('abort')]
        : [];
  return h(
    'section',
    { class: 'card', 'data-rollout': r.id, 'data-state': r.state },
    h('h2', {}, `${r.version} `, badge(STATE_CLASS[r.state], t(`rolloutState_${r.state}`)), ' ', ...buttons),
    h('p', { class: 'muted' }, `${targetText(r.target)} · ${r.createdBy} · ${fmtTime(r.createdAt)}`),
    status,
    r.reason ? h('p', { class: 'bad', 'data-reason': '' }, r.reason) : null,
    table(
      [
        {
          label: t('phase'),
          cell: (p: PhaseOut) => `${p.phase}. ${p.name}${p.phase === r.phase && r.state === 'active' ? ' ◀' : ''}`,
        },
        { label: t('releaseKiosks'), num: true, cell: (p) => p.devices },
        { label: t('rolloutSoakMin'), num: true, cell: (p) => Math.round(p.soakS / 60) },
        { label: t('rolloutAbortPct'), num: true, cell: (p) => Math.round(p.abortShare * 100) },
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
            { label: t('releaseOutcome'), cell: (f) => enumLabel('releaseState', f.state) },
            { label: t('releaseReason'), cell: (f) => f.reason ?? '' },
          ],
          r.failures,
        ),
  );
}

/** The upload that just finished, said once on the page drawn after it. */
let lastUpload: { version: string; files: number } | null = null;

/** A file's path inside the release folder the person chose (`1.2.0-x64/agent/agent.mjs` → `agent/agent.mjs`). */
function pathInFolder(file: File): string {
  const relative = file.webkitRelativePath || file.name;
  const slash = relative.indexOf('/');
  return slash === -1 ? relative : relative.slice(slash + 1);
}

/**
 * Upload of a release folder (`dist/releases/<version>-<arch>/` of `npm run release`): its release.json first — the
 * server checks the signature against its own trust and answers the files it still lacks — then those files, one
 * PUT each. A folder rather than the installer: the upload API takes the manifest and the files, and a release that
 * changes only the agent then sends only the agent. Cancelled or cut, choosing the folder again sends the rest.
 */
function uploadCard(onDone: () => void): HTMLElement {
  const input = h('input', { type: 'file', name: 'release-dir', webkitdirectory: true, multiple: true });
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'data-release-progress': '' });
  const progressText = h('span', { class: 'muted', 'data-release-progress-text': '' });
  const status = h('div', { 'data-release-status': '' });
  const cancel = h('button', { type: 'button', hidden: true, 'data-release-cancel': '' }, t('cancel'));
  let running: Upload<unknown> | null = null;
  let cancelled = false;
  cancel.addEventListener('click', () => {
    cancelled = true;
    running?.cancel();
  });
  const refusal = (message: string) =>
    status.replaceChildren(h('div', { class: 'error-box', role: 'alert', 'data-release-refused': '' }, message));

  async function send(): Promise<void> {
    const files = [...(input.files ?? [])];
    const byPath = new Map(files.map((f) => [pathInFolder(f), f]));
    const manifestFile = byPath.get('release.json');
    if (!manifestFile) return refusal(t('releaseNoManifest'));
    let manifest: { release?: { version?: string; files?: ManifestFile[] } };
    try {
      manifest = JSON.parse(await manifestFile.text());
    } catch {
      return refusal(t('releaseNotJson'));
    }
    let answer: { version: string; missing: string[] };
    try {
      answer = await api<{ version: string; missing: string[] }>('/api/v1/releases', { method: 'POST', body: manifest });
    } catch (error) {
      // 422: not signed through the server's trust (or malformed); 409: that version already with other contents.
      if (error instanceof ApiFailure && (error.status === 422 || error.status === 409)) {
        return refusal(`${t('releaseRefused')}: ${error.message}`);
      }
      status.replaceChildren(errorBox(error));
      return;
    }
    const listed = manifest.release?.files ?? [];
    const todo: Array<{ entry: ManifestFile; file: File }> = [];
    for (const sha of answer.missing) {
      const entry = listed.find((f) => f.sha256 === sha);
      const file = entry ? byPath.get(entry.path) : undefined;
      if (!entry || !file || file.size !== entry.size) return refusal(t('releaseFileMissing', { path: entry?.path ?? sha }));
      todo.push({ entry, file });
    }
    const total = todo.reduce((n, x) => n + x.entry.size, 0);
    let done = 0;
    progress.hidden = false;
    cancel.hidden = false;
    cancelled = false;
    const show = (sent: number) => {
      progress.max = total || 1;
      progress.value = total === 0 ? 1 : sent;
      progress.dataset.sent = String(sent);
      progressText.textContent = ` ${fmtBytes(sent)} / ${fmtBytes(total)}`;
    };
    show(0);
    try {
      for (const { entry, file } of todo) {
        if (cancelled) throw new ApiFailure(0, 'cancelled', 'upload cancelled');
        running = uploadFile(`/api/v1/releases/files/${entry.sha256}`, file, (sent) => show(done + sent));
        await running.done;
        done += entry.size;
        show(done);
      }
    } catch (error) {
      if (error instanceof ApiFailure && error.code === 'cancelled') {
        status.replaceChildren(
          h('p', { class: 'warn', 'data-release-cancelled': '' }, t('releaseUploadCancelled', { version: answer.version })),
        );
      } else if (error instanceof ApiFailure && error.status === 422) {
        refusal(`${t('releaseRefused')}: ${error.message}`);
      } else status.replaceChildren(errorBox(error));
      return;
    } finally {
      running = null;
      cancel.hidden = true;
    }
    // The page is drawn again with the release listed; the message stays on it.
    lastUpload = { version: answer.version, files: todo.length };
    onDone();
  }
  if (lastUpload) {
    status.replaceChildren(
      h('p', { class: 'ok', 'data-release-uploaded': lastUpload.version }, t('releaseUploaded', lastUpload)),
    );
    lastUpload = null;
  }

  const button = h(
    'button',
    {
      type: 'button',
      'data-release-upload': '',
      onclick: () => {
        status.replaceChildren();
        button.disabled = true;
        void send().finally(() => {
          button.disabled = false;
        });
      },
    },
    t('upload'),
  );
  return h(
    'section',
    { class: 'card', id: 'release-upload' },
    h('h2', {}, t('releaseUpload')),
    h('p', { class: 'muted' }, t('releaseUploadHelp')),
    h('p', {}, input, ' ', button, ' ', cancel),
    h('p', {}, progress, progressText),
    status,
  );
}

interface PhaseRow {
  name: string;
  amount: number;
  unit: 'count' | 'share';
  soakMin: number;
  abortPct: number;
}

const DEFAULT_PHASE_ROWS: PhaseRow[] = [
  { name: 'pilot', amount: 1, unit: 'count', soakMin: 60, abortPct: 0 },
  { name: '10 %', amount: 10, unit: 'share', soakMin: 60, abortPct: 10 },
  { name: '50 %', amount: 50, unit: 'share', soakMin: 60, abortPct: 10 },
  { name: 'all', amount: 100, unit: 'share', soakMin: 0, abortPct: 10 },
];

/** A new rollout: release, target (all / a site kind / sites from a searchable list / listed kiosks) and phases. */
function rolloutForm(releases: ReleaseOut[], onCreated: () => void): HTMLElement {
  const complete = releases.filter((r) => r.complete);
  const status = h('div', { 'data-rollout-status': '' });
  const version = h(
    'select',
    { name: 'rollout-version' },
    complete.map((r) => h('option', { value: r.version }, `${r.version} (${r.arch}, ${r.runtime})`)),
  );
  const scopes = ['all', 'site_kind', 'sites', 'devices'] as const;
  let scope: (typeof scopes)[number] = 'all';
  const kind = h(
    'select',
    { name: 'rollout-kind' },
    SITE_KINDS.map((k) => h('option', { value: k }, enumLabel('kind', k))),
  );
  const chosenSites = new Set<string>();
  const devices = h('textarea', { name: 'rollout-devices', rows: 3, cols: 60, placeholder: t('rolloutDevicesHelp') });
  const scopeBody = h('div', {});
  const showScope = () =>
    fill(
      scopeBody,
      scope === 'site_kind' ? kind : null,
      scope === 'sites' ? sitePicker(chosenSites) : null,
      scope === 'devices' ? devices : null,
    );
  const scopeRadios = scopes.map((s) => {
    const radio = h('input', { type: 'radio', name: 'rollout-scope', value: s, checked: s === scope });
    radio.addEventListener('change', () => {
      scope = s;
      showScope();
    });
    const label = {
      all: 'rolloutTargetAll',
      site_kind: 'rolloutTargetKind',
      sites: 'rolloutTargetSites',
      devices: 'rolloutTargetDevices',
    } as const;
    return h('label', {}, radio, ` ${t(label[s])} `);
  });
  showScope();

  const rows: PhaseRow[] = DEFAULT_PHASE_ROWS.map((r) => ({ ...r }));
  const phaseBody = h('tbody', {});
  const num = (value: number, set: (n: number) => void, name: string) => {
    const el = h('input', { type: 'number', min: 0, step: 'any', value, name, style: 'width:6em' });
    el.addEventListener('input', () => set(Number(el.value)));
    return el;
  };
  const drawPhases = () =>
    fill(
      phaseBody,
      rows.map((row, i) => {
        const name = h('input', { type: 'text', value: row.name, name: 'phase-name', maxlength: 60 });
        name.addEventListener('input', () => {
          row.name = name.value;
        });
        const unit = h(
          'select',
          { name: 'phase-unit' },
          h('option', { value: 'count', selected: row.unit === 'count' }, t('rolloutUnitCount')),
          h('option', { value: 'share', selected: row.unit === 'share' }, t('rolloutUnitShare')),
        );
        unit.addEventListener('change', () => {
          row.unit = unit.value as PhaseRow['unit'];
        });
        const remove = h(
          'button',
          {
            type: 'button',
            'data-phase-remove': String(i),
            disabled: rows.length === 1,
            onclick: () => {
              rows.splice(i, 1);
              drawPhases();
            },
          },
          '✕',
        );
        return h(
          'tr',
          { 'data-phase-row': String(i) },
          h('td', {}, `${i + 1}.`),
          h('td', {}, name),
          h(
            'td',
            {},
            num(row.amount, (n) => (row.amount = n), 'phase-amount'),
            ' ',
            unit,
          ),
          h(
            'td',
            {},
            num(row.soakMin, (n) => (row.soakMin = n), 'phase-soak'),
          ),
          h(
            'td',
            {},
            num(row.abortPct, (n) => (row.abortPct = n), 'phase-abort'),
          ),
          h('td', {}, remove),
        );
      }),
    );
  drawPhases();
  const addPhase = h(
    'button',
    {
      type: 'button',
      'data-phase-add': '',
      onclick: () => {
        if (rows.length >= 10) return;
        rows.push({ name: '', amount: 100, unit: 'share', soakMin: 0, abortPct: 10 });
        drawPhases();
      },
    },
    t('rolloutAddPhase'),
  );

  const targetOf = () => {
    if (scope === 'site_kind') return { scope, kind: kind.value };
    if (scope === 'sites') return { scope, siteIds: [...chosenSites] };
    if (scope === 'devices') return { scope, deviceIds: devices.value.split(/[\s,;]+/).filter(Boolean) };
    return { scope };
  };
  const create = h(
    'button',
    {
      type: 'button',
      'data-rollout-create': '',
      onclick: async () => {
        status.replaceChildren();
        const phases = rows.map((row) => ({
          ...(row.name.trim() ? { name: row.name.trim() } : {}),
          ...(row.unit === 'count' ? { count: Math.round(row.amount) } : { share: row.amount / 100 }),
          soakS: Math.round(row.soakMin * 60),
          abortShare: row.abortPct / 100,
        }));
        try {
          await api('/api/v1/rollouts', { method: 'POST', body: { version: version.value, target: targetOf(), phases } });
          onCreated();
        } catch (error) {
          status.replaceChildren(errorBox(error));
        }
      },
    },
    t('rolloutCreate'),
  );
  return h(
    'section',
    { class: 'card', id: 'rollout-new' },
    h('h2', {}, t('rolloutNew')),
    complete.length === 0
      ? h('p', { class: 'muted' }, t('releaseNoneComplete'))
      : h(
          'div',
          {},
          h('p', {}, h('label', {}, `${t('releaseVersion')} `, version)),
          h('p', {}, `${t('rolloutTarget')}: `, ...scopeRadios),
          scopeBody,
          h(
            'table',
            { class: 'phases' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, t('phase')),
                h('th', {}, t('rolloutPhaseName')),
                h('th', {}, t('rolloutPhaseAmount')),
                h('th', {}, t('rolloutSoakMin')),
                h('th', {}, t('rolloutAbortPct')),
                h('th', {}, ''),
              ),
            ),
            phaseBody,
          ),
          h('p', { class: 'muted' }, t('rolloutPhasesHelp')),
          h('p', {}, addPhase, ' ', create),
          status,
        ),
  );
}

function releasesTable(releases: ReleaseOut[]): HTMLElement {
  if (releases.length === 0) return h('p', { class: 'muted' }, t('releaseNone'));
  return table(
    [
      { label: t('releaseVersion'), cell: (r: ReleaseOut) => h('span', { 'data-release': r.version }, r.version) },
      { label: t('releaseArch'), cell: (r) => `${r.arch} · ${r.runtime}` },
      { label: t('releaseFiles'), num: true, cell: (r) => r.files },
      { label: t('releaseSize'), num: true, cell: (r) => fmtBytes(r.bytes) },
      {
        label: t('releaseComplete'),
        cell: (r) =>
          r.complete ? badge('ok', t('releaseIsComplete')) : badge('warn', t('releaseMissing', { n: r.missing.length })),
      },
      { label: t('releaseUploadedBy'), cell: (r) => `${r.uploadedBy} · ${fmtTime(r.uploadedAt)}` },
    ],
    releases,
  );
}

export async function renderReleases(main: HTMLElement, _arg: string | undefined, viewer: Viewer): Promise<void> {
  const reload = () => void renderReleases(main, _arg, viewer);
  const manage = mayManage(viewer);
  const [{ rollouts }, { releases }] = await Promise.all([
    api<{ rollouts: RolloutOut[] }>('/api/v1/rollouts'),
    api<{ releases: ReleaseOut[] }>('/api/v1/releases'),
  ]);
  fill(
    main,
    h('h1', {}, t('navReleases')),
    rollouts.length === 0 ? h('p', { class: 'muted' }, t('noRollouts')) : rollouts.map((r) => rolloutCard(r, manage, reload)),
    manage ? rolloutForm(releases, reload) : null,
    h('section', { class: 'card', id: 'release-list' }, h('h2', {}, t('releaseList')), releasesTable(releases)),
    manage ? uploadCard(reload) : null,
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
