import type { Schemas } from './api';
import { figure, h } from './dom';
import { compact, dateTime, exact, exactMoney, milliseconds, money, percent } from './format';

export interface Card {
  key: string;
  label: string;
  text: string;
  exactText: string;
  value: string | number;
  note?: string;
}

export function cards(items: Card[]): HTMLElement {
  return h(
    'div',
    { class: 'cards' },
    items.map((c) =>
      h(
        'div',
        { class: 'card', 'data-card': c.key },
        h('span', { class: 'card-label' }, c.label),
        figure(c.text, c.exactText, c.value),
        c.note ? h('span', { class: 'card-note' }, c.note) : null,
      ),
    ),
  );
}

export const countCard = (key: string, label: string, n: number, note?: string): Card => ({
  key,
  label,
  text: compact(n),
  exactText: exact(n),
  value: n,
  note,
});

export const costCard = (amount: string | null | undefined): Card => ({
  key: 'cost',
  label: 'Cost',
  text: money(amount),
  exactText: exactMoney(amount),
  value: amount ?? 'null',
});

export const rateCard = (key: string, label: string, ratio: number): Card => ({
  key,
  label,
  text: percent(ratio, 2),
  exactText: String(ratio),
  value: ratio,
});

/** The totals every usage answer carries, as cards. */
export function totalsCards(t: Schemas['UsageTotals'], showCost: boolean, extra: Card[] = []): HTMLElement {
  return cards([
    countCard('requests', 'Requests', t.requests),
    countCard('tokens', 'Tokens', t.totalTokens, `${compact(t.inputTokens)} in · ${compact(t.outputTokens)} out`),
    ...(showCost ? [costCard(t.cost)] : []),
    ...extra,
    rateCard('error-rate', 'Error rate', t.errorRate),
    ...(showCost && t.unpricedRequests !== undefined
      ? [countCard('unpriced', 'Unpriced requests', t.unpricedRequests)]
      : []),
  ]);
}

/** Latest records; the user column for admins, cost where shown. */
export function recordsTable(
  records: Array<Schemas['UsageRecordView']>,
  options: { tz: string; showCost: boolean; showUser: boolean; caption: string },
): HTMLElement {
  const { tz, showCost, showUser } = options;
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0 },
    h(
      'table',
      { class: 'data' },
      h('caption', {}, options.caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Time'),
          showUser ? h('th', { scope: 'col' }, 'User') : null,
          h('th', { scope: 'col' }, 'Model'),
          h('th', { scope: 'col' }, 'Operation'),
          h('th', { scope: 'col', class: 'num' }, 'Tokens'),
          h('th', { scope: 'col', class: 'num' }, 'Duration'),
          h('th', { scope: 'col' }, 'Result'),
          showCost ? h('th', { scope: 'col', class: 'num' }, 'Cost') : null,
        ),
      ),
      h(
        'tbody',
        {},
        records.map((r) =>
          h(
            'tr',
            {},
            h('td', { title: r.occurredAt }, dateTime(r.occurredAt, tz)),
            showUser ? h('td', {}, r.userId) : null,
            h('td', {}, `${r.provider}/${r.model}`),
            h('td', {}, r.operation ?? '—'),
            h(
              'td',
              { class: 'num', title: `${exact(r.inputTokens)} in, ${exact(r.outputTokens)} out` },
              compact(r.totalTokens),
            ),
            h('td', { class: 'num' }, milliseconds(r.durationMs)),
            h('td', {}, r.success ? 'OK' : h('span', { class: 'bad', title: r.error ?? '' }, 'Failed')),
            showCost ? h('td', { class: 'num', title: exactMoney(r.cost) }, money(r.cost)) : null,
          ),
        ),
      ),
    ),
  );
}

export function panel(
  title: string,
  body: HTMLElement,
  options: { id?: string; actions?: HTMLElement } = {},
): HTMLElement {
  const headingId = `${options.id ?? title.toLowerCase().replace(/\W+/g, '-')}-title`;
  return h(
    'section',
    { class: 'panel', id: options.id, 'aria-labelledby': headingId },
    h('div', { class: 'panel-head' }, h('h2', { id: headingId }, title), options.actions ?? null),
    body,
  );
}
