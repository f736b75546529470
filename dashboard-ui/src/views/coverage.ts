/**
 * Coverage against the plan (DESIGN §4): per phase, progress bars with the target line; a phase whose deadline has
 * passed is judged on its deadline, the current one today. Then the trend, the reports and the per-commune table.
 */

import type {
  CommuneRowOut,
  CommunesOut,
  PlanCoverageOut,
  PlanListOut,
  PlanSummaryOut,
  PlanTrendOut,
  ProblemsOut,
  TargetCoverageOut,
  TargetTrendOut,
} from '../../../protocol/api-dashboard.js';
import { api } from '../api.js';
import { progressBar, trendChart } from '../charts.js';
import { fmtDay, fmtNumber, fmtTime, type LabelKey, t } from '../i18n.js';
import { badge, card, fill, h, hashParams, link, qs, table } from '../ui.js';

export function todayInVietnam(): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Asia/Ho_Chi_Minh',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date());
}

function verdict(target: TargetCoverageOut): HTMLElement {
  if (target.noUnitsInScope || target.total === 0) return badge('nounits', t('noUnits'));
  return target.met ? badge('met', t('met')) : badge('notmet', t('notMet'));
}

function targetRow(target: TargetCoverageOut): HTMLElement {
  return h(
    'div',
    { class: 'target', dataset: { target: target.id } },
    h('div', {}, h('strong', {}, target.label), h('div', { class: 'muted' }, `${t('deadline')}: ${fmtDay(target.deadline)}`)),
    progressBar(target.equipped, target.total, target.requiredCount, target.met),
    h(
      'div',
      {},
      verdict(target),
      h('div', { class: 'muted' }, t('equippedOf', { e: target.equipped, t: target.total, r: target.requiredCount })),
      target.operational === null ? null : h('div', { class: 'muted' }, t('operationalNow', { o: target.operational })),
    ),
  );
}

const coverageOf = (plan: PlanSummaryOut, asOf: string) =>
  api<PlanCoverageOut>(`/api/v1/plans/${encodeURIComponent(plan.id)}/coverage${qs({ asOf })}`);

async function phases(plan: PlanSummaryOut): Promise<HTMLElement[]> {
  const today = todayInVietnam();
  const definition = await coverageOf(plan, today);
  const phaseDeadline = new Map<string, string>();
  for (const target of definition.targets) {
    const prev = phaseDeadline.get(target.phase);
    if (!prev || target.deadline > prev) phaseDeadline.set(target.phase, target.deadline);
  }
  const blocks: HTMLElement[] = [];
  for (const [phase, deadline] of phaseDeadline) {
    const asOf = deadline < today ? deadline : today;
    const data = asOf === today ? definition : await coverageOf(plan, asOf);
    blocks.push(
      h(
        'div',
        { class: 'phase', dataset: { phase } },
        h('h2', {}, `${t('phase')} ${phase}`, h('span', { class: 'muted' }, ` — ${t('judgedAt')} ${fmtDay(asOf)}`)),
        data.targets.filter((x) => x.phase === phase).map(targetRow),
      ),
    );
  }
  return blocks;
}

function projectionText(target: TargetTrendOut): string {
  const p = target.projection;
  const vars = {
    rate: fmtNumber(p.ratePerMonth, 2),
    req: p.requiredBy ? fmtDay(p.requiredBy) : t('never'),
    all: p.allBy ? fmtDay(p.allBy) : t('never'),
    deadline: fmtDay(target.deadline),
  };
  const key: Record<typeof p.status, LabelKey> = {
    met: 'projMet',
    on_track: 'projOnTrack',
    behind: 'projBehind',
    never: 'projNever',
    no_units: 'projNoUnits',
  };
  return t(key[p.status], vars);
}

async function trend(plan: PlanSummaryOut): Promise<HTMLElement[]> {
  const data = await api<PlanTrendOut>(`/api/v1/plans/${encodeURIComponent(plan.id)}/trend`);
  return [
    h(
      'p',
      { class: 'legend' },
      h('span', {}, h('i', { style: 'background:#0b4f8a' }), t('trendLegendActual')),
      h('span', {}, h('i', { style: 'background:#b36b00' }), t('trendLegendLine')),
    ),
    h(
      'div',
      { class: 'charts' },
      data.targets.map((target) =>
        h(
          'figure',
          { style: 'margin:0', dataset: { trend: target.id } },
          h('figcaption', {}, h('strong', {}, target.label), ` (${target.phase})`),
          trendChart(target),
          h('p', { class: 'projection' }, projectionText(target)),
        ),
      ),
    ),
  ];
}

const COMMUNES_PAGE = 100;
const PROBLEM_LABELS: Record<keyof ProblemsOut, LabelKey> = {
  offline: 'problem_offline',
  neverApplied: 'problem_neverApplied',
  syncFailed: 'problem_syncFailed',
};

function problemsCell(r: CommuneRowOut): HTMLElement | string {
  const parts = (Object.keys(PROBLEM_LABELS) as (keyof ProblemsOut)[]).filter((k) => r.problems[k] > 0);
  if (parts.length === 0) return '—';
  return h('span', { class: 'bad' }, parts.map((k) => t(PROBLEM_LABELS[k], { n: r.problems[k] })).join(', '));
}

// The per-commune table a page at a time (a province has thousands of communes); the reports hold them all.
async function communes(plan: PlanSummaryOut, offset = 0): Promise<HTMLElement> {
  const data = await api<CommunesOut>(
    `/api/v1/plans/${encodeURIComponent(plan.id)}/communes${qs({ limit: COMMUNES_PAGE, offset })}`,
  );
  const rows = data.communes;
  const box = h('div', { id: 'communes-table' });
  const go = async (next: number) => box.replaceWith(await communes(plan, next));
  const view = table<CommuneRowOut>(
    [
      { label: t('district'), cell: (r) => r.district?.name ?? '—' },
      { label: t('commune'), cell: (r) => link(`#/site/${encodeURIComponent(r.commune.id)}`, r.commune.name) },
      { label: t('state'), cell: (r) => (r.communeEquipped ? badge('met', t('equipped')) : badge('notmet', t('notMet'))) },
      { label: t('site'), num: true, cell: (r) => r.sites },
      { label: t('devices'), num: true, cell: (r) => r.devices },
      {
        label: `${t('equipped')} / ${t('operational')} / ${t('planned')}`,
        num: true,
        cell: (r) => `${r.equipped} / ${r.operational ?? '—'} / ${r.planned}`,
      },
      { label: t('lastSeen'), cell: (r) => fmtTime(r.lastSeen) },
      { label: t('contentSeq'), num: true, cell: (r) => r.contentSeq ?? '—' },
      { label: t('problems'), cell: problemsCell },
    ],
    rows,
  );
  if (data.total <= rows.length) {
    fill(box, view);
    return box;
  }
  const to = offset + rows.length;
  fill(
    box,
    view,
    h(
      'div',
      { class: 'pager' },
      h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - COMMUNES_PAGE)) }, t('prev')),
      h('span', {}, t('pageOf', { from: offset + 1, to, total: data.total })),
      h('button', { type: 'button', disabled: to >= data.total, onclick: () => go(offset + COMMUNES_PAGE) }, t('next')),
    ),
  );
  return box;
}

function reports(plan: PlanSummaryOut): HTMLElement {
  const base = qs({ plan: plan.id, asOf: todayInVietnam() });
  const year = Number(todayInVietnam().slice(0, 4));
  return h(
    'p',
    {},
    h('a', { href: `/api/v1/reports/coverage.csv${base}`, download: '', id: 'download-csv', class: 'primary' }, t('downloadCsv')),
    ' · ',
    h('a', { href: `/api/v1/reports/coverage.xlsx${base}`, download: '', id: 'download-xlsx' }, t('downloadXlsx')),
    ' · ',
    h(
      'a',
      { href: `/api/v1/reports/yearly.docx${qs({ plan: plan.id, year: year - 1 })}`, download: '', id: 'download-docx' },
      t('downloadDocx', { year: year - 1 }),
    ),
  );
}

export async function renderCoverage(main: HTMLElement): Promise<void> {
  const { plans } = await api<PlanListOut>('/api/v1/plans');
  const wanted = hashParams().get('plan');
  const plan = plans.find((p) => p.id === wanted) ?? plans[0];
  if (!plan) {
    fill(main, h('h1', {}, t('coverageTitle')), h('p', { class: 'muted' }, t('noData')));
    return;
  }
  fill(
    main,
    h('h1', {}, t('coverageTitle')),
    h('p', {}, `${t('plan')}: `, h('strong', { id: 'plan-doc' }, `${plan.document} — ${plan.province}`)),
    plans.length > 1
      ? h(
          'p',
          {},
          plans.map((p) => [link(`#/coverage?plan=${encodeURIComponent(p.id)}`, p.document), ' ']),
        )
      : null,
    card(null, () => phases(plan)),
    card(t('trendTitle'), () => trend(plan)),
    card(t('reports'), () => reports(plan)),
    card(t('communesTitle'), () => communes(plan)),
  );
}
