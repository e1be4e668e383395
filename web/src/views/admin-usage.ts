import { ok, type Models, type Providers, type Stats } from '../api';
import { barList, lineChart } from '../charts';
import { controls } from '../controls';
import { empty, h, section } from '../dom';
import { bucketLabel, compact, exact, exactMoney, money } from '../format';
import { usageQuery, type Context } from '../state';
import { countCard, panel, totalsCards } from '../widgets';
import { livePanel } from './live';
import { usersTable } from './users-table';

/** The admin Usage tab. */
export function adminUsage(ctx: Context): HTMLElement {
  const query = usageQuery(ctx.filters);
  const statsBox = h('div', { id: 'stats' });
  const providersBox = h('div', {});
  const modelsBox = h('div', {});
  const operationsBox = h('div', {});

  const stats = ok(ctx.api.GET('/v1/admin/usage/stats', { params: { query } }));
  void section(
    statsBox,
    () => stats,
    (s) => statsCards(ctx, s),
  );
  void section(
    operationsBox,
    () => stats,
    (s) => operations(s),
  );
  void section(
    providersBox,
    () =>
      ok(
        ctx.api.GET('/v1/admin/usage/providers', {
          params: { query: { ...query, granularity: ctx.filters.granularity } },
        }),
      ),
    (p) => providersChart(ctx, p),
  );
  void section(
    modelsBox,
    () => ok(ctx.api.GET('/v1/admin/usage/models', { params: { query: { ...query, limit: 5 } } })),
    (m) => modelBars(ctx, m),
  );

  return h(
    'div',
    { class: 'view' },
    h('h1', {}, 'Usage'),
    controls(ctx, true),
    statsBox,
    panel('Live', livePanel(ctx), { id: 'live' }),
    h(
      'div',
      { class: 'grid-2' },
      panel('Usage by provider', providersBox, { id: 'providers' }),
      panel('Models', modelsBox, { id: 'models' }),
    ),
    panel('Operations', operationsBox, { id: 'operations' }),
    panel('Users', usersTable(ctx), { id: 'users' }),
  );
}

function statsCards(ctx: Context, s: Stats): HTMLElement {
  return totalsCards(s.totals, ctx.config.showCost, [countCard('active-users', 'Active users', s.activeUsers)]);
}

function providersChart(ctx: Context, p: Providers): Node {
  if (p.providers.length === 0)
    return empty('No usage in this range yet. Records sent to POST /v1/usage/records show up here.');
  const buckets = [...new Set(p.series.map((s) => s.bucketStart))];
  const names = p.providers.map((x) => x.provider);
  const tokens = new Map(p.series.map((s) => [`${s.bucketStart} ${s.provider}`, s.totalTokens]));
  const { tz, granularity } = ctx.filters;
  return lineChart({
    buckets,
    series: names.map((name) => ({ label: name, values: buckets.map((b) => tokens.get(`${b} ${name}`) ?? 0) })),
    title: `Tokens by provider per ${granularity}`,
    formatX: (iso) => bucketLabel(iso, tz, granularity),
    formatY: compact,
    exactY: (n) => `${exact(n)} tokens`,
  });
}

function modelBars(ctx: Context, m: Models): Node {
  if (m.models.length === 0) return empty('No models used in this range.');
  const showCost = ctx.config.showCost;
  const bars = m.models.map((x) => ({
    label: `${x.provider}/${x.model}`,
    value: x.totalTokens,
    percentage: x.percentage,
    text: `${compact(x.totalTokens)} tokens${showCost ? ` · ${money(x.cost)}` : ''}`,
    exactText: `${exact(x.totalTokens)} tokens, ${exact(x.requests)} requests${showCost ? `, ${exactMoney(x.cost)}` : ''}`,
  }));
  if (m.others) {
    bars.push({
      label: `Others (${m.others.models} models)`,
      value: m.others.totalTokens,
      percentage: m.others.percentage,
      text: `${compact(m.others.totalTokens)} tokens${showCost ? ` · ${money(m.others.cost)}` : ''}`,
      exactText: `${exact(m.others.totalTokens)} tokens, ${exact(m.others.requests)} requests`,
    });
  }
  return barList(bars, 'Share of tokens by model');
}

function operations(s: Stats): Node {
  const ops = s.operations;
  if (ops.length === 0) return empty('No requests in this range.');
  const total = ops.reduce((n, o) => n + o.requests, 0);
  return barList(
    ops.map((o) => ({
      label: o.operation ?? 'unspecified',
      value: o.requests,
      percentage: total === 0 ? 0 : (o.requests / total) * 100,
      text: `${compact(o.requests)} requests`,
      exactText: `${exact(o.requests)} requests, ${exact(o.totalTokens)} tokens, ${exact(o.errors)} errors`,
    })),
    'Requests by operation',
  );
}
