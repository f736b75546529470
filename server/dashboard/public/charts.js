// Inline SVG charts: nothing is loaded from elsewhere, and they print.
import { fmtDay, fmtTime, t } from './i18n.js';
import { h, s } from './ui.js';

const DAY_MS = 86_400_000;
const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);

/** A progress bar with a mark at the required share. */
export function progressBar(value, max, goal, met) {
  const pct = max > 0 ? Math.min(100, (100 * value) / max) : 0;
  const goalPct = max > 0 ? Math.min(100, (100 * goal) / max) : 0;
  return h(
    'div',
    { class: 'bar', role: 'img', 'aria-label': `${value}/${max}` },
    h('div', { class: `fill${met ? ' met' : ''}`, style: `width:${pct}%` }),
    max > 0 ? h('div', { class: 'goal', style: `left:calc(${goalPct}% - 1px)`, title: String(goal) }) : null,
    h('span', { class: 'txt' }, max > 0 ? `${Math.round(pct)}%` : '—'),
  );
}

function axes(w, h0, pad, yMax, yLabel) {
  const g = s('g', {});
  g.append(s('line', { x1: pad.l, y1: h0 - pad.b, x2: w - pad.r, y2: h0 - pad.b, stroke: '#999' }));
  g.append(s('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: h0 - pad.b, stroke: '#999' }));
  for (const frac of [0, 0.5, 1]) {
    const y = h0 - pad.b - frac * (h0 - pad.t - pad.b);
    g.append(s('text', { x: pad.l - 4, y: y + 4, 'text-anchor': 'end' }, String(Math.round(frac * yMax * 10) / 10)));
    if (frac > 0) g.append(s('line', { x1: pad.l, y1: y, x2: w - pad.r, y2: y, stroke: '#eee' }));
  }
  if (yLabel) g.append(s('text', { x: pad.l, y: pad.t - 4 }, yLabel));
  return g;
}

/**
 * One target's trend: equipped units per day, the straight line from the first point to the required count
 * at the deadline, and a dashed horizontal line at the required count.
 */
export function trendChart(target) {
  const points = (target.points ?? []).filter((p) => p && typeof p.day === 'string');
  if (points.length === 0) return h('p', { class: 'muted' }, t('noData'));
  const w = 460;
  const ht = 180;
  const pad = { l: 36, r: 12, t: 16, b: 26 };
  const first = points[0];
  const last = points[points.length - 1];
  const x0 = dayMs(first.day);
  const x1 = Math.max(dayMs(target.deadline ?? last.day), dayMs(last.day), x0 + DAY_MS);
  const required = Number(last.requiredCount ?? 0);
  const yMax = Math.max(1, required, ...points.map((p) => Number(p.total ?? 0)), ...points.map((p) => Number(p.equipped ?? 0)));
  const X = (ms) => pad.l + ((ms - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v) => ht - pad.b - (v / yMax) * (ht - pad.t - pad.b);
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', role: 'img', 'aria-label': target.label ?? '' });
  svg.append(axes(w, ht, pad, yMax, ''));
  svg.append(
    s('line', { x1: pad.l, y1: Y(required), x2: w - pad.r, y2: Y(required), stroke: '#b3261e', 'stroke-dasharray': '4 3' }),
  );
  // The straight line from where the trend starts to the required count on the deadline.
  svg.append(
    s('line', {
      x1: X(x0),
      y1: Y(Number(first.equipped ?? 0)),
      x2: X(dayMs(target.deadline ?? last.day)),
      y2: Y(required),
      stroke: '#b36b00',
      'stroke-width': 1.5,
      class: 'plan-line',
    }),
  );
  const d = points
    .map((p, i) => `${i ? 'L' : 'M'}${X(dayMs(p.day)).toFixed(1)},${Y(Number(p.equipped ?? 0)).toFixed(1)}`)
    .join('');
  svg.append(s('path', { d, fill: 'none', stroke: '#0b4f8a', 'stroke-width': 2, class: 'actual-line' }));
  svg.append(s('text', { x: pad.l, y: ht - 6 }, fmtDay(first.day)));
  svg.append(s('text', { x: w - pad.r, y: ht - 6, 'text-anchor': 'end' }, fmtDay(target.deadline ?? last.day)));
  return svg;
}

/** Time series of one metric; `series` = [{ts, value}] sorted by ts. */
export function lineChart(title, series, options = {}) {
  const w = 340;
  const ht = 150;
  const pad = { l: 34, r: 10, t: 18, b: 22 };
  const wrap = h('figure', { class: 'chart', style: 'margin:0' }, h('figcaption', {}, title));
  const pts = series.filter((p) => Number.isFinite(p.ts) && Number.isFinite(p.value));
  if (pts.length === 0) {
    wrap.append(h('p', { class: 'muted' }, t('noData')));
    return wrap;
  }
  const x0 = options.from ?? pts[0].ts;
  const x1 = Math.max(options.to ?? pts[pts.length - 1].ts, x0 + 1);
  const yMax = options.yMax ?? Math.max(1, ...pts.map((p) => p.value));
  const X = (ms) => pad.l + ((ms - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v) => ht - pad.b - (Math.min(v, yMax) / yMax) * (ht - pad.t - pad.b);
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', role: 'img', 'aria-label': title });
  svg.append(axes(w, ht, pad, yMax, ''));
  if (options.limit) {
    svg.append(
      s('line', {
        x1: pad.l,
        y1: Y(options.limit),
        x2: w - pad.r,
        y2: Y(options.limit),
        stroke: '#b3261e',
        'stroke-dasharray': '3 3',
      }),
    );
  }
  const d = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.ts).toFixed(1)},${Y(p.value).toFixed(1)}`).join('');
  svg.append(s('path', { d, fill: 'none', stroke: '#0b4f8a', 'stroke-width': 1.5 }));
  svg.append(s('text', { x: pad.l, y: ht - 5 }, fmtTime(x0)));
  svg.append(s('text', { x: w - pad.r, y: ht - 5, 'text-anchor': 'end' }, fmtTime(x1)));
  wrap.append(svg);
  return wrap;
}
