/** Inline SVG charts: nothing is loaded from elsewhere, and they print. */

import type { TargetTrendOut } from '../../protocol/api-dashboard.js';
import { fmtDay, fmtTime, t } from './i18n.js';
import { h, s } from './ui.js';

const DAY_MS = 86_400_000;
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** A progress bar with a mark at the required share. */
export function progressBar(value: number, max: number, goal: number, met: boolean): HTMLElement {
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

interface Pad {
  l: number;
  r: number;
  t: number;
  b: number;
}

function axes(w: number, h0: number, pad: Pad, yMax: number): SVGGElement {
  const g = s('g', {});
  g.append(s('line', { x1: pad.l, y1: h0 - pad.b, x2: w - pad.r, y2: h0 - pad.b, stroke: '#999' }));
  g.append(s('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: h0 - pad.b, stroke: '#999' }));
  for (const frac of [0, 0.5, 1]) {
    const y = h0 - pad.b - frac * (h0 - pad.t - pad.b);
    g.append(s('text', { x: pad.l - 4, y: y + 4, 'text-anchor': 'end' }, String(Math.round(frac * yMax * 10) / 10)));
    if (frac > 0) g.append(s('line', { x1: pad.l, y1: y, x2: w - pad.r, y2: y, stroke: '#eee' }));
  }
  return g;
}

/**
 * One target's trend: equipped units per day, the straight line from the first point to the required count at the
 * deadline, and a dashed horizontal line at the required count.
 */
export function trendChart(target: TargetTrendOut): Element {
  const points = target.points;
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return h('p', { class: 'muted' }, t('noData'));
  const w = 460;
  const ht = 180;
  const pad = { l: 36, r: 12, t: 16, b: 26 };
  const x0 = dayMs(first.day);
  const x1 = Math.max(dayMs(target.deadline), dayMs(last.day), x0 + DAY_MS);
  const required = last.requiredCount;
  const yMax = Math.max(1, required, ...points.map((p) => p.total), ...points.map((p) => p.equipped));
  const X = (ms: number) => pad.l + ((ms - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v: number) => ht - pad.b - (v / yMax) * (ht - pad.t - pad.b);
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', role: 'img', 'aria-label': target.label });
  svg.append(axes(w, ht, pad, yMax));
  svg.append(
    s('line', { x1: pad.l, y1: Y(required), x2: w - pad.r, y2: Y(required), stroke: '#b3261e', 'stroke-dasharray': '4 3' }),
  );
  svg.append(
    s('line', {
      x1: X(x0),
      y1: Y(first.equipped),
      x2: X(dayMs(target.deadline)),
      y2: Y(required),
      stroke: '#b36b00',
      'stroke-width': 1.5,
      class: 'plan-line',
    }),
  );
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${X(dayMs(p.day)).toFixed(1)},${Y(p.equipped).toFixed(1)}`).join('');
  svg.append(s('path', { d, fill: 'none', stroke: '#0b4f8a', 'stroke-width': 2, class: 'actual-line' }));
  svg.append(s('text', { x: pad.l, y: ht - 6 }, fmtDay(first.day)));
  svg.append(s('text', { x: w - pad.r, y: ht - 6, 'text-anchor': 'end' }, fmtDay(target.deadline)));
  return svg;
}

export interface SeriesPoint {
  ts: number;
  value: number;
}

/** Time series of one metric, sorted by ts. */
export function lineChart(
  title: string,
  series: SeriesPoint[],
  options: { from?: number; to?: number; yMax?: number; limit?: number } = {},
): HTMLElement {
  const w = 340;
  const ht = 150;
  const pad = { l: 34, r: 10, t: 18, b: 22 };
  const wrap = h('figure', { class: 'chart', style: 'margin:0' }, h('figcaption', {}, title));
  const pts = series.filter((p) => Number.isFinite(p.ts) && Number.isFinite(p.value));
  const firstPt = pts[0];
  const lastPt = pts[pts.length - 1];
  if (!firstPt || !lastPt) {
    wrap.append(h('p', { class: 'muted' }, t('noData')));
    return wrap;
  }
  const x0 = options.from ?? firstPt.ts;
  const x1 = Math.max(options.to ?? lastPt.ts, x0 + 1);
  const yMax = options.yMax ?? Math.max(1, ...pts.map((p) => p.value));
  const X = (ms: number) => pad.l + ((ms - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v: number) => ht - pad.b - (Math.min(v, yMax) / yMax) * (ht - pad.t - pad.b);
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', role: 'img', 'aria-label': title });
  svg.append(axes(w, ht, pad, yMax));
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

const LANG_COLOURS = ['#0b4f8a', '#b36b00', '#1b7f3b', '#8e24aa', '#b3261e', '#00838f', '#5d4037', '#546e7a', '#c2185b'];

/** Bars per day, one colour per language (views of an item). */
export function dailyBars(rows: Array<{ day: string; lang: string; views: number }>, langName: (tag: string) => string): Element {
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const langs = [...new Set(rows.map((r) => r.lang))].sort();
  if (days.length === 0) return h('p', { class: 'muted', id: 'plays-none' }, t('noData'));
  const w = 520;
  const ht = 180;
  const pad = { l: 34, r: 10, t: 16, b: 26 };
  const yMax = Math.max(1, ...days.map((d) => rows.filter((r) => r.day === d).reduce((a, r) => a + r.views, 0)));
  const slot = (w - pad.l - pad.r) / days.length;
  const Y = (v: number) => ((ht - pad.t - pad.b) * v) / yMax;
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, width: '100%', id: 'plays-chart', role: 'img', 'aria-label': t('plays') });
  svg.append(axes(w, ht, pad, yMax));
  days.forEach((day, i) => {
    let base = ht - pad.b;
    for (const [li, lang] of langs.entries()) {
      const views = rows.filter((r) => r.day === day && r.lang === lang).reduce((a, r) => a + r.views, 0);
      if (!views) continue;
      const hgt = Y(views);
      base -= hgt;
      svg.append(
        s(
          'rect',
          {
            x: (pad.l + i * slot + slot * 0.15).toFixed(1),
            y: base.toFixed(1),
            width: (slot * 0.7).toFixed(1),
            height: hgt.toFixed(1),
            fill: LANG_COLOURS[li % LANG_COLOURS.length] as string,
            dataset: { day, lang, views: String(views) },
          },
          s('title', {}, `${fmtDay(day)} · ${langName(lang)}: ${views}`),
        ),
      );
    }
    if (days.length <= 14 || i === 0 || i === days.length - 1)
      svg.append(s('text', { x: pad.l + i * slot + slot / 2, y: ht - 6, 'text-anchor': 'middle' }, fmtDay(day).slice(0, 5)));
  });
  const legend = h(
    'p',
    { class: 'legend' },
    langs.map((lang, li) =>
      h('span', {}, h('i', { style: `background:${LANG_COLOURS[li % LANG_COLOURS.length]}` }), langName(lang)),
    ),
  );
  return h('div', {}, svg, legend);
}
