import { ok, type Realtime } from '../api';
import { lineChart } from '../charts';
import { h, replace, section } from '../dom';
import { compact, exact, milliseconds, percent } from '../format';
import type { Context } from '../state';
import { cards, countCard } from '../widgets';

export const LIVE_REFRESH_MS = 30_000;

/** The last hour from the realtime endpoint, refreshed every 30 s while the view is shown. */
export function livePanel(ctx: Context): HTMLElement {
  const body = h('div', { class: 'live-body' });
  const stamp = h('span', { class: 'muted', 'aria-live': 'polite', 'data-live-updated': '' });
  const load = () =>
    section(
      body,
      () => ok(ctx.api.GET('/v1/admin/usage/realtime')),
      (hour) => {
        stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`;
        stamp.setAttribute('data-live-updated', hour.to);
        return render(hour, ctx.filters.tz);
      },
    );
  void load();
  const timer = window.setInterval(() => void load(), LIVE_REFRESH_MS);
  ctx.onLeave(() => window.clearInterval(timer));
  return h(
    'div',
    { class: 'live' },
    h('p', { class: 'live-note' }, 'Last 60 minutes, refreshed every 30 seconds. ', stamp),
    body,
  );
}

function render(hour: Realtime, tz: string): Node[] {
  const figures = cards([
    countCard('live-last-minute', 'Requests, last minute', hour.lastMinuteRequests),
    countCard('live-requests', 'Requests, last hour', hour.requests),
    {
      key: 'live-success',
      label: 'Success rate',
      text: hour.successRate === null ? '—' : percent(hour.successRate, 2),
      exactText: String(hour.successRate ?? 'no requests'),
      value: hour.successRate ?? 'null',
    },
    {
      key: 'live-latency',
      label: 'Average latency',
      text: milliseconds(hour.avgDurationMs),
      exactText: hour.avgDurationMs === null ? 'no durations' : `${hour.avgDurationMs} ms`,
      value: hour.avgDurationMs ?? 'null',
    },
    countCard('live-users', 'Active users', hour.activeUsers),
  ]);
  const time = (iso: string) =>
    new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
  const chart = lineChart({
    buckets: hour.minutes.map((m) => m.minuteStart),
    series: [
      { label: 'Requests', values: hour.minutes.map((m) => m.requests) },
      { label: 'Errors', values: hour.minutes.map((m) => m.errors) },
    ],
    title: 'Requests per minute, last hour',
    formatX: time,
    formatY: compact,
    exactY: exact,
  });
  const operations = h(
    'ul',
    { class: 'chips', 'aria-label': 'Operations in the last hour' },
    hour.operations.length === 0
      ? h('li', { class: 'muted' }, 'No requests in the last hour')
      : hour.operations.map((o) =>
          h(
            'li',
            { title: `${exact(o.requests)} requests` },
            `${o.operation ?? 'unspecified'} · ${compact(o.requests)}`,
          ),
        ),
  );
  const wrap = h('div', {});
  replace(wrap, figures, chart, operations);
  return [wrap];
}
