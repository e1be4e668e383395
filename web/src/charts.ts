import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';

/** Colour-blind friendly, readable on white (Okabe–Ito, darkened where too light). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#8a6d00', '#56B4E9', '#555555', '#a0522d'];

export interface LineSeries {
  label: string;
  values: number[];
}

export interface LineChartOptions {
  /** bucket starts as ISO instants */
  buckets: string[];
  series: LineSeries[];
  /** what the y axis counts, for the accessible name */
  title: string;
  formatX: (iso: string) => string;
  formatY: (n: number) => string;
  exactY: (n: number) => string;
  bars?: boolean;
}

/**
 * A uPlot line chart with a legend, a tooltip at the cursor, and the same numbers in a
 * visually hidden table (screen readers, and tests reading the buckets).
 */
export function lineChart(options: LineChartOptions): HTMLElement {
  const { buckets, series, formatX, formatY, exactY } = options;
  const plotHost = h('div', { class: 'plot' });
  const tooltip = h('div', { class: 'tooltip', hidden: true, 'aria-hidden': 'true' });
  const table = dataTable(options);
  const wrap = h(
    'figure',
    { class: 'chart', 'data-buckets': JSON.stringify(buckets) },
    h(
      'div',
      { role: 'img', 'aria-label': `${options.title}, ${series.length} series, ${buckets.length} buckets` },
      plotHost,
    ),
    tooltip,
    table,
  );
  const xs = buckets.map((b) => Date.parse(b) / 1000);
  const data: uPlot.AlignedData = [xs, ...series.map((s) => s.values)];
  const labels = new Map(buckets.map((b) => [Date.parse(b) / 1000, formatX(b)]));
  const build = (width: number) =>
    new uPlot(
      {
        width,
        height: 240,
        scales: {
          x: {
            time: false,
            // bars are centred on their bucket: half a bucket of room at both ends
            range: (_u, min, max) => {
              const pad = options.bars ? (max - min) / Math.max(1, xs.length - 1) / 2 || 0.5 : 0;
              return [min - pad, max + pad];
            },
          },
        },
        legend: { live: true },
        cursor: { points: { size: 7 } },
        axes: [
          {
            values: (_u, splits) => splits.map((x) => labels.get(x) ?? ''),
            splits: () => pickSplits(xs, width),
            stroke: '#333',
            grid: { stroke: '#eee' },
          },
          { values: (_u, splits) => splits.map(formatY), stroke: '#333', grid: { stroke: '#eee' }, size: 60 },
        ],
        series: [
          { label: 'Bucket', value: (_u, x) => (x === null ? '—' : (labels.get(x) ?? '')) },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            points: { show: xs.length < 40 },
            ...(options.bars
              ? { paths: uPlot.paths.bars!({ size: [0.7, 40] }), fill: `${PALETTE[i % PALETTE.length]}55` }
              : {}),
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatY(v)),
          })),
        ],
        hooks: {
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
                tooltip.hidden = true;
                return;
              }
              tooltip.replaceChildren(
                h('strong', {}, formatX(buckets[i]!)),
                ...series.map((s, k) =>
                  h(
                    'div',
                    {},
                    h('span', { class: 'swatch', style: `background:${PALETTE[k % PALETTE.length]}` }),
                    `${s.label}: ${exactY(s.values[i] ?? 0)}`,
                  ),
                ),
              );
              tooltip.hidden = false;
              const left = Math.min(u.cursor.left + 16, u.over.clientWidth - 180);
              tooltip.style.transform = `translate(${Math.max(0, left)}px, ${(u.cursor.top ?? 0) + 8}px)`;
            },
          ],
        },
      },
      data,
      plotHost,
    );
  // drawn once the element is in the page and knows its width; redrawn when that changes
  let plot: uPlot | undefined;
  const observer = new ResizeObserver(() => {
    const width = Math.floor(wrap.clientWidth);
    if (width <= 0) return;
    if (!plot) plot = build(width);
    else plot.setSize({ width, height: 240 });
  });
  observer.observe(wrap);
  return wrap;
}

/** At most one x label per ~90 px. */
function pickSplits(xs: number[], width: number): number[] {
  const room = Math.max(2, Math.floor(width / 90));
  const step = Math.max(1, Math.ceil(xs.length / room));
  return xs.filter((_, i) => i % step === 0);
}

function dataTable({ buckets, series, formatX, exactY, title }: LineChartOptions): HTMLElement {
  return h(
    'div',
    { class: 'visually-hidden' },
    h(
      'table',
      { class: 'chart-data' },
      h('caption', {}, title),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Bucket'), ...series.map((s) => h('th', { scope: 'col' }, s.label))),
      ),
      h(
        'tbody',
        {},
        buckets.map((b, i) =>
          h(
            'tr',
            { 'data-bucket': b },
            h('th', { scope: 'row' }, formatX(b)),
            ...series.map((s) => h('td', {}, exactY(s.values[i] ?? 0))),
          ),
        ),
      ),
    ),
  );
}

export interface Bar {
  label: string;
  value: number;
  percentage: number;
  text: string;
  exactText: string;
}

/** Horizontal bars with their share: the model distribution. */
export function barList(bars: Bar[], title: string): HTMLElement {
  return h(
    'ul',
    { class: 'bars', 'aria-label': title },
    bars.map((bar, i) =>
      h(
        'li',
        { title: `${bar.label}: ${bar.exactText}`, 'data-label': bar.label },
        h('span', { class: 'bar-label' }, bar.label),
        h(
          'span',
          { class: 'bar-track', 'aria-hidden': 'true' },
          h('span', {
            class: 'bar-fill',
            style: `width:${Math.max(0.5, Math.min(100, bar.percentage))}%;background:${PALETTE[i % PALETTE.length]}`,
          }),
        ),
        h('span', { class: 'bar-value' }, `${bar.text} · ${bar.percentage.toFixed(1)}%`),
      ),
    ),
  );
}
