import { ok, type Users } from '../api';
import { empty, h, section } from '../dom';
import { compact, dateTime, exact, exactMoney, money } from '../format';
import { usageQuery, type Context } from '../state';

type Sort = 'userId' | 'requests' | 'totalTokens' | 'cost' | 'usagePercentage' | 'lastActiveAt';

interface TableState {
  search: string;
  sort: Sort;
  order: 'asc' | 'desc';
  status: '' | 'active' | 'inactive';
  page: number;
}

const PAGE_SIZE = 20;

/** Users with search, sort, status filter and pages; a row opens the user's drill-down. */
export function usersTable(ctx: Context): HTMLElement {
  const state: TableState = { search: '', sort: 'totalTokens', order: 'desc', status: '', page: 1 };
  const body = h('div', { class: 'users-body' });
  const load = () =>
    section(
      body,
      () =>
        ok(
          ctx.api.GET('/v1/admin/usage/users', {
            params: {
              query: {
                ...usageQuery(ctx.filters),
                search: state.search || undefined,
                status: state.status || undefined,
                sort: state.sort,
                order: state.order,
                page: state.page,
                pageSize: PAGE_SIZE,
                // the table shows no models: not reading them halves the answer's time
                modelsPerUser: 0,
              },
            },
          }),
        ),
      (users) => render(users),
    );
  let debounce: number | undefined;
  const search = h('input', {
    id: 'user-search',
    type: 'search',
    placeholder: 'Search users',
    'aria-label': 'Search users',
    oninput: (e: Event) => {
      window.clearTimeout(debounce);
      debounce = window.setTimeout(() => {
        state.search = (e.target as HTMLInputElement).value.trim();
        state.page = 1;
        void load();
      }, 250);
    },
  });
  const status = h(
    'select',
    {
      id: 'user-status',
      'aria-label': 'Status',
      onchange: (e: Event) => {
        state.status = (e.target as HTMLSelectElement).value as TableState['status'];
        state.page = 1;
        void load();
      },
    },
    h('option', { value: '' }, 'All users'),
    h('option', { value: 'active' }, 'Active (7 days)'),
    h('option', { value: 'inactive' }, 'Inactive'),
  );

  const columns: Array<{ key: Sort | null; label: string; num?: boolean }> = [
    { key: 'userId', label: 'User' },
    { key: 'requests', label: 'Requests', num: true },
    { key: 'totalTokens', label: 'Tokens', num: true },
    ...(ctx.config.showCost ? [{ key: 'cost' as const, label: 'Cost', num: true }] : []),
    { key: null, label: 'Plan' },
    { key: 'usagePercentage', label: 'Quota used', num: true },
    { key: 'lastActiveAt', label: 'Last active' },
    { key: null, label: 'Status' },
  ];

  function header(): HTMLElement {
    return h(
      'tr',
      {},
      columns.map((c) => {
        if (!c.key) return h('th', { scope: 'col' }, c.label);
        const current = state.sort === c.key;
        return h(
          'th',
          {
            scope: 'col',
            class: c.num ? 'num' : undefined,
            'aria-sort': current ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none',
          },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              'data-sort': c.key,
              onclick: () => {
                if (current) state.order = state.order === 'asc' ? 'desc' : 'asc';
                else {
                  state.sort = c.key!;
                  state.order = c.key === 'userId' ? 'asc' : 'desc';
                }
                state.page = 1;
                void load();
              },
            },
            c.label,
            h(
              'span',
              { class: 'sort-mark', 'aria-hidden': 'true' },
              current ? (state.order === 'asc' ? ' ▲' : ' ▼') : '',
            ),
          ),
        );
      }),
    );
  }

  function render(users: Users): Node[] {
    const pages = Math.max(1, Math.ceil(users.total / PAGE_SIZE));
    const table = h(
      'div',
      { class: 'table-wrap', tabindex: 0 },
      h(
        'table',
        { class: 'data users' },
        h('caption', { class: 'visually-hidden' }, 'Users'),
        h('thead', {}, header()),
        h(
          'tbody',
          {},
          users.items.map((u) =>
            h(
              'tr',
              { 'data-user': u.userId },
              h(
                'th',
                { scope: 'row' },
                h('a', { href: `/users/${encodeURIComponent(u.userId)}`, 'data-link': '' }, u.userId),
              ),
              h('td', { class: 'num', title: exact(u.requests), 'data-value': u.requests }, compact(u.requests)),
              h(
                'td',
                { class: 'num', title: exact(u.totalTokens), 'data-value': u.totalTokens },
                compact(u.totalTokens),
              ),
              ctx.config.showCost ? h('td', { class: 'num', title: exactMoney(u.cost) }, money(u.cost)) : null,
              h('td', {}, u.plan?.name ?? '—'),
              h('td', { class: 'num' }, quota(u.usagePercentage)),
              h('td', { title: u.lastActiveAt }, dateTime(u.lastActiveAt, ctx.filters.tz)),
              h('td', {}, h('span', { class: `badge ${u.status}` }, u.status === 'active' ? 'Active' : 'Inactive')),
            ),
          ),
        ),
      ),
    );
    const pager = h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages of users' },
      h(
        'button',
        { type: 'button', disabled: state.page <= 1, onclick: () => ((state.page -= 1), void load()) },
        'Previous',
      ),
      h('span', { 'data-total': users.total }, `Page ${state.page} of ${pages} · ${exact(users.total)} users`),
      h(
        'button',
        { type: 'button', disabled: state.page >= pages, onclick: () => ((state.page += 1), void load()) },
        'Next',
      ),
    );
    if (users.items.length === 0) {
      return [
        empty(state.search || state.status ? 'No user matches these filters.' : 'No usage in this range yet.'),
        pager,
      ];
    }
    return [table, pager];
  }

  void load();
  return h('div', {}, h('div', { class: 'table-tools' }, search, status), body);
}

function quota(percentage: number | null): HTMLElement | string {
  if (percentage === null) return h('span', { class: 'muted', title: 'unlimited' }, 'Unlimited');
  const level = percentage >= 100 ? 'over' : percentage >= 80 ? 'warn' : 'ok';
  return h(
    'span',
    { class: 'meter-cell', title: `${percentage}% of the current quota period` },
    h(
      'span',
      { class: `meter ${level}`, 'aria-hidden': 'true' },
      h('span', { style: `width:${Math.min(100, percentage)}%` }),
    ),
    `${percentage.toFixed(0)}%`,
  );
}
