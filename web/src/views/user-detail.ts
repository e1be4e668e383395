import { ApiError, ok, type UserDetail } from '../api';
import { lineChart } from '../charts';
import { controls } from '../controls';
import { empty, h, section } from '../dom';
import { bucketLabel, compact, dateTime, exact, exactMoney, money } from '../format';
import { usageQuery, type Context } from '../state';
import { countCard, panel, recordsTable, totalsCards } from '../widgets';

/** One user: totals, daily and monthly, models and the latest records. */
export function userDetail(ctx: Context, userId: string): HTMLElement {
  const body = h('div', { class: 'stack' });
  void section(
    body,
    () =>
      ok(
        ctx.api.GET('/v1/admin/usage/users/{userId}', { params: { path: { userId }, query: usageQuery(ctx.filters) } }),
      ).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) throw new Error(`No usage recorded for ${userId}.`);
        throw error;
      }),
    (u) => render(ctx, u),
  );
  return h(
    'div',
    { class: 'view' },
    h('p', {}, h('a', { href: '/', 'data-link': '' }, '← All users')),
    h('h1', {}, `User ${userId}`),
    controls(ctx, false),
    body,
  );
}

function render(ctx: Context, u: UserDetail): Node[] {
  const { tz } = ctx.filters;
  const showCost = ctx.config.showCost;
  const status = h(
    'p',
    { class: 'muted' },
    `${u.status === 'active' ? 'Active' : 'Inactive'} · last active ${dateTime(u.lastActiveAt, tz)}`,
  );
  const daily = lineChart({
    buckets: u.daily.map((d) => d.bucketStart),
    series: [{ label: 'Tokens', values: u.daily.map((d) => d.totalTokens) }],
    title: 'Tokens per day',
    formatX: (iso) => bucketLabel(iso, tz, 'day'),
    formatY: compact,
    exactY: (n) => `${exact(n)} tokens`,
    bars: true,
  });
  const monthly = table(
    'Monthly',
    ['Month', 'Requests', 'Tokens', ...(showCost ? ['Cost'] : [])],
    u.monthly.map((m) => [
      bucketLabel(m.bucketStart, tz, 'month'),
      num(m.requests),
      num(m.totalTokens),
      ...(showCost ? [cost(m.cost)] : []),
    ]),
  );
  const models =
    u.models.length === 0
      ? empty('No models in this range.')
      : table(
          'Models',
          ['Model', 'Requests', 'Input', 'Output', 'Tokens', ...(showCost ? ['Cost'] : [])],
          u.models.map((m) => [
            `${m.provider}/${m.model}`,
            num(m.requests),
            num(m.inputTokens),
            num(m.outputTokens),
            num(m.totalTokens),
            ...(showCost ? [cost(m.cost)] : []),
          ]),
        );
  const recent =
    u.recent.length === 0
      ? empty('No records in this range.')
      : recordsTable(u.recent, { tz, showCost, showUser: false, caption: 'The 50 latest records' });
  return [
    status,
    totalsCards(u.totals, showCost, [countCard('errors', 'Errors', u.totals.errors)]),
    panel('Daily', daily, { id: 'daily' }),
    h(
      'div',
      { class: 'grid-2' },
      panel('Monthly', monthly, { id: 'monthly' }),
      panel('Models', models, { id: 'user-models' }),
    ),
    panel('Latest records', recent, { id: 'recent' }),
  ];
}

const num = (n: number): HTMLElement => h('span', { title: exact(n) }, compact(n));
const cost = (c: string | null | undefined): HTMLElement => h('span', { title: exactMoney(c) }, money(c));

function table(caption: string, headings: string[], rows: Array<Array<string | HTMLElement>>): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0 },
    h(
      'table',
      { class: 'data' },
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headings.map((t, i) => h('th', { scope: 'col', class: i > 0 ? 'num' : undefined }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((cells) =>
          h(
            'tr',
            {},
            cells.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', { class: 'num' }, c))),
          ),
        ),
      ),
    ),
  );
}
