// Coverage against the plan (DESIGN §4): per phase, progress bars with the target line; a phase whose
// deadline has passed is judged on its deadline, the current one today. Then the trend and the reports.
import { api, listOf, objectOf } from './api.js';
import { progressBar, trendChart } from './charts.js';
import { fmtDay, fmtNumber, fmtTime, t } from './i18n.js';
import { badge, card, fill, h, link, qs, table } from './ui.js';

export function todayInVietnam() {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Asia/Ho_Chi_Minh',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date());
}

export async function loadPlans() {
  return listOf(await api('/api/v1/plans'), 'plans');
}

function verdict(target) {
  if (target.noUnitsInScope || target.total === 0) return badge('nounits', t('noUnits'));
  return target.met ? badge('met', t('met')) : badge('notmet', t('notMet'));
}

function targetRow(target) {
  return h(
    'div',
    { class: 'target', dataset: { target: target.id } },
    h('div', {}, h('strong', {}, target.label), h('div', { class: 'muted' }, `${t('deadline')}: ${fmtDay(target.deadline)}`)),
    progressBar(target.equipped ?? 0, target.total ?? 0, target.requiredCount ?? 0, target.met),
    h(
      'div',
      {},
      verdict(target),
      h('div', { class: 'muted' }, t('equippedOf', { e: target.equipped, t: target.total, r: target.requiredCount })),
      target.operational === null || target.operational === undefined
        ? null
        : h('div', { class: 'muted' }, t('operationalNow', { o: target.operational })),
    ),
  );
}

async function phases(plan) {
  const today = todayInVietnam();
  const definition = await api(`/api/v1/plans/${encodeURIComponent(plan.id)}/coverage${qs({ asOf: today })}`);
  const phaseDeadline = new Map();
  for (const target of definition.targets ?? []) {
    const prev = phaseDeadline.get(target.phase);
    if (!prev || target.deadline > prev) phaseDeadline.set(target.phase, target.deadline);
  }
  const blocks = [];
  for (const [phase, deadline] of phaseDeadline) {
    const asOf = deadline < today ? deadline : today;
    const data = asOf === today ? definition : await api(`/api/v1/plans/${encodeURIComponent(plan.id)}/coverage${qs({ asOf })}`);
    const targets = (data.targets ?? []).filter((x) => x.phase === phase);
    blocks.push(
      h(
        'div',
        { class: 'phase', dataset: { phase } },
        h('h2', {}, `${t('phase')} ${phase}`, h('span', { class: 'muted' }, ` — ${t('judgedAt')} ${fmtDay(asOf)}`)),
        targets.map(targetRow),
      ),
    );
  }
  return blocks;
}

function projectionText(target) {
  const p = target.projection;
  if (!p) return '';
  const vars = {
    rate: fmtNumber(p.ratePerMonth, 2),
    req: p.requiredBy ? fmtDay(p.requiredBy) : t('never'),
    all: p.allBy ? fmtDay(p.allBy) : t('never'),
    deadline: fmtDay(target.deadline),
  };
  switch (p.status) {
    case 'met':
      return t('projMet');
    case 'on_track':
      return t('projOnTrack', vars);
    case 'behind':
      return t('projBehind', vars);
    case 'never':
      return t('projNever', vars);
    default:
      return t('projNoUnits');
  }
}

async function trend(plan) {
  const data = await api(`/api/v1/plans/${encodeURIComponent(plan.id)}/trend`);
  const targets = listOf(data, 'targets');
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
      targets.map((target) =>
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

// The per-commune table a page at a time (a province has thousands of communes); the reports hold them all.
async function communes(plan, offset = 0) {
  const data = await api(`/api/v1/plans/${encodeURIComponent(plan.id)}/communes${qs({ limit: COMMUNES_PAGE, offset })}`);
  const rows = listOf(data, 'communes', 'rows');
  const total = data.total ?? rows.length;
  const box = h('div', { id: 'communes-table' });
  const go = async (next) => box.replaceWith(await communes(plan, next));
  const name = (r) => r.communeName ?? r.commune?.name ?? r.name ?? r.commune;
  const id = (r) => r.communeId ?? r.commune?.id ?? r.id;
  const district = (r) => r.districtName ?? r.district?.name ?? r.district ?? '—';
  const problems = (r) => {
    const p = r.problems ?? {};
    const parts = Object.entries(p).filter(([, n]) => typeof n === 'number' && n > 0);
    return parts.length ? h('span', { class: 'bad' }, parts.map(([k, n]) => `${k}: ${n}`).join(', ')) : '—';
  };
  const view = table(
    [
      { label: t('district'), cell: district },
      { label: t('commune'), cell: (r) => link(`#/site/${encodeURIComponent(id(r))}`, name(r)) },
      { label: t('state'), cell: (r) => (r.communeEquipped ? badge('met', t('equipped')) : badge('notmet', t('notMet'))) },
      { label: t('site'), num: true, cell: (r) => (Array.isArray(r.sites) ? r.sites.length : r.sites) },
      { label: t('devices'), num: true, cell: (r) => r.devices },
      {
        label: `${t('equipped')} / ${t('operational')} / ${t('planned')}`,
        num: true,
        cell: (r) =>
          [r.equipped, r.operational, r.planned].map((v) => (v === null || v === undefined ? '—' : String(v))).join(' / '),
      },
      { label: t('lastSeen'), cell: (r) => fmtTime(r.lastSeen) },
      { label: t('contentSeq'), num: true, cell: (r) => r.contentSeq ?? '—' },
      { label: t('problems'), cell: problems },
    ],
    rows,
  );
  if (total <= rows.length) {
    fill(box, view);
    return box;
  }
  const from = offset + 1;
  const to = offset + rows.length;
  fill(
    box,
    view,
    h(
      'div',
      { class: 'pager' },
      h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - COMMUNES_PAGE)) }, t('prev')),
      h('span', {}, t('pageOf', { from, to, total })),
      h('button', { type: 'button', disabled: to >= total, onclick: () => go(offset + COMMUNES_PAGE) }, t('next')),
    ),
  );
  return box;
}

function reports(plan) {
  const base = qs({ plan: plan.id, asOf: todayInVietnam() });
  return h(
    'p',
    {},
    h('a', { href: `/api/v1/reports/coverage.csv${base}`, download: '', id: 'download-csv', class: 'primary' }, t('downloadCsv')),
    ' · ',
    h('a', { href: `/api/v1/reports/coverage.xlsx${base}`, download: '', id: 'download-xlsx' }, t('downloadXlsx')),
  );
}

export async function renderCoverage(main) {
  const plans = await loadPlans();
  const wanted = new URLSearchParams(location.hash.split('?')[1] ?? '').get('plan');
  const plan = plans.find((p) => p.id === wanted) ?? plans[0];
  if (!plan) {
    fill(main, h('h1', {}, t('coverageTitle')), h('p', { class: 'muted' }, t('noData')));
    return;
  }
  const summary = objectOf(plan, 'plan');
  fill(
    main,
    h('h1', {}, t('coverageTitle')),
    h(
      'p',
      {},
      `${t('plan')}: `,
      h('strong', { id: 'plan-doc' }, `${summary.document ?? summary.id} — ${summary.province ?? ''}`),
    ),
    plans.length > 1
      ? h(
          'p',
          {},
          plans.map((p) => [link(`#/coverage?plan=${encodeURIComponent(p.id)}`, p.document ?? p.id), ' ']),
        )
      : null,
    card(null, () => phases(summary)),
    card(t('trendTitle'), () => trend(summary)),
    card(t('reports'), () => reports(summary)),
    card(t('communesTitle'), () => communes(summary)),
  );
}
