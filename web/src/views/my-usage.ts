import { ApiError, ok, type MyUsage, type Quota } from '../api';
import { barList, lineChart } from '../charts';
import { controls } from '../controls';
import { empty, h, section } from '../dom';
import { bucketLabel, compact, dateTime, exact, exactMoney, money } from '../format';
import { usageQuery, type Context } from '../state';
import { panel, recordsTable, totalsCards } from '../widgets';

/** A member's own usage: totals, series, models, latest records and the quota bar. */
export function myUsage(ctx: Context): HTMLElement {
  const query = usageQuery(ctx.filters);
  const { tz, granularity } = ctx.filters;
  const showCost = ctx.config.showCost;
  const totalsBox = h('div', {});
  const seriesBox = h('div', {});
  const modelsBox = h('div', {});
  const quotaBox = h('div', {});
  const recentBox = h('div', {});
  const usage = ok(ctx.api.GET('/v1/me/usage', { params: { query: { ...query, granularity } } }));
  void section(
    totalsBox,
    () => usage,
    (u) => totalsCards(u.totals, showCost),
  );
  void section(
    seriesBox,
    () => usage,
    (u) => series(u, tz, granularity),
  );
  void section(
    modelsBox,
    () => usage,
    (u) => models(u, showCost),
  );
  void section(
    quotaBox,
    () =>
      ok(ctx.api.GET('/v1/me/quota')).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }),
    (q) => quotaBar(q, tz),
  );
  void section(
    recentBox,
    () => ok(ctx.api.GET('/v1/me/activity', { params: { query: { ...query, limit: 20 } } })),
    (a) =>
      a.items.length === 0
        ? empty('No records in this range.')
        : recordsTable(a.items, { tz, showCost, showUser: false, caption: 'Your latest records' }),
  );
  return h(
    'div',
    { class: 'view' },
    h('h1', {}, 'My usage'),
    controls(ctx, true),
    panel('Quota', quotaBox, { id: 'quota' }),
    totalsBox,
    h(
      'div',
      { class: 'grid-2' },
      panel('Over time', seriesBox, { id: 'series' }),
      panel('Models', modelsBox, { id: 'my-models' }),
    ),
    panel('Latest records', recentBox, { id: 'my-recent' }),
  );
}

function series(u: MyUsage, tz: string, granularity: string): Node {
  if (u.totals.requests === 0) return empty('No usage in this range yet.');
  return lineChart({
    buckets: u.series.map((b) => b.bucketStart),
    series: [{ label: 'Tokens', values: u.series.map((b) => b.totalTokens) }],
    title: `Your tokens per ${granularity}`,
    formatX: (iso) => bucketLabel(iso, tz, granularity),
    formatY: compact,
    exactY: (n) => `${exact(n)} tokens`,
  });
}

function models(u: MyUsage, showCost: boolean): Node {
  if (u.models.length === 0) return empty('No models used in this range.');
  return barList(
    u.models.map((m) => ({
      label: `${m.provider}/${m.model}`,
      value: m.totalTokens,
      percentage: m.percentage,
      text: `${compact(m.totalTokens)} tokens${showCost ? ` · ${money(m.cost)}` : ''}`,
      exactText: `${exact(m.totalTokens)} tokens, ${exact(m.requests)} requests${showCost ? `, ${exactMoney(m.cost)}` : ''}`,
    })),
    'Your share of tokens by model',
  );
}

function quotaBar(q: Quota | null, tz: string): Node {
  if (!q) return empty('No plan applies to you yet.');
  const rows: Node[] = [];
  const meter = (label: string, used: string, limit: string, pct: number | null, key: string) =>
    h(
      'div',
      { class: 'quota-row', 'data-quota': key },
      h('span', { class: 'quota-label' }, label),
      h('progress', { max: 100, value: Math.min(100, pct ?? 0), 'aria-label': `${label} used` }),
      h(
        'span',
        { title: `${used} of ${limit}` },
        pct === null ? `${used} · unlimited` : `${used} of ${limit} · ${pct.toFixed(1)}%`,
      ),
    );
  rows.push(
    meter(
      'Tokens',
      compact(q.tokens.used),
      q.tokens.limit === null ? 'unlimited' : compact(q.tokens.limit),
      q.tokens.usagePercentage,
      'tokens',
    ),
  );
  if (q.cost)
    rows.push(
      meter(
        'Cost',
        money(q.cost.used),
        q.cost.limit === null ? 'unlimited' : money(q.cost.limit),
        q.cost.usagePercentage,
        'cost',
      ),
    );
  return h(
    'div',
    { class: `quota ${q.status}` },
    h('p', {}, `Plan ${q.plan.name} (${q.limitType} limit) · resets ${dateTime(q.resetsAt, tz)}`),
    ...rows,
  );
}
